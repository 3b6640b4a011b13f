"""XOR on the plane: four quadrants, four tanh hidden units
========================================================

1000 points are drawn uniformly on the square [-1, 1]²; a point is labelled 1
when x1·x2 > 0 (first and third quadrants) and 0 otherwise. No straight line
separates the classes, so the network needs its hidden layer: four tanh units
are enough to carve out the quadrants.

Before training, the script checks backpropagation with
``sknn_scratch.check_gradients``: it compares the gradient the engine computes
with central finite differences,

    ∂E/∂θ_i ≈ (E(θ + ε e_i) - E(θ - ε e_i)) / 2ε,

for every weight and bias of the freshly initialised network, and prints the
largest error relative to the gradient's scale (above 1e-6 would mean a wrong
gradient). Then it trains the classifier and reports its accuracy on the
training points and on fresh points.

Run it with::

    python examples/xor_quadrants.py            # gradient check, train, draw
    python examples/xor_quadrants.py --quick    # fewer points, a looser tolerance
"""

import sys

import matplotlib.pyplot as plt
import numpy as np

from sknn_scratch import ScratchMLPClassifier, check_gradients

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests


def make_data(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points on [-1, 1]², labelled 1 in the first and third quadrants."""
    X = np.random.default_rng(seed).uniform(-1, 1, size=(n_samples, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


n_samples = 400 if QUICK else 1000
X, y = make_data(n_samples, seed=0)
X_new, y_new = make_data(n_samples, seed=1)

# %%
# Check the gradient, then train
# ------------------------------
# L-BFGS on the full data converges in a few hundred iterations here;
# ``max_iter`` leaves it room, so no ConvergenceWarning. The unfitted model is
# checked at the weights its ``random_state`` draws; the check includes the
# classifier's default L2 penalty (``alpha``).
hidden = 4
model = ScratchMLPClassifier(
    hidden_layer_sizes=(hidden,),
    activation="tanh",
    solver="lbfgs",
    alpha=1e-4,
    tol=1e-3 if QUICK else 1e-4,
    max_iter=2000,
    random_state=0,
)
error = check_gradients(model, X, y, max_params=None)
n_params = (2 + 1) * hidden + (hidden + 1) * 1  # weights and biases
print(f"{n_samples} points, {y.sum()} in class 1")
print(
    f"gradient check: {n_params} parameters, finite differences vs backprop, "
    f"largest error = {error:.2e} of the gradient's scale"
)

model.fit(X, y)
print(f"trained with lbfgs: {model.n_iter_} iterations, loss {model.loss_:.4f}")
print(f"accuracy on the training points: {model.score(X, y):.3f}")
print(f"accuracy on {n_samples} fresh points: {model.score(X_new, y_new):.3f}")

# %%
# The probability surface
# -----------------------
x1, x2 = np.meshgrid(np.linspace(-1, 1, 150), np.linspace(-1, 1, 150))
p = model.predict_proba(np.column_stack([x1.ravel(), x2.ravel()]))[:, 1]

fig, ax = plt.subplots(figsize=(4.6, 3.8), layout="constrained")
filled = ax.contourf(
    x1, x2, p.reshape(x1.shape), levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.4
)
fig.colorbar(filled, ax=ax, label="P(class 1)")
# dark dots on the pale surface
colors = np.where(y == 1, "#08306b", "#67000d")
ax.scatter(X[:, 0], X[:, 1], c=colors, s=4, linewidths=0)
ax.set(
    xlabel="$x_1$",
    ylabel="$x_2$",
    title="Quadrant XOR, 4 tanh hidden units",
    aspect="equal",
)
plt.show()
