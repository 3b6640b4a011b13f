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
    python examples/regression_grid_search.py --plot     # also save the CV scores
"""

import sys
from pathlib import Path

from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPRegressor

# make the helper modules beside this file importable, also under runpy
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import example_parser, parse_args, pyplot, save_figure
from _side_by_side import draw_cv_bars, grid_search_both, print_scores, print_wall_times

LIBRARIES = {"scratch": ScratchMLPRegressor, "sklearn": MLPRegressor}
# Grid parameters reach the MLP through two levels of nesting:
# TransformedTargetRegressor.regressor -> Pipeline step "mlp".
HIDDEN = "regressor__mlp__hidden_layer_sizes"
RATE = "regressor__mlp__learning_rate_init"


def make_model(estimator_class: type) -> TransformedTargetRegressor:
    """A scaled MLP of the given class, ours or scikit-learn's, on a scaled target."""
    # max_iter leaves room for every setting to stop by its tolerance, so no
    # fit ends with a ConvergenceWarning.
    mlp = estimator_class(solver="adam", alpha=10.0, max_iter=2000, random_state=0)
    return TransformedTargetRegressor(
        regressor=Pipeline([("scale", StandardScaler()), ("mlp", mlp)]),
        transformer=StandardScaler(),
    )


def describe(params: dict) -> str:
    """'hidden=(8,) lr=0.01' for a grid cell."""
    return f"hidden={params[HIDDEN]!s} lr={params[RATE]:g}"


def plot(searches: dict[str, GridSearchCV], path: str) -> None:
    """Save the mean CV R² of every grid cell as bars, both libraries."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    draw_cv_bars(ax, searches, describe)
    high = max(s.cv_results_["mean_test_score"].max() for s in searches.values())
    ax.set(
        ylim=(0, 1.3 * high),  # headroom for the legend
        xlabel="hidden_layer_sizes, learning_rate_init",
        ylabel="mean CV R²",
        title="Diabetes: 3-fold CV R² per grid cell",
    )
    ax.legend(loc="upper left", ncols=2, fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = example_parser(
        "Grid search on the diabetes data.",
        quick_help="a smaller grid",
        plot_help="save a PNG of the CV scores",
    )
    args = parse_args(parser)  # exits at once if --plot lacks matplotlib

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0
    )
    grid = {
        HIDDEN: [(8,)] if args.quick else [(8,), (32,)],
        RATE: [1e-3, 1e-2],
    }

    # the same search (3-fold, all cores) with each library's MLP, timed
    models = {name: make_model(cls) for name, cls in LIBRARIES.items()}
    searches, times = grid_search_both(models, grid, X_train, y_train, cv=3)

    print(
        f"diabetes: {len(X_train)} training and {len(X_test)} held-out samples, "
        f"{X.shape[1]} features"
    )
    print_scores(searches, X_test, y_test, describe=describe, score="R²", width=22)
    baseline = LinearRegression().fit(X_train, y_train).score(X_test, y_test)
    print(f"held-out R² of a linear regression, for comparison: {baseline:.4f}")
    print_wall_times(times)

    if args.plot:
        plot(searches, args.plot)


if __name__ == "__main__":
    main()
