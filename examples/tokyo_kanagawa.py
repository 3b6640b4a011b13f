"""Tokyo or Kanagawa? A 2-2-1 logistic network trained online
==========================================================

Given a point's latitude and longitude, decide on which side of a border it
lies. The network is the smallest one that can learn a bent border: two
inputs, two logistic hidden units and one logistic output, trained online
(one sample per step, ``batch_size=1``) by plain stochastic gradient descent
with learning rate 0.3 and no momentum: backpropagation in its textbook form.

The data are SYNTHETIC. The "border" is a made-up line with a kink at
longitude 138.0 (latitude ``35.0 + 0.6·|longitude - 138.0|``, "Tokyo" to
the north) and the training points are drawn at random on either side of it. It
is not the real boundary between Tokyo and Kanagawa, which lies about 1.5°
further east.
Two hidden units are exactly what the kink needs: each learns one straight
half of the border, and the output combines them.

Run it with::

    python examples/tokyo_kanagawa.py            # train, classify, draw the regions
    python examples/tokyo_kanagawa.py --quick    # fewer training points
"""

import sys

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

# %%
# The synthetic map
# -----------------
# Random points in a rectangle of the map, labelled by the kinked border.
# Points closer than 0.03° (in latitude) to the border are dropped, so that
# the two classes are separated by a thin empty strip, as in a hand-made
# training set.
LATITUDES = (34.4, 35.6)
LONGITUDES = (137.4, 138.6)


def border_latitude(longitude: np.ndarray) -> np.ndarray:
    """Latitude of the synthetic border at each longitude (a kinked line)."""
    return 35.0 + 0.6 * np.abs(longitude - 138.0)


def true_labels(points: np.ndarray) -> np.ndarray:
    """Tokyo north of the synthetic border, Kanagawa south."""
    north = points[:, 0] > border_latitude(points[:, 1])
    return np.where(north, "Tokyo", "Kanagawa")


n_samples = 100 if QUICK else 200
rng = np.random.default_rng(0)
X = np.empty((0, 2))
while len(X) < n_samples:
    candidates = np.column_stack(
        [rng.uniform(*LATITUDES, n_samples), rng.uniform(*LONGITUDES, n_samples)]
    )
    gap = np.abs(candidates[:, 0] - border_latitude(candidates[:, 1]))
    X = np.vstack([X, candidates[gap > 0.03]])
X = X[:n_samples]
y = true_labels(X)

# %%
# The 2-2-1 network
# -----------------
# Raw coordinates sit near (35, 138): every logistic unit would start
# saturated and a step of 0.3 on inputs that large overshoots, so the inputs
# are standardised first. ``momentum=0`` makes each step the textbook
# w ← w - 0.3 ∂E/∂w on one sample; scikit-learn's default momentum of 0.9
# would multiply the effective step by up to ten. Training stops once the
# epoch loss has not improved by ``tol`` for ten epochs, well before
# ``max_iter``.
network = ScratchMLPClassifier(
    hidden_layer_sizes=(2,),
    activation="logistic",
    solver="sgd",
    batch_size=1,
    learning_rate_init=0.3,
    momentum=0.0,
    max_iter=1000,
    random_state=0,
)
model = Pipeline([("scale", StandardScaler()), ("mlp", network)]).fit(X, y)

print("SYNTHETIC data: a made-up kinked border, not real geography.")
print(f"training points: {len(X)} ({(y == 'Tokyo').sum()} Tokyo)")
print(f"epochs: {network.n_iter_}, final loss: {network.loss_:.4f}")
print(f"training accuracy: {model.score(X, y):.3f}")

# %%
# Points to classify
# ------------------
# (latitude, longitude) pairs on either side of the border, some close to it.
QUERY_POINTS = np.array(
    [
        (34.6, 138.0),
        (34.6, 138.18),
        (35.4, 138.0),
        (34.98, 138.1),
        (35.0, 138.25),
        (35.4, 137.6),
        (34.98, 137.52),
        (34.5, 138.5),
        (35.4, 138.1),
    ]
)
print("query points (P = probability of Tokyo):")
print("  latitude  longitude  label     P      border says")
labels = model.predict(QUERY_POINTS)
# classes_ is sorted, ["Kanagawa", "Tokyo"]: column 1 is P(Tokyo)
probabilities = model.predict_proba(QUERY_POINTS)[:, 1]
for (lat, lon), label, p, truth in zip(
    QUERY_POINTS, labels, probabilities, true_labels(QUERY_POINTS), strict=True
):
    print(f"  {lat:8.2f}  {lon:9.2f}  {label:8}  {p:.3f}  {truth}")

# %%
# The decision regions
# --------------------
lat, lon = np.meshgrid(np.linspace(*LATITUDES, 200), np.linspace(*LONGITUDES, 200))
grid = np.column_stack([lat.ravel(), lon.ravel()])
p_tokyo = model.predict_proba(grid)[:, 1].reshape(lat.shape)

fig, ax = plt.subplots(figsize=(5, 3.8), layout="constrained")
ax.contourf(lon, lat, p_tokyo, levels=[0, 0.5, 1], colors=["#f4c7a1", "#a9c8ea"])
ax.contour(lon, lat, p_tokyo, levels=[0.5], colors="k", linewidths=1)
border = np.linspace(*LONGITUDES, 3)
ax.plot(border, border_latitude(border), "k--", lw=0.8, label="synthetic border")
for name, color in (("Kanagawa", "#c0561b"), ("Tokyo", "#1f5fa8")):
    mask = y == name
    ax.scatter(X[mask, 1], X[mask, 0], s=6, c=color, label=f"{name} (train)")
ax.scatter(
    QUERY_POINTS[:, 1],
    QUERY_POINTS[:, 0],
    marker="*",
    s=90,
    c="gold",
    edgecolors="k",
    label="query",
)
ax.set(
    xlim=LONGITUDES,
    ylim=LATITUDES,
    xlabel="longitude",
    ylabel="latitude",
    title="2-2-1 logistic network (synthetic data)",
)
ax.legend(fontsize=7, loc="lower left", framealpha=0.9)
plt.show()
