"""Grid search for a regressor on the diabetes data, beside scikit-learn's MLP.

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
    python examples/regression_grid_search.py --plot     # also save the CV scores
"""

import argparse
import importlib
import importlib.util
import sys
import time
from pathlib import Path

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

NO_MATPLOTLIB = (
    '--plot needs matplotlib: pip install "sknn-scratch[examples]" '
    "(or pip install matplotlib)"
)
LIBRARIES = {"scratch": ScratchMLPRegressor, "sklearn": MLPRegressor}
# Grid parameters reach the MLP through two levels of nesting:
# TransformedTargetRegressor.regressor -> Pipeline step "mlp".
HIDDEN = "regressor__mlp__hidden_layer_sizes"
RATE = "regressor__mlp__learning_rate_init"


def search(estimator_class: type, grid: dict, X: np.ndarray, y: np.ndarray):
    """Fit a grid search over a scaled MLP; return it and its wall time in s."""
    mlp = estimator_class(solver="adam", alpha=10.0, max_iter=2000, random_state=0)
    model = TransformedTargetRegressor(
        regressor=Pipeline([("scale", StandardScaler()), ("mlp", mlp)]),
        transformer=StandardScaler(),
    )
    # max_iter leaves room for every setting to stop by its tolerance, so no
    # fit ends with a ConvergenceWarning.
    grid_search = GridSearchCV(model, grid, cv=3, n_jobs=-1)
    start = time.perf_counter()
    grid_search.fit(X, y)
    return grid_search, time.perf_counter() - start


def start_workers() -> None:
    """Start the worker processes and import both libraries in them.

    GridSearchCV's workers outlive one search, so without this the first
    search timed would also pay for starting them and the second would not.
    """
    n_workers = effective_n_jobs(-1)
    modules = ["sknn_scratch", "sklearn.neural_network"] * 2 * n_workers
    Parallel(n_jobs=-1)(delayed(importlib.import_module)(name) for name in modules)


def describe(params: dict) -> str:
    """'hidden=(8,) lr=0.01' for a grid cell."""
    return f"hidden={params[HIDDEN]!s} lr={params[RATE]:g}"


def plot(searches: dict[str, GridSearchCV], path: str) -> None:
    """Save the mean CV R² of every grid cell as bars, both libraries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [describe(p) for p in searches["scratch"].cv_results_["params"]]
    position = np.arange(len(cells))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for offset, (name, grid_search) in zip((-0.2, 0.2), searches.items(), strict=True):
        scores = grid_search.cv_results_["mean_test_score"]
        ax.bar(position + offset, scores, width=0.4, label=name)
    labels = [c.replace("hidden=", "").replace(" ", "\n") for c in cells]
    ax.set_xticks(position, labels, fontsize=8)
    high = max(s.cv_results_["mean_test_score"].max() for s in searches.values())
    ax.set(
        ylim=(0, 1.3 * high),  # headroom for the legend
        xlabel="hidden_layer_sizes, learning_rate_init",
        ylabel="mean CV R²",
        title="Diabetes: 3-fold CV R² per grid cell",
    )
    ax.legend(loc="upper left", ncols=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description="Grid search on the diabetes data.")
    parser.add_argument("--quick", action="store_true", help="a smaller grid")
    parser.add_argument(
        "--plot",
        nargs="?",
        const=f"{Path(__file__).stem}.png",
        metavar="PATH",
        help="save a PNG of the CV scores (default: %(const)s)",
    )
    args = parser.parse_args()
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        sys.exit(NO_MATPLOTLIB)

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0
    )
    grid = {
        HIDDEN: [(8,)] if args.quick else [(8,), (32,)],
        RATE: [1e-3, 1e-2],
    }

    start_workers()
    searches, times = {}, {}
    for name, estimator_class in LIBRARIES.items():
        searches[name], times[name] = search(estimator_class, grid, X_train, y_train)

    n_cells = len(searches["scratch"].cv_results_["params"])
    print(
        f"diabetes: {len(X_train)} training and {len(X_test)} held-out samples, "
        f"{X.shape[1]} features"
    )
    print(
        f"grid: {n_cells} settings x 3-fold CV, n_jobs=-1 ({effective_n_jobs(-1)} workers)"
    )
    print()
    print(f"{'mean CV R²':22}  scratch  sklearn")
    for i, params in enumerate(searches["scratch"].cv_results_["params"]):
        ours = searches["scratch"].cv_results_["mean_test_score"][i]
        theirs = searches["sklearn"].cv_results_["mean_test_score"][i]
        print(f"{describe(params):22}  {ours:7.4f}  {theirs:7.4f}")
    print()
    for name, grid_search in searches.items():
        print(f"best parameters ({name}): {describe(grid_search.best_params_)}")
    scratch, sklearn = searches["scratch"], searches["sklearn"]
    print(
        f"best cv score: scratch {scratch.best_score_:.4f}  sklearn {sklearn.best_score_:.4f}"
    )
    print(
        f"held-out R²: scratch {scratch.score(X_test, y_test):.4f}  "
        f"sklearn {sklearn.score(X_test, y_test):.4f}"
    )
    baseline = LinearRegression().fit(X_train, y_train).score(X_test, y_test)
    print(f"held-out R² of a linear regression, for comparison: {baseline:.4f}")
    print(
        f"wall time: scratch {times['scratch']:.1f} s  sklearn {times['sklearn']:.1f} s"
    )

    if args.plot:
        plot(searches, args.plot)
        print(f"plot saved to {args.plot}")


if __name__ == "__main__":
    main()
