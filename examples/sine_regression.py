"""Curve fitting: a 1-6-1 tanh network regresses a wavy line
=========================================================

The target is f(x) = x + 0.3·sin(2πx) on [0, 1]; the 100 training points are
f(x) plus noise drawn uniformly from [-0.1, 0.1]. ``ScratchMLPRegressor`` with
six tanh hidden units and a linear output fits it with L-BFGS, the solver of
choice for a small data set and a smooth loss: it needs no learning rate and
reaches a tight minimum in about a hundred iterations.

Two R² scores are printed: against the noise-free curve (how well the network
found f) and against the noisy training data (how much of the variance it
explains; the noise caps this below 1).

Run it with::

    python examples/sine_regression.py            # fit, print R², draw the fit
    python examples/sine_regression.py --quick    # a looser tolerance
"""

import sys

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import r2_score

from sknn_scratch import ScratchMLPRegressor

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests


def curve(x: np.ndarray) -> np.ndarray:
    """The noise-free target f(x) = x + 0.3·sin(2πx)."""
    return x + 0.3 * np.sin(2 * np.pi * x)


rng = np.random.default_rng(0)
x_train = np.sort(rng.uniform(0, 1, 100))
X = x_train.reshape(-1, 1)
t = curve(x_train) + rng.uniform(-0.1, 0.1, len(x_train))

# %%
# Fit
# ---
# A looser tolerance (``--quick``) stops earlier; both settings converge well
# within ``max_iter``, so neither warns.
model = ScratchMLPRegressor(
    hidden_layer_sizes=(6,),
    activation="tanh",
    solver="lbfgs",
    tol=1e-4 if QUICK else 1e-6,
    max_iter=5000,
    random_state=0,
).fit(X, t)

x = np.linspace(0, 1, 200)
r2_curve = r2_score(curve(x), model.predict(x.reshape(-1, 1)))
print(f"{len(t)} noisy points of x + 0.3 sin(2 pi x), noise uniform in ±0.1")
print(f"lbfgs: {model.n_iter_} iterations, final loss {model.loss_:.5f}")
print(f"R² against the noise-free curve: {r2_curve:.4f}")
print(f"R² against the training data:    {model.score(X, t):.4f}")

# %%
# The data, the true curve and the network's fit
# ----------------------------------------------
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.scatter(X[:, 0], t, s=10, c="grey", label="data")
ax.plot(x, curve(x), "k--", lw=1, label="$x + 0.3\\sin 2\\pi x$")
ax.plot(x, model.predict(x.reshape(-1, 1)), c="C3", lw=2, label="network")
ax.set(xlabel="x", ylabel="y", title="1-6-1 tanh network, L-BFGS")
ax.legend(fontsize=8)
plt.show()
