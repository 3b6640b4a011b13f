"""Grid search on handwritten digits, side by side with scikit-learn's MLP.

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
    python examples/digits_grid_search.py --plot     # also save the CV scores as a PNG
"""

import argparse
import importlib
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

NO_MATPLOTLIB = (
    '--plot needs matplotlib: pip install "sknn-scratch[examples]" '
    "(or pip install matplotlib)"
)
LIBRARIES = {"scratch": ScratchMLPClassifier, "sklearn": MLPClassifier}


def search(estimator_class: type, grid: dict, X: np.ndarray, y: np.ndarray):
    """Fit a grid search over a scaled MLP; return it and its wall time in s."""
    # max_iter leaves room for every setting to stop by its tolerance, so no
    # fit ends with a ConvergenceWarning.
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", estimator_class(solver="adam", max_iter=500, random_state=0)),
        ]
    )
    grid_search = GridSearchCV(pipeline, grid, cv=3, n_jobs=-1)
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
    """'hidden=(32,) lr=0.01' for a grid cell."""
    return (
        f"hidden={params['mlp__hidden_layer_sizes']!s} "
        f"lr={params['mlp__learning_rate_init']:g}"
    )


def plot(searches: dict[str, GridSearchCV], path: str) -> None:
    """Save the mean CV accuracy of every grid cell as bars, both libraries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [describe(p) for p in searches["scratch"].cv_results_["params"]]
    position = np.arange(len(cells))
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for offset, (name, grid_search) in zip((-0.2, 0.2), searches.items(), strict=True):
        scores = grid_search.cv_results_["mean_test_score"]
        ax.bar(position + offset, scores, width=0.4, label=name)
    labels = [c.replace("hidden=", "").replace(" ", "\n") for c in cells]
    ax.set_xticks(position, labels, fontsize=8)
    low = min(s.cv_results_["mean_test_score"].min() for s in searches.values())
    ax.set(
        ylim=(max(0.0, low - 0.02), 1.0),
        xlabel="hidden_layer_sizes, learning_rate_init",
        ylabel="mean CV accuracy",
        title="Digits: 3-fold CV accuracy per grid cell",
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description="Grid search on the digits data.")
    parser.add_argument(
        "--quick", action="store_true", help="a smaller grid on fewer digits"
    )
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

    X, y = load_digits(return_X_y=True)
    if args.quick:
        X, y = X[:600], y[:600]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    if args.quick:
        grid = {
            "mlp__hidden_layer_sizes": [(16,), (32,)],
            "mlp__learning_rate_init": [1e-2],
        }
    else:
        grid = {
            "mlp__hidden_layer_sizes": [(16,), (32,), (64,)],
            "mlp__learning_rate_init": [1e-3, 1e-2],
        }

    start_workers()
    searches, times = {}, {}
    for name, estimator_class in LIBRARIES.items():
        searches[name], times[name] = search(estimator_class, grid, X_train, y_train)

    n_cells = len(searches["scratch"].cv_results_["params"])
    print(
        f"digits: {len(X_train)} training and {len(X_test)} held-out samples, "
        f"{X.shape[1]} features, 10 classes"
    )
    print(
        f"grid: {n_cells} settings x 3-fold CV, n_jobs=-1 ({effective_n_jobs(-1)} workers)"
    )
    print()
    print(f"{'mean CV accuracy':24}  scratch  sklearn")
    for i, params in enumerate(searches["scratch"].cv_results_["params"]):
        ours = searches["scratch"].cv_results_["mean_test_score"][i]
        theirs = searches["sklearn"].cv_results_["mean_test_score"][i]
        print(f"{describe(params):24}  {ours:7.4f}  {theirs:7.4f}")
    print()
    for name, grid_search in searches.items():
        print(f"best parameters ({name}): {describe(grid_search.best_params_)}")
    scratch, sklearn = searches["scratch"], searches["sklearn"]
    print(
        f"best cv score: scratch {scratch.best_score_:.4f}  sklearn {sklearn.best_score_:.4f}"
    )
    print(
        f"held-out accuracy: scratch {scratch.score(X_test, y_test):.4f}  "
        f"sklearn {sklearn.score(X_test, y_test):.4f}"
    )
    print(
        f"wall time: scratch {times['scratch']:.1f} s  sklearn {times['sklearn']:.1f} s"
    )

    if args.plot:
        plot(searches, args.plot)
        print(f"plot saved to {args.plot}")


if __name__ == "__main__":
    main()
