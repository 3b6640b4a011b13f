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
    python examples/digits_grid_search.py --plot     # also save the CV scores as a PNG
"""

import sys
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier

# make the helper modules beside this file importable, also under runpy
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import example_parser, parse_args, pyplot, save_figure
from _side_by_side import draw_cv_bars, grid_search_both, print_scores, print_wall_times

LIBRARIES = {"scratch": ScratchMLPClassifier, "sklearn": MLPClassifier}


def make_model(estimator_class: type) -> Pipeline:
    """A scaled MLP of the given class, ours or scikit-learn's."""
    # max_iter leaves room for every setting to stop by its tolerance, so no
    # fit ends with a ConvergenceWarning.
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", estimator_class(solver="adam", max_iter=500, random_state=0)),
        ]
    )


def describe(params: dict) -> str:
    """'hidden=(32,) lr=0.01' for a grid cell."""
    return (
        f"hidden={params['mlp__hidden_layer_sizes']!s} "
        f"lr={params['mlp__learning_rate_init']:g}"
    )


def plot(searches: dict[str, GridSearchCV], path: str) -> None:
    """Save the mean CV accuracy of every grid cell as bars, both libraries."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    draw_cv_bars(ax, searches, describe)
    low = min(s.cv_results_["mean_test_score"].min() for s in searches.values())
    ax.set(
        ylim=(max(0.0, low - 0.02), 1.0),
        xlabel="hidden_layer_sizes, learning_rate_init",
        ylabel="mean CV accuracy",
        title="Digits: 3-fold CV accuracy per grid cell",
    )
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = example_parser(
        "Grid search on the digits data.",
        quick_help="a smaller grid on fewer digits",
        plot_help="save a PNG of the CV scores",
    )
    args = parse_args(parser)  # exits at once if --plot lacks matplotlib

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

    # the same search (3-fold, all cores) with each library's MLP, timed
    models = {name: make_model(cls) for name, cls in LIBRARIES.items()}
    searches, times = grid_search_both(models, grid, X_train, y_train, cv=3)

    print(
        f"digits: {len(X_train)} training and {len(X_test)} held-out samples, "
        f"{X.shape[1]} features, 10 classes"
    )
    print_scores(
        searches, X_test, y_test, describe=describe, score="accuracy", width=24
    )
    print_wall_times(times)

    if args.plot:
        plot(searches, args.plot)


if __name__ == "__main__":
    main()
