"""One grid search run with our MLP and with scikit-learn's, side by side.

Shared by digits_grid_search.py and regression_grid_search.py, which differ in
the data, the model around the MLP and the score, not in how the two searches
are run, timed and reported. The models are passed as a dict keyed by library
name ("scratch", "sklearn"): the keys head the columns of what is printed.
"""

import importlib
import time
from collections.abc import Callable

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.model_selection import GridSearchCV


def start_workers() -> None:
    """Start the worker processes and import both libraries in them.

    GridSearchCV's workers outlive one search, so without this the first
    search timed would also pay for starting them and the second would not.
    """
    n_workers = effective_n_jobs(-1)
    modules = ["sknn_scratch", "sklearn.neural_network"] * 2 * n_workers
    Parallel(n_jobs=-1)(delayed(importlib.import_module)(name) for name in modules)


def grid_search_both(
    models: dict, grid: dict, X: np.ndarray, y: np.ndarray, *, cv: int
) -> tuple[dict[str, GridSearchCV], dict[str, float]]:
    """Fit ``GridSearchCV(model, grid, cv=cv, n_jobs=-1)`` for each model in turn.

    Returns the fitted searches and their wall times in seconds, keyed like
    ``models``.
    """
    start_workers()
    searches, times = {}, {}
    for name, model in models.items():
        searches[name] = GridSearchCV(model, grid, cv=cv, n_jobs=-1)
        start = time.perf_counter()
        searches[name].fit(X, y)
        times[name] = time.perf_counter() - start
    return searches, times


def print_scores(
    searches: dict[str, GridSearchCV],
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    describe: Callable[[dict], str],
    score: str,
    width: int,
) -> None:
    """Print the grid, each cell's mean CV score, the best cells and held-out scores.

    ``describe`` names a grid cell, ``score`` the metric ("accuracy", "R²");
    ``width`` is that of the first column of the table.
    """
    first = next(iter(searches.values()))
    cells = first.cv_results_["params"]
    print(
        f"grid: {len(cells)} settings x {first.n_splits_}-fold CV, n_jobs=-1 "
        f"({effective_n_jobs(-1)} workers)"
    )
    print()
    print(f"{'mean CV ' + score:{width}}  " + "  ".join(searches))
    for i, params in enumerate(cells):
        row = "  ".join(
            f"{search.cv_results_['mean_test_score'][i]:{len(name)}.4f}"
            for name, search in searches.items()
        )
        print(f"{describe(params):{width}}  {row}")
    print()
    for name, search in searches.items():
        print(f"best parameters ({name}): {describe(search.best_params_)}")
    best = "  ".join(f"{name} {s.best_score_:.4f}" for name, s in searches.items())
    print(f"best cv score: {best}")
    held_out = "  ".join(
        f"{name} {s.score(X_test, y_test):.4f}" for name, s in searches.items()
    )
    print(f"held-out {score}: {held_out}")


def print_wall_times(times: dict[str, float]) -> None:
    """Print how long each search took."""
    print("wall time: " + "  ".join(f"{name} {t:.1f} s" for name, t in times.items()))


def draw_cv_bars(
    ax, searches: dict[str, GridSearchCV], describe: Callable[[dict], str]
) -> None:
    """Draw each library's mean CV score per grid cell as bars, side by side.

    The cells are labelled on the x axis by ``describe``, which is expected to
    give "hidden=(16,) lr=0.01", shortened to two lines "(16,)" / "lr=0.01".
    """
    first = next(iter(searches.values()))
    cells = [describe(params) for params in first.cv_results_["params"]]
    position = np.arange(len(cells))
    for offset, (name, grid_search) in zip((-0.2, 0.2), searches.items(), strict=True):
        scores = grid_search.cv_results_["mean_test_score"]
        ax.bar(position + offset, scores, width=0.4, label=name)
    labels = [c.replace("hidden=", "").replace(" ", "\n") for c in cells]
    ax.set_xticks(position, labels, fontsize=8)
