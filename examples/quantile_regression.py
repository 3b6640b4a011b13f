"""Quantile regression: a prediction band whose width follows the noise
====================================================================

The target is sin(2πx) on [0, 1] plus Gaussian noise whose standard deviation
grows from 0.1 at x = 0 to 0.7 at x = 1. A squared-error fit would give the
mean and say nothing about the spread; ``loss="quantile"`` trains a network
for one quantile q of the target instead (the pinball loss, as in
scikit-learn's ``HistGradientBoostingRegressor``). Three networks, for
q = 0.05, 0.5 and 0.95, draw the median and a 90% band around it.

L-BFGS is the solver of choice for a small data set, but it assumes a smooth
loss, and the pinball loss is piecewise linear: from random weights it may
stop after a dozen iterations, judging that a step gains too little. Started
from a squared-error fit of the same network (``warm_start=True``), each
quantile network only has to move its curve, and L-BFGS does that reliably.

The script prints, for each network, the share of fresh points that fall
below its curve (close to q when the quantile is right), the share that the
band holds (close to 0.90), and the band's width where the noise is small and
where it is large.

Run it with::

    python examples/quantile_regression.py            # fit the three, print, draw
    python examples/quantile_regression.py --quick    # fewer training points
"""

import copy
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
X_new, y_new = make_data(5000, seed=1)

# %%
# One network per quantile
# ------------------------
# Each is a 1-16-1 tanh network started from the squared-error fit (the mean
# curve): ``warm_start=True`` makes the next fit continue from its weights.
mean_fit = ScratchMLPRegressor(
    hidden_layer_sizes=(16,),
    activation="tanh",
    solver="lbfgs",
    tol=1e-6,
    max_iter=2000,  # converges in a few hundred: no ConvergenceWarning
    warm_start=True,
    random_state=0,
).fit(X, y)
models = {
    q: copy.deepcopy(mean_fit).set_params(loss="quantile", quantile=q).fit(X, y)
    for q in QUANTILES
}

print(
    f"{n_samples} points of sin(2 pi x) plus Gaussian noise, standard "
    "deviation 0.1 + 0.6 x"
)
print("quantile  iterations  below the curve (5000 fresh points)")
for q, model in models.items():
    below = np.mean(y_new <= model.predict(X_new))
    print(f"{q:8.2f}  {model.n_iter_:10d}  {below:.3f}")

# %%
# The band
# --------
low, high = models[QUANTILES[0]], models[QUANTILES[-1]]
inside = np.mean((low.predict(X_new) <= y_new) & (y_new <= high.predict(X_new)))
nominal = QUANTILES[-1] - QUANTILES[0]
print(f"the band holds {inside:.3f} of the fresh points (nominal {nominal:.2f})")
width_at = np.array([[0.1], [0.9]])  # where the noise is small, and large
widths = high.predict(width_at) - low.predict(width_at)
true_widths = 2 * 1.6449 * noise_scale(width_at[:, 0])  # ±z_0.95 σ
for x, width, truth in zip(width_at[:, 0], widths, true_widths, strict=True):
    print(f"band width at x = {x}: {width:.2f} (noise alone: {truth:.2f})")

x = np.linspace(0, 1, 200).reshape(-1, 1)
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.scatter(X[:, 0], y, s=6, c="grey", linewidths=0, label="data")
ax.fill_between(
    x[:, 0],
    low.predict(x),
    high.predict(x),
    color="C0",
    alpha=0.25,
    label=f"q = {QUANTILES[0]} to {QUANTILES[-1]}",
)
ax.plot(x[:, 0], models[0.5].predict(x), c="C3", lw=2, label="q = 0.5")
ax.set(xlabel="x", ylabel="y", title="Quantile networks, noise growing with x")
ax.legend(fontsize=8, loc="lower left")
plt.show()
