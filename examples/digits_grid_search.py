"""Grid search on handwritten digits, side by side with scikit-learn's MLP
=======================================================================

``Pipeline(StandardScaler, ScratchMLPClassifier)`` is tuned by ``GridSearchCV``
over the hidden layer size and the initial learning rate (3-fold
cross-validation, all cores) on scikit-learn's 8×8 digits, after holding out a
stratified quarter of the data. The same search is then run with
scikit-learn's own ``MLPClassifier`` in place of ours.

With the same ``random_state`` and the Adam solver, both libraries draw the
same initial weights and take the same steps, so the two columns of scores
should agree to rounding; only the wall times differ.

Run it with::

    python examples/digits_grid_search.py            # both searches, ~15 s on 2 cores
    python examples/digits_grid_search.py --quick    # a smaller grid on fewer digits
"""

import importlib
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

X, y = load_digits(return_X_y=True)
if QUICK:
    X, y = X[:600], y[:600]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
grid = {
    "mlp__hidden_layer_sizes": [(16,), (32,)] if QUICK else [(16,), (32,), (64,)],
    "mlp__learning_rate_init": [1e-2] if QUICK else [1e-3, 1e-2],
}
print(
    f"digits: {len(X_train)} training and {len(X_test)} held-out samples, "
    f"{X.shape[1]} features, 10 classes"
)

# %%
# The same search with each library's MLP
# ---------------------------------------
# ``max_iter`` leaves room for every setting to stop by its tolerance, so no
# fit ends with a ConvergenceWarning. The worker processes of ``n_jobs=-1``
# outlive one search: they are started (and both libraries imported in them)
# before the first search, which would otherwise pay for that alone.
LIBRARIES = {"scratch": ScratchMLPClassifier, "sklearn": MLPClassifier}
workers = effective_n_jobs(-1)
modules = ["sknn_scratch", "sklearn.neural_network"] * 2 * workers
Parallel(n_jobs=-1)(delayed(importlib.import_module)(name) for name in modules)

searches, times = {}, {}
for name, estimator_class in LIBRARIES.items():
    mlp = estimator_class(solver="adam", max_iter=500, random_state=0)
    model = Pipeline([("scale", StandardScaler()), ("mlp", mlp)])
    searches[name] = GridSearchCV(model, grid, cv=3, n_jobs=-1)
    start = time.perf_counter()
    searches[name].fit(X_train, y_train)
    times[name] = time.perf_counter() - start

# %%
# The scores, side by side
# ------------------------


def describe(params: dict) -> str:
    """'hidden=(32,) lr=0.01' for a grid cell."""
    return (
        f"hidden={params['mlp__hidden_layer_sizes']!s} "
        f"lr={params['mlp__learning_rate_init']:g}"
    )


cells = searches["scratch"].cv_results_["params"]
print(f"grid: {len(cells)} settings x 3-fold CV, n_jobs=-1 ({workers} workers)")
print(f"{'mean CV accuracy':24}  " + "  ".join(searches))
for i, params in enumerate(cells):
    scores = "  ".join(
        f"{search.cv_results_['mean_test_score'][i]:{len(name)}.4f}"
        for name, search in searches.items()
    )
    print(f"{describe(params):24}  {scores}")
for name, search in searches.items():
    print(f"best parameters ({name}): {describe(search.best_params_)}")
print(
    "best cv score: "
    + "  ".join(f"{n} {s.best_score_:.4f}" for n, s in searches.items())
)
print(
    "held-out accuracy: "
    + "  ".join(f"{n} {s.score(X_test, y_test):.4f}" for n, s in searches.items())
)
print("wall time: " + "  ".join(f"{name} {t:.1f} s" for name, t in times.items()))

# %%
# Each grid cell's mean CV accuracy, both libraries
position = np.arange(len(cells))
fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
for offset, (name, search) in zip((-0.2, 0.2), searches.items(), strict=True):
    ax.bar(
        position + offset, search.cv_results_["mean_test_score"], width=0.4, label=name
    )
labels = [
    describe(params).replace("hidden=", "").replace(" ", "\n") for params in cells
]
ax.set_xticks(position, labels, fontsize=8)
low = min(s.cv_results_["mean_test_score"].min() for s in searches.values())
ax.set(
    ylim=(max(0.0, low - 0.02), 1.0),
    xlabel="hidden_layer_sizes, learning_rate_init",
    ylabel="mean CV accuracy",
    title="Digits: 3-fold CV accuracy per grid cell",
)
ax.legend(loc="upper left", fontsize=8)
plt.show()
