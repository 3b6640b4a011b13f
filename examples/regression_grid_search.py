"""Grid search for a regressor on the diabetes data, beside scikit-learn's MLP
===========================================================================

``ScratchMLPRegressor`` predicts disease progression one year on from ten
baseline measurements (scikit-learn's diabetes data, 442 patients). The
inputs are standardised by a ``Pipeline``, and the target (which runs from 25
to 346) by ``TransformedTargetRegressor``, so the network fits a target of
mean 0 and variance 1 and its predictions are mapped back to the original
units. ``GridSearchCV`` (3-fold, all cores) picks the hidden layer size and the
initial learning rate on three quarters of the data; the last quarter is held
out. The same search is then run with scikit-learn's ``MLPRegressor``.

The data are few and noisy, so the network is strongly regularised
(``alpha=10``); a plain linear regression is printed as a baseline. With the
same ``random_state`` and Adam, the two libraries should give the same scores
to rounding.

Run it with::

    python examples/regression_grid_search.py            # both searches
    python examples/regression_grid_search.py --quick    # a smaller grid
"""

import importlib
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPRegressor

QUICK = "--quick" in sys.argv[1:]  # a shorter run, for the tests

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
# Grid parameters reach the MLP through two levels of nesting:
# TransformedTargetRegressor.regressor -> Pipeline step "mlp".
HIDDEN = "regressor__mlp__hidden_layer_sizes"
RATE = "regressor__mlp__learning_rate_init"
grid = {HIDDEN: [(8,)] if QUICK else [(8,), (32,)], RATE: [1e-3, 1e-2]}
print(
    f"diabetes: {len(X_train)} training and {len(X_test)} held-out samples, "
    f"{X.shape[1]} features"
)

# %%
# The same search with each library's MLP
# ---------------------------------------
# ``max_iter`` leaves room for every setting to stop by its tolerance, so no
# fit ends with a ConvergenceWarning. The worker processes of ``n_jobs=-1``
# outlive one search: they are started (and both libraries imported in them)
# before the first search, which would otherwise pay for that alone.
LIBRARIES = {"scratch": ScratchMLPRegressor, "sklearn": MLPRegressor}
workers = effective_n_jobs(-1)
modules = ["sknn_scratch", "sklearn.neural_network"] * 2 * workers
Parallel(n_jobs=-1)(delayed(importlib.import_module)(name) for name in modules)

searches, times = {}, {}
for name, estimator_class in LIBRARIES.items():
    mlp = estimator_class(solver="adam", alpha=10.0, max_iter=2000, random_state=0)
    model = TransformedTargetRegressor(
        regressor=Pipeline([("scale", StandardScaler()), ("mlp", mlp)]),
        transformer=StandardScaler(),
    )
    searches[name] = GridSearchCV(model, grid, cv=3, n_jobs=-1)
    start = time.perf_counter()
    searches[name].fit(X_train, y_train)
    times[name] = time.perf_counter() - start

# %%
# The scores, side by side
# ------------------------


def describe(params: dict) -> str:
    """'hidden=(8,) lr=0.01' for a grid cell."""
    return f"hidden={params[HIDDEN]!s} lr={params[RATE]:g}"


cells = searches["scratch"].cv_results_["params"]
print(f"grid: {len(cells)} settings x 3-fold CV, n_jobs=-1 ({workers} workers)")
print(f"{'mean CV R²':22}  " + "  ".join(searches))
for i, params in enumerate(cells):
    scores = "  ".join(
        f"{search.cv_results_['mean_test_score'][i]:{len(name)}.4f}"
        for name, search in searches.items()
    )
    print(f"{describe(params):22}  {scores}")
for name, search in searches.items():
    print(f"best parameters ({name}): {describe(search.best_params_)}")
print(
    "best cv score: "
    + "  ".join(f"{n} {s.best_score_:.4f}" for n, s in searches.items())
)
print(
    "held-out R²: "
    + "  ".join(f"{n} {s.score(X_test, y_test):.4f}" for n, s in searches.items())
)
baseline = LinearRegression().fit(X_train, y_train).score(X_test, y_test)
print(f"held-out R² of a linear regression, for comparison: {baseline:.4f}")
print("wall time: " + "  ".join(f"{name} {t:.1f} s" for name, t in times.items()))

# %%
# Each grid cell's mean CV R², both libraries
position = np.arange(len(cells))
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for offset, (name, search) in zip((-0.2, 0.2), searches.items(), strict=True):
    ax.bar(
        position + offset, search.cv_results_["mean_test_score"], width=0.4, label=name
    )
labels = [
    describe(params).replace("hidden=", "").replace(" ", "\n") for params in cells
]
ax.set_xticks(position, labels, fontsize=8)
high = max(s.cv_results_["mean_test_score"].max() for s in searches.values())
ax.set(
    ylim=(0, 1.3 * high),  # headroom for the legend
    xlabel="hidden_layer_sizes, learning_rate_init",
    ylabel="mean CV R²",
    title="Diabetes: 3-fold CV R² per grid cell",
)
ax.legend(loc="upper left", ncols=2, fontsize=8)
plt.show()
