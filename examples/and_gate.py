"""Logical AND learned by a single logistic unit
=============================================

With ``hidden_layer_sizes=()`` the network has no hidden layer: the two inputs
feed one logistic output directly, so the model is p = σ(w1·x1 + w2·x2 + b),
a logistic regression trained by backpropagation. AND is linearly separable,
so this is enough: training drives b negative and w1, w2 positive, with
w1 + w2 + b > 0 only for the input (1, 1).

The network is trained one epoch at a time with ``partial_fit`` (full-batch
gradient descent on the four rows of the truth table), and the weights are
recorded after every epoch to show how they move.

Run it with::

    python examples/and_gate.py            # train, print the truth table, draw the weights
    python examples/and_gate.py --quick    # fewer epochs
"""

import sys

import matplotlib.pyplot as plt
import numpy as np

from sknn_scratch import ScratchMLPClassifier

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 0, 0, 1])

# %%
# Train
# -----
# Plain gradient descent on the whole truth table, one ``partial_fit`` call
# (here one step) per epoch. The first call draws the initial weights and
# needs every class the data can have.
model = ScratchMLPClassifier(
    hidden_layer_sizes=(),
    solver="sgd",
    batch_size=4,  # the whole truth table in every step
    learning_rate_init=1.0,
    momentum=0.0,  # plain gradient descent: the trajectory is easy to read
    alpha=0.0,  # no weight decay: nothing holds the weights back
    random_state=0,
)
history = []  # w1, w2 and b after each epoch
for _ in range(300 if QUICK else 1000):
    model.partial_fit(X, y, classes=[0, 1])
    # coefs_[0] is the (2, 1) input-to-output matrix, intercepts_[0] the bias
    history.append([*model.coefs_[0].ravel(), model.intercepts_[0][0]])
history = np.array(history)

predicted = model.predict(X)
probability = model.predict_proba(X)[:, 1]
print(f"AND gate, no hidden layer, {len(history)} epochs of gradient descent")
print("x1  x2  target  predicted  P(1)")
for (x1, x2), target, pred, p in zip(X, y, predicted, probability, strict=True):
    print(f"{x1:2.0f}  {x2:2.0f}  {target:6d}  {pred:9d}  {p:.4f}")
w1, w2, b = history[-1]
print(f"weights: w1 = {w1:.4f}, w2 = {w2:.4f}; bias: b = {b:.4f}")
print(f"final loss: {model.loss_:.5f}")

# %%
# How the weights moved
# ---------------------
# Most of the movement happens in the first epochs, hence the log scale. w1
# and w2 end up equal (AND is symmetric): w2 is dotted to show both.
epochs = np.arange(1, len(history) + 1)
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for column, name, style in zip(range(3), ("$w_1$", "$w_2$", "$b$"), "-:-", strict=True):
    ax.plot(epochs, history[:, column], style, label=name, lw=2)
ax.axhline(0, color="grey", lw=0.5)
ax.set_xscale("log")
ax.set(xlabel="epoch", ylabel="value", title="AND gate: weights during training")
ax.legend()
plt.show()
