"""The estimators learn: each solver the founding problems, as well as
scikit-learn's MLP does; every activation the quadrant XOR, and with every
solver; the quantile and robust losses what they are for."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch._reference._activations import ACTIVATIONS

pytestmark = [
    pytest.mark.usefixtures("each_engine"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]

SOLVERS = {
    "adam": dict(solver="adam", learning_rate_init=0.01, max_iter=500),
    "sgd": dict(solver="sgd", learning_rate_init=0.1, max_iter=500),
    "lbfgs": dict(solver="lbfgs", max_iter=500),
}


def quadrants(n_samples=1000, seed=0):
    """Points uniform on [-1, 1]², label 1 where x1·x2 > 0 (XOR of the signs)."""
    X = np.random.RandomState(seed).uniform(-1, 1, size=(n_samples, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def noisy_sine(n_samples=100, seed=0):
    """x + 0.3 sin(2πx) on [0, 1] plus uniform noise in ±0.1."""
    rng = np.random.RandomState(seed)
    x = np.sort(rng.uniform(0, 1, n_samples))
    y = x + 0.3 * np.sin(2 * np.pi * x) + rng.uniform(-0.1, 0.1, n_samples)
    return x.reshape(-1, 1), y


def both_scores(ours, theirs, X_train, X_test, y_train, y_test):
    ours.fit(X_train, y_train)
    theirs.fit(X_train, y_train)
    return ours.score(X_test, y_test), theirs.score(X_test, y_test)


@pytest.mark.parametrize("solver", SOLVERS)
def test_iris(solver):
    X, y = load_iris(return_X_y=True)
    split = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    params = dict(hidden_layer_sizes=(10,), random_state=0, **SOLVERS[solver])
    ours, theirs = both_scores(
        make_pipeline(StandardScaler(), ScratchMLPClassifier(**params)),
        make_pipeline(StandardScaler(), MLPClassifier(**params)),
        *split,
    )
    assert ours >= 0.9
    assert ours >= theirs - 0.03


@pytest.mark.parametrize("solver", SOLVERS)
def test_quadrants(solver):
    X, y = quadrants()
    split = train_test_split(X, y, test_size=0.3, random_state=0)
    params = dict(hidden_layer_sizes=(4,), activation="tanh", random_state=0)
    params.update(SOLVERS[solver])
    ours, theirs = both_scores(
        ScratchMLPClassifier(**params), MLPClassifier(**params), *split
    )
    assert ours >= 0.9
    assert ours >= theirs - 0.03


@pytest.mark.parametrize("solver", SOLVERS)
def test_sine_regression(solver):
    """A 6-unit tanh network often stalls at the straight-line fit (R² ≈ 0.47),
    so, as a user would, keep the best of three random starts."""
    X, y = noisy_sine()
    X_test = np.linspace(0, 1, 200).reshape(-1, 1)
    y_true = X_test.ravel() + 0.3 * np.sin(2 * np.pi * X_test.ravel())
    params = dict(hidden_layer_sizes=(6,), activation="tanh", max_iter=2000)
    if solver != "lbfgs":
        params.update(solver=solver, tol=1e-6, n_iter_no_change=20)
        params["learning_rate_init"] = 0.05 if solver == "adam" else 0.1
    else:
        params.update(solver="lbfgs")
    best_ours, best_theirs = -np.inf, -np.inf
    for seed in range(3):
        ours = make_pipeline(
            StandardScaler(), ScratchMLPRegressor(**params, random_state=seed)
        )
        theirs = make_pipeline(
            StandardScaler(), MLPRegressor(**params, random_state=seed)
        )
        ours, theirs = both_scores(ours, theirs, X, X_test, y, y_true)
        best_ours, best_theirs = max(best_ours, ours), max(best_theirs, theirs)
    assert best_ours >= 0.95
    assert best_ours >= best_theirs - 0.02


# -- every activation of the table, and the robust and quantile losses ---------
# identity leaves the network linear: no hidden layer can then separate XOR
NONLINEAR = [name for name in ACTIVATIONS if name != "identity"]


@pytest.mark.parametrize("activation", NONLINEAR)
def test_every_activation_learns_the_quadrant_xor(activation):
    """The data of examples/xor_quadrants.py (400 points), 8 hidden units."""
    X = np.random.default_rng(0).uniform(-1, 1, size=(400, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    clf = ScratchMLPClassifier(
        (8,), activation, solver="lbfgs", max_iter=1000, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) >= 0.95


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_trains_with_every_solver_dropout_and_float32(
    iris, activation, solver
):
    X, y = iris
    params = dict(SOLVERS[solver], max_iter=200, random_state=0)
    if solver != "lbfgs":
        params["dropout"] = 0.1
    clf = ScratchMLPClassifier((10,), activation, **params)
    clf.fit(X.astype(np.float32), y)
    assert all(w.dtype == np.float32 for w in clf.coefs_ + clf.intercepts_)
    assert np.isfinite(clf.loss_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert clf.score(X, y) >= 0.85


def heteroscedastic(n_samples, seed):
    """sin(2πx) on [0, 1] with Gaussian noise whose spread grows with x."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n_samples)
    y = np.sin(2 * np.pi * x) + (0.1 + 0.5 * x) * rng.normal(size=n_samples)
    return x.reshape(-1, 1), y


@pytest.mark.parametrize("quantile", [0.1, 0.9])
def test_quantile_loss_covers_its_share_of_new_points(quantile):
    X, y = heteroscedastic(600, seed=0)
    X_new, y_new = heteroscedastic(4000, seed=1)
    reg = ScratchMLPRegressor(
        loss="quantile", quantile=quantile, hidden_layer_sizes=(16,),
        activation="tanh", solver="lbfgs", max_iter=500, random_state=0,
    ).fit(X, y)  # fmt: skip
    coverage = np.mean(y_new <= reg.predict(X_new))
    assert abs(coverage - quantile) <= 0.05


def two_heteroscedastic_targets(n_samples, seed):
    """sin(2πx) with noise growing with x, and cos(2πx) with noise shrinking."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n_samples)
    noise = rng.normal(size=(n_samples, 2))
    y = np.c_[
        np.sin(2 * np.pi * x) + (0.1 + 0.5 * x) * noise[:, 0],
        np.cos(2 * np.pi * x) + (0.6 - 0.5 * x) * noise[:, 1],
    ]
    return x.reshape(-1, 1), y


def test_several_quantiles_in_one_network_cover_their_shares_of_new_points():
    # 20,000 points to learn from and as many held out, so that each share is
    # measured to ±0.004 (a standard deviation) and learnt closely; the
    # cosine schedule ends each run at a rate of zero, on settled weights
    X, y = two_heteroscedastic_targets(20_000, seed=0)
    X_new, y_new = two_heteroscedastic_targets(20_000, seed=1)
    quantiles = [0.05, 0.5, 0.95]
    reg = ScratchMLPRegressor(
        loss="quantile", quantile=quantiles, hidden_layer_sizes=(16,),
        activation="tanh", learning_rate="cosine", learning_rate_init=0.01,
        max_iter=30, tol=0, random_state=0,
    ).fit(X, y)  # fmt: skip
    predicted = reg.predict(X_new)  # (rows, targets, quantiles)
    coverage = np.mean(y_new[:, :, None] <= predicted, axis=0)
    np.testing.assert_array_less(np.abs(coverage - quantiles), 0.03)


def test_robust_losses_fit_the_clean_curve_despite_gross_outliers():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 300)
    y = np.sin(2 * np.pi * x) + 0.1 * rng.normal(size=300)
    outliers = rng.choice(300, 15, replace=False)  # 5%, five to ten units off
    y[outliers] += rng.choice([-1, 1], 15) * rng.uniform(5, 10, 15)
    grid = np.linspace(0, 1, 200)

    def median_error(loss):
        reg = ScratchMLPRegressor(
            loss=loss, hidden_layer_sizes=(16,), activation="tanh",
            solver="lbfgs", max_iter=500, random_state=0,
        ).fit(x.reshape(-1, 1), y)  # fmt: skip
        return np.median(
            np.abs(reg.predict(grid.reshape(-1, 1)) - np.sin(2 * np.pi * grid))
        )

    squared = median_error("squared_error")
    for loss in ["absolute_error", "huber"]:
        assert median_error(loss) <= squared / 2
