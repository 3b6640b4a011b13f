"""Derivatives against finite differences, from one table entry to a whole
estimator.

- each activation's derivative and each loss's delta against central
  differences of its value (``helpers.finite_differences``);
- backpropagation through a whole estimator's network, for every activation ×
  kind of problem (so every loss) × depth 0, 1 and 2, on each engine, through
  the public ``check_gradients``: fresh, with sample weights and L2 penalty,
  and trained; and through the numerical embeddings (the periodic
  frequencies), packed members (their scales) and standardised targets;
- ``check_gradients`` itself: steps around kinks, parameters it must leave
  out, wrong derivatives it must catch, sampling, bad arguments.
"""

import itertools
import warnings

import numpy as np
import pytest
from helpers import (
    CLASSIFICATION_KINDS,
    ENGINES,
    REGRESSION_KINDS,
    away_from_kinks,
    engine_targets,
    finite_differences,
    loss_settings,
    make_estimator,
    targets_for,
    weights_of,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sknn_scratch import (
    ScratchMLPClassifier,
    ScratchMLPRegressor,
    _engine,
    check_gradients,
)
from sknn_scratch._reference._activations import ACTIVATIONS
from sknn_scratch._reference._embeddings import EMBEDDINGS
from sknn_scratch._reference._losses import LOSSES
from sknn_scratch._reference._network import Network

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

KINDS = CLASSIFICATION_KINDS + REGRESSION_KINDS
HIDDEN = [(), (5,), (5, 4)]


# -- one table entry -------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_finite_differences(name):
    activation = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 60).reshape(3, -1) + 0.013  # avoid relu's kink at 0
    a = np.empty_like(z)
    activation.forward(z, a)
    delta = np.ones_like(z)
    activation.derivative(delta, a, z.copy(), np.empty_like(z))

    def value(z):
        out = np.empty_like(z)
        activation.forward(z, out)
        return out

    numeric = finite_differences(value, z)
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_delta_is_the_derivative_of_its_value(name):
    rng = np.random.RandomState(2)
    t = engine_targets(name, 5, rng)
    z = away_from_kinks(name, t, rng)
    loss, settings = LOSSES[name], loss_settings(name)

    def value(z):
        return loss.forward(z.copy(), t, np.empty_like(z), None, **settings)

    delta = np.empty_like(z)
    loss.forward(z.copy(), t, delta, None, **settings)
    np.testing.assert_allclose(
        delta, finite_differences(value, z), rtol=1e-6, atol=1e-8
    )


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def test_finite_differences_detect_a_wrong_gradient():
    """The tests' finite differences have teeth: a perturbed gradient fails."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(9, 3))
    T = engine_targets("log_loss", 9, rng)
    network = Network((3, 4, 3), "tanh", "log_loss", float)
    network.initialize(rng)
    network.loss_and_gradient(X, T)
    wrong = network.grad.copy()
    wrong[0] *= 1.01
    numeric = finite_differences(
        lambda _: network.loss_and_gradient(X, T, None, 0), network.params
    )
    assert relative_error(wrong, numeric) > 1e-6


# -- a whole network, through check_gradients ------------------------------------
# Without a hidden layer the activation plays no part: one of them is enough.
CONFIGURATIONS = [
    (kind, hidden, activation)
    for kind, hidden in itertools.product(KINDS, HIDDEN)
    for activation in (list(ACTIVATIONS) if hidden else ["identity"])
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("kind", "hidden", "activation"), CONFIGURATIONS)
def test_backprop_matches_finite_differences(iris, engine, kind, hidden, activation):
    """A fresh network: every parameter checked, under an L2 penalty, with and
    without sample weights. (The NumPy engine, whose table entries are checked
    one by one above, is checked with sample weights only, to save time.)"""
    X, y = iris
    X, y = X[::10], y[::10]
    targets = targets_for(kind, X, y)
    weights = np.random.RandomState(0).uniform(0.1, 3, len(X))
    variants = [(None, 0.3), (weights, 0.7)]
    for sample_weight, alpha in variants if engine == "compiled" else variants[1:]:
        estimator = make_estimator(
            kind, hidden_layer_sizes=hidden, activation=activation, alpha=alpha,
            random_state=0,
        )  # fmt: skip
        with _engine.using(engine), warnings.catch_warnings():
            warnings.simplefilter("error")  # every parameter of a fresh net checked
            error = check_gradients(
                estimator, X, targets, sample_weight=sample_weight, max_params=None
            )
        assert error < 1e-6
        assert not hasattr(estimator, "coefs_")  # the estimator was left alone


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("targets", [1, 2])
def test_backprop_of_several_quantiles_matches_finite_differences(
    iris, engine, targets
):
    """One network, three quantiles per target (each output with its own q):
    fresh, with sample weights and an L2 penalty, every parameter checked;
    then trained, at its minimum."""
    X, _ = iris
    X = X[::10]
    t = X[:, 0] if targets == 1 else X[:, :2]
    X = X[:, 2:]  # so that the targets are not functions of X
    weights = np.random.RandomState(0).uniform(0.1, 3, len(X))
    estimator = ScratchMLPRegressor(
        loss="quantile", quantile=[0.1, 0.5, 0.8], hidden_layer_sizes=(5,),
        activation="tanh", alpha=0.3, random_state=0,
    )  # fmt: skip
    with _engine.using(engine):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # every parameter of a fresh net checked
            error = check_gradients(
                estimator, X, t, sample_weight=weights, max_params=None
            )
        assert error < 1e-6
        trained = estimator.set_params(solver="lbfgs", max_iter=300).fit(X, t)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", "\\d+ of \\d+ checked parameters were left"
            )
            assert check_gradients(trained, X, t, max_params=None) < 1e-6


# The options for tabular data: each embedding, packed members, both, and the
# regressor's standardised targets (the rows that name normalize_y are the
# regressor's only).
TABULAR_OPTIONS = [
    {"embedding": "periodic"},
    {"embedding": "piecewise_linear"},
    {"n_members": 3},
    {"n_members": 2, "embedding": "periodic", "embedding_columns": [0, 2]},
    {"n_members": 2, "embedding": "piecewise_linear", "embedding_columns": [1]},
    {"normalize_y": True},
    {"normalize_y": True, "n_members": 2, "embedding": "periodic"},
]
TABULAR_CONFIGURATIONS = [
    (kind, options)
    for kind in ["multiclass", "multilabel", "squared_error", "huber"]
    for options in TABULAR_OPTIONS
    if kind in REGRESSION_KINDS or "normalize_y" not in options
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("kind", "options"), TABULAR_CONFIGURATIONS, ids=str)
def test_backprop_of_embeddings_and_members_matches_finite_differences(
    iris, engine, kind, options
):
    """Every parameter of a fresh network, the members' scales and the
    periodic frequencies included, with sample weights and an L2 penalty."""
    X, y = iris
    X, y = X[::10], y[::10]
    targets = targets_for(kind, X, y)
    if kind in REGRESSION_KINDS:  # far from standardised
        targets = 100 * targets + 3
    weights = np.random.RandomState(0).uniform(0.1, 3, len(X))
    estimator = make_estimator(
        kind, hidden_layer_sizes=(5,), activation="tanh", alpha=0.3,
        embedding_size=3, random_state=0, **options,
    )  # fmt: skip
    with _engine.using(engine), warnings.catch_warnings():
        warnings.simplefilter("error")  # every parameter of a fresh net checked
        error = check_gradients(
            estimator, X, targets, sample_weight=weights, max_params=None
        )
    assert error < 1e-6
    assert not hasattr(estimator, "coefs_")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_gradients_on_fitted_members_and_frequencies(iris, dtype):
    """At the fitted weights, whatever precision they were trained in (the
    check computes in float64): the estimator is left as it was."""
    X, _ = iris
    X, t = X[::5, 1:], X[::5, 0]
    regressor = ScratchMLPRegressor(
        hidden_layer_sizes=(5,), activation="tanh", n_members=2, embedding="periodic",
        embedding_size=3, normalize_y=True, max_iter=20, random_state=0,
    ).fit(X.astype(dtype), 50 * t)  # fmt: skip

    def trained_arrays():
        extra = [regressor.member_scales_, regressor.embedding_params_]
        return [a.copy() for a in [*weights_of(regressor), *extra]]

    before = trained_arrays()
    assert check_gradients(regressor, X, 50 * t, max_params=None) < 1e-6
    after = trained_arrays()
    for a, b in zip(before, after, strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_check_gradients_catches_a_wrong_gradient_of_the_frequencies(iris, monkeypatch):
    """The periodic frequencies are among the parameters checked: a gradient
    of theirs off by a bit is caught."""
    X, y = iris
    periodic = EMBEDDINGS["periodic"]

    def off_by_a_bit(X, constants, params, out, delta, grad):
        periodic.backward(X, constants, params, out, delta, grad)
        grad *= 1.01

    clf = ScratchMLPClassifier(
        (5,), "tanh", embedding="periodic", embedding_size=3, random_state=0
    )
    with _engine.using("numpy"):  # the engine whose backward is broken
        assert check_gradients(clf, X[::10], y[::10], max_params=None) < 1e-6
        monkeypatch.setitem(
            EMBEDDINGS, "periodic", periodic._replace(backward=off_by_a_bit)
        )
        assert check_gradients(clf, X[::10], y[::10], max_params=None) > 1e-4


@pytest.mark.parametrize(
    ("kind", "activation"), list(itertools.product(KINDS, ACTIVATIONS))
)
def test_check_gradients_passes_on_trained_networks(iris, kind, activation):
    """At a minimum the gradient is near zero and units or residuals sit on
    their kinks: no false alarm, against the per-sample scale."""
    X, y = iris
    X, y = X[::3], y[::3]
    targets = targets_for(kind, X, y)
    X = X[:, 2:]  # so that regression targets (X[:, :2]) are not functions of X
    estimator = make_estimator(
        kind, hidden_layer_sizes=(5,), activation=activation, solver="lbfgs",
        max_iter=300, random_state=0,
    ).fit(X, targets)  # fmt: skip
    with warnings.catch_warnings():
        # parameters with kinks on both sides are left out, with a warning
        warnings.filterwarnings("ignore", "\\d+ of \\d+ checked parameters were left")
        error = check_gradients(estimator, X, targets, max_params=None)
    assert error < 1e-6  # NaN (nothing checked) fails too


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_check_gradients_on_smoothed_labels(iris, kind):
    # the objective of label smoothing, trained to near its own minimum
    X, y = iris
    targets = targets_for(kind, X[::3], y[::3])
    estimator = ScratchMLPClassifier(
        (5,), "tanh", solver="lbfgs", label_smoothing=0.2, max_iter=300,
        random_state=0,
    ).fit(X[::3], targets)  # fmt: skip
    assert check_gradients(estimator, X[::3], targets, max_params=None) < 1e-6


def test_check_gradients_on_fitted_weights_dropout_and_weights(iris):
    X, y = iris
    clf = ScratchMLPClassifier(
        (6, 5), "tanh", dropout=[0.3, 0.5], class_weight="balanced", random_state=0
    ).fit(X, y)
    before = weights_of(clf)
    error = check_gradients(
        clf, X[::5], y[::5], sample_weight=np.linspace(0.5, 2, 30), random_state=0
    )
    assert error < 1e-6
    for a, b in zip(before, weights_of(clf), strict=True):
        np.testing.assert_array_equal(a, b)
    float32 = ScratchMLPRegressor(solver="lbfgs", random_state=0)
    float32.fit(X.astype(np.float32), X[:, 0])
    assert check_gradients(float32, X[::5], X[::5, 0]) < 1e-6


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rows_per_chunk", [1, 4, 11])
def test_chunked_full_batch_gradient_is_the_same(rows_per_chunk, engine):
    """Splitting the rows into chunks only changes the order of the sums."""
    rng = np.random.RandomState(1)
    X, T = rng.normal(size=(11, 3)), engine_targets("squared_error", 11, rng)
    weights = rng.uniform(0.5, 2, 11)
    with _engine.using(engine):  # the engine is chosen when the network is made
        network = Network((3, 6, 2), "relu", "squared_error", float)
    network.initialize(rng)
    whole = network.loss_and_gradient(X, T, weights, 0.1)
    whole_grad = network.grad.copy()
    chunked = network.loss_and_gradient(X, T, weights, 0.1, max_rows=rows_per_chunk)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)
    np.testing.assert_allclose(network.grad, whole_grad, rtol=1e-10, atol=1e-14)


# -- check_gradients at kinks ----------------------------------------------------
def shifted_to_a_kink(estimator, X, distance):
    """Move the first hidden unit's bias so that its pre-activation for the
    first sample lies ``distance`` from relu's kink at 0."""
    z = X[0] @ estimator.coefs_[0][:, 0] + estimator.intercepts_[0][0]
    estimator.intercepts_[0][0] -= z - distance


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("distance", [3e-7, -1e-12, 0.0])
def test_check_gradients_steps_around_a_kink(iris, activation, distance):
    """A unit within one step of its kink (the flaky CI case) or on it."""
    X, y = iris
    X, y = X[::10], y[::10]
    clf = ScratchMLPClassifier(
        (5,), activation, solver="lbfgs", max_iter=5, random_state=0
    ).fit(X, y)
    shifted_to_a_kink(clf, X, distance)
    assert check_gradients(clf, X, y, max_params=None) < 1e-6


def test_check_gradients_leaves_out_parameters_on_kinks_both_ways(iris):
    """A linear model that fits the absolute error exactly has every residual
    on the kink, on both sides of every parameter: nothing can be checked."""
    X, _ = iris
    X = X[::5]
    reg = ScratchMLPRegressor(
        loss="absolute_error", hidden_layer_sizes=(), solver="lbfgs", max_iter=500,
        random_state=0,
    ).fit(X, X[:, 0])  # fmt: skip
    with pytest.warns(UserWarning, match="5 of 5 checked parameters were left out"):
        assert np.isnan(check_gradients(reg, X, X[:, 0], max_params=None))


# -- check_gradients has teeth ---------------------------------------------------
def test_check_gradients_catches_a_wrong_derivative(iris, monkeypatch):
    X, y = iris
    tanh = ACTIVATIONS["tanh"]

    def off_by_a_bit(delta, a, z, scratch):
        tanh.derivative(delta, a, z, scratch)
        delta *= 1.01

    monkeypatch.setitem(ACTIVATIONS, "tanh", tanh._replace(derivative=off_by_a_bit))
    clf = ScratchMLPClassifier((5,), "tanh", random_state=0)
    with _engine.using("numpy"):  # the engine whose derivative was broken
        assert check_gradients(clf, X[::10], y[::10]) > 1e-4


def test_check_gradients_catches_a_wrong_delta_on_a_trained_network(iris, monkeypatch):
    """At the minimum of the true loss, a delta that is wrong for some residuals
    leaves per-sample terms that no longer cancel."""
    X, _ = iris
    X, t = X[::3, 1:], X[::3, 0]
    reg = ScratchMLPRegressor(
        loss="huber", hidden_layer_sizes=(5,), activation="tanh", solver="lbfgs",
        max_iter=300, random_state=0,
    ).fit(X, t)  # fmt: skip
    assert check_gradients(reg, X, t, max_params=None) < 1e-6
    huber = LOSSES["huber"]

    def too_large_above(z, t, delta, sample_weight, **settings):
        total = huber.forward(z, t, delta, sample_weight, **settings)
        delta[delta > 0] *= 1.01
        return total

    monkeypatch.setitem(LOSSES, "huber", huber._replace(forward=too_large_above))
    with _engine.using("numpy"):  # the engine whose delta was broken
        assert check_gradients(reg, X, t, max_params=None) > 1e-4


# -- check_gradients' arguments --------------------------------------------------
def test_check_gradients_samples_parameters_of_large_networks(iris, monkeypatch):
    X, y = iris
    clf = ScratchMLPClassifier((300, 300), random_state=0)
    calls = {"loss": 0, "loss_and_gradient": 0}
    for name in calls:
        original = getattr(Network, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Network, name, counting)
    X, y = X[::7], y[::7]
    assert check_gradients(clf, X, y, max_params=50, random_state=0) < 1e-6
    # one backward pass, and one per sample for the gradient's scale; about
    # two forward passes per checked parameter (a few more for one that is
    # re-examined), not per parameter of the network
    assert calls["loss_and_gradient"] == 1 + len(X)
    assert 2 * 50 < calls["loss"] < 2 * 60


def test_check_gradients_rejects_bad_arguments(iris):
    X, y = iris
    with pytest.raises(ValueError, match="epsilon"):
        check_gradients(ScratchMLPClassifier(), X, y, epsilon=0)
    with pytest.raises(ValueError, match="max_params"):
        check_gradients(ScratchMLPClassifier(), X, y, max_params=0)
    with pytest.raises(ValueError, match="checks ScratchMLPClassifier"):
        check_gradients(StandardScaler(), X, y)
    fitted = ScratchMLPClassifier(max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="classes it was fitted on, \\[0, 1, 2\\]"):
        check_gradients(fitted, X[y < 2], y[y < 2])
