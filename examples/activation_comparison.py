"""Which activation? The same network trained once per hidden activation
=====================================================================

The two-moons data (300 points, noise 0.2) are classified by a network with
16 hidden units, trained by Adam in mini-batches of 32 from the same random
seed; only the hidden activation changes, through every activation the
estimators accept (scikit-learn's four and the six others). Each network gets
the same budget of epochs, so the loss curves can be compared epoch for
epoch.

What to look for: every network first sits on a plateau (loss ≈ 0.3) before
it bends its boundary round the moons. The plateau is the best straight-line
boundary, which is all that identity units, keeping the network linear, ever
reach. The ReLU-like units (relu, leaky_relu, elu, gelu, silu, mish) and tanh
leave it first. softplus and logistic leave it last: their units start at
f(0) > 0 (log 2 and ½) and the logistic's slope is at most ¼, so their
gradients are smaller.

Run it with::

    python examples/activation_comparison.py            # loss per activation, curves
    python examples/activation_comparison.py --quick    # fewer epochs
"""

import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier

# Every activation the estimators accept, from the engine's table, which also
# says which are scikit-learn's (``in_sklearn``).
from sknn_scratch._reference._activations import ACTIVATIONS

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

TARGET_LOSS = 0.15
X, y = make_moons(300, noise=0.2, random_state=0)
epochs = 300 if QUICK else 800

# %%
# One network per activation
# --------------------------
# Every network trains for exactly ``epochs`` epochs: ``n_iter_no_change``
# beyond them turns early stopping off, which a fair comparison needs (the
# stopping rule would otherwise take the logistic network's plateau for
# convergence). Running out of epochs is then the plan, not a sign of
# trouble, so the "maximum iterations reached" ConvergenceWarning is silenced
# on purpose.
models = {}
for name in ACTIVATIONS:
    model = ScratchMLPClassifier(
        hidden_layer_sizes=(16,),
        activation=name,
        solver="adam",
        learning_rate_init=0.01,
        batch_size=32,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models[name] = model.fit(X, y)

print(f"two moons, {len(X)} points; 16 hidden units, Adam, {epochs} epochs each")
print(f"activation  iterations  final loss  epochs to loss<{TARGET_LOSS}  accuracy")
for name, model in models.items():
    below = np.flatnonzero(np.array(model.loss_curve_) < TARGET_LOSS)
    reached = str(below[0] + 1) if below.size else "never"
    print(
        f"{name:10}  {model.n_iter_:10d}  {model.loss_:10.4f}  "
        f"{reached:>19}  {model.score(X, y):8.3f}"
    )

# %%
# The loss curves
# ---------------
# scikit-learn's activations solid, the others dashed.
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, model in models.items():
    style = "-" if ACTIVATIONS[name].in_sklearn else "--"
    ax.plot(
        np.arange(1, model.n_iter_ + 1), model.loss_curve_, style, lw=1.2, label=name
    )
ax.axhline(TARGET_LOSS, color="grey", lw=0.5, ls=":")
ax.set(
    xlabel="epoch",
    ylabel="training log-loss",
    yscale="log",
    title="Two moons, 16 hidden units, Adam",
)
ax.legend(title="hidden activation", ncols=2, fontsize=8, title_fontsize=8)
plt.show()
