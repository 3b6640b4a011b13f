"""Quantile regression: a prediction band whose width follows the noise
====================================================================

The target is sin(2πx) on [0, 1] plus Gaussian noise whose standard deviation
grows from 0.1 at x = 0 to 0.7 at x = 1. A squared-error fit would give the
mean and say nothing about the spread; ``loss="quantile"`` trains a network
for quantiles of the target instead (the pinball loss, as in scikit-learn's
``HistGradientBoostingRegressor``). Given the three quantiles q = 0.05, 0.5
and 0.95 at once, one network learns them all: it has an output per
quantile, each trained with its own pinball loss, and ``predict`` returns
them sorted, so that the median and the 90% band around it never cross.

The pinball loss is piecewise linear, and L-BFGS assumes a smooth loss: it
may stop early, judging that a step gains too little. The script prints how
many iterations it ran (a few hundred here) so that an early stop would show.

The script prints, for each quantile, the share of fresh points, held out
from training, that fall below its curve (close to q when the quantile is
right), the share that the band holds (close to 0.90), and the band's width
where the noise is small and where it is large.

Run it with::

    python examples/quantile_regression.py            # fit, print, draw
    python examples/quantile_regression.py --quick    # fewer training points
"""

import sys

import matplotlib.pyplot as plt
import numpy as np

from sknn_scratch import ScratchMLPRegressor

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

QUANTILES = (0.05, 0.5, 0.95)


def noise_scale(x: np.ndarray) -> np.ndarray:
    """Standard deviation of the noise: 0.1 at x = 0, growing to 0.7 at x = 1."""
    return 0.1 + 0.6 * x


def make_data(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points x uniform on [0, 1], targets sin(2πx) plus growing Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n_samples)
    y = np.sin(2 * np.pi * x) + noise_scale(x) * rng.normal(size=n_samples)
    return x.reshape(-1, 1), y


n_samples = 400 if QUICK else 1000
X, y = make_data(n_samples, seed=0)
X_new, y_new = make_data(5000, seed=1)  # held out: never trained on

# %%
# One network for the three quantiles
# -----------------------------------
# A 1-16-3 tanh network: ``predict`` gives one column per quantile, in the
# order of ``quantile``.
model = ScratchMLPRegressor(
    loss="quantile",
    quantile=QUANTILES,
    hidden_layer_sizes=(16,),
    activation="tanh",
    solver="lbfgs",
    tol=1e-6,
    max_iter=2000,  # converges in a few hundred: no ConvergenceWarning
    random_state=0,
).fit(X, y)
predicted = model.predict(X_new)  # shape (5000, 3)

print(
    f"{n_samples} points of sin(2 pi x) plus Gaussian noise, standard "
    "deviation 0.1 + 0.6 x"
)
print(f"one network for the quantiles {QUANTILES}: {model.n_iter_} iterations")
print("quantile  below its curve (5000 fresh points)")
for k, q in enumerate(QUANTILES):
    below = np.mean(y_new <= predicted[:, k])
    print(f"{q:8.2f}  {below:.3f}")

# %%
# The band
# --------
low, high = predicted[:, 0], predicted[:, -1]
inside = np.mean((low <= y_new) & (y_new <= high))
nominal = QUANTILES[-1] - QUANTILES[0]
print(f"the band holds {inside:.3f} of the fresh points (nominal {nominal:.2f})")
width_at = np.array([[0.1], [0.9]])  # where the noise is small, and large
at = model.predict(width_at)
widths = at[:, -1] - at[:, 0]
true_widths = 2 * 1.6449 * noise_scale(width_at[:, 0])  # ±z_0.95 σ
for x, width, truth in zip(width_at[:, 0], widths, true_widths, strict=True):
    print(f"band width at x = {x}: {width:.2f} (noise alone: {truth:.2f})")

x = np.linspace(0, 1, 200).reshape(-1, 1)
curves = model.predict(x)
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.scatter(X[:, 0], y, s=6, c="grey", linewidths=0, label="data")
ax.fill_between(
    x[:, 0],
    curves[:, 0],
    curves[:, -1],
    color="C0",
    alpha=0.25,
    label=f"q = {QUANTILES[0]} to {QUANTILES[-1]}",
)
ax.plot(x[:, 0], curves[:, 1], c="C3", lw=2, label="q = 0.5")
ax.set(xlabel="x", ylabel="y", title="One quantile network, noise growing with x")
ax.legend(fontsize=8, loc="lower left")
plt.show()
