"""Features beyond scikit-learn's MLP: class weights, the validation loss curve,
dropout, check_gradients and LossCurveDisplay."""

import copy
import itertools
import warnings

import numpy as np
import pytest
from helpers import (
    CLASSIFICATION_KINDS,
    REGRESSION_KINDS,
    assert_same_weights,
    make_estimator,
    targets_for,
    weights_of,
)
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import (
    LossCurveDisplay,
    ScratchMLPClassifier,
    ScratchMLPRegressor,
    _engine,
    check_gradients,
)
from sknn_scratch._activations import ACTIVATIONS
from sknn_scratch._losses import LOSSES
from sknn_scratch._network import Network

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


# -- class_weight -------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_class_weight_dict_multiplies_sample_weights(iris, solver):
    X, y = iris
    class_weight = {0: 3.0, 2: 0.5}  # class 1 left out: weight 1
    per_sample = np.array([3.0, 1.0, 0.5])[y]
    params = dict(solver=solver, max_iter=20, random_state=0)
    weighted = ScratchMLPClassifier(class_weight=class_weight, **params).fit(X, y)
    reference = ScratchMLPClassifier(**params).fit(X, y, sample_weight=per_sample)
    assert_same_weights(weighted, reference)

    sample_weight = np.linspace(0.5, 1.5, len(y))
    both = ScratchMLPClassifier(class_weight=class_weight, **params)
    both.fit(X, y, sample_weight=sample_weight)
    reference.fit(X, y, sample_weight=per_sample * sample_weight)
    assert_same_weights(both, reference)


def test_class_weight_balanced_weighs_classes_inversely_to_their_counts(iris):
    X, y = iris
    keep = np.r_[0:50, 50:70, 100:105]  # 50, 20 and 5 samples
    X, y = X[keep], y[keep]
    expected = len(y) / (3 * np.bincount(y))
    params = dict(max_iter=20, random_state=0)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params).fit(X, y)
    reference = ScratchMLPClassifier(**params).fit(X, y, sample_weight=expected[y])
    assert_same_weights(balanced, reference)


def test_class_weight_balanced_counts_samples_by_their_weights(iris):
    """Weight 2 on a sample counts it twice, as repeating it would."""
    X, y = iris
    sample_weight = np.where(np.arange(150) % 3 == 0, 2.0, 1.0)
    sample_weight[y == 2] = 0.5
    totals = np.bincount(y, weights=sample_weight)
    expected = totals.sum() / (3 * totals)
    params = dict(max_iter=20, random_state=0)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params)
    balanced.fit(X, y, sample_weight=sample_weight)
    reference = ScratchMLPClassifier(**params)
    reference.fit(X, y, sample_weight=expected[y] * sample_weight)
    assert_same_weights(balanced, reference)


def test_class_weight_balanced_for_multilabel_targets(iris):
    """Each label's 0s and 1s are balanced; a sample's weight is the product."""
    X, y = iris
    Y = np.c_[y == 0, y != 1].astype(int)  # label 0: 50 ones; label 1: 100 ones
    column_0 = np.where(Y[:, 0] == 1, 150 / (2 * 50), 150 / (2 * 100))
    column_1 = np.where(Y[:, 1] == 1, 150 / (2 * 100), 150 / (2 * 50))
    params = dict(max_iter=20, random_state=0)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params).fit(X, Y)
    reference = ScratchMLPClassifier(**params)
    reference.fit(X, Y, sample_weight=column_0 * column_1)
    assert_same_weights(balanced, reference)


def test_class_weight_balanced_helps_the_minority_class():
    X, y = make_classification(
        2000, 6, n_informative=4, weights=[0.95], flip_y=0.02, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, stratify=y, random_state=0
    )
    params = dict(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
    plain = ScratchMLPClassifier(**params).fit(X_train, y_train)
    balanced = ScratchMLPClassifier(class_weight="balanced", **params)
    balanced.fit(X_train, y_train)
    plain_score = balanced_accuracy_score(y_test, plain.predict(X_test))
    balanced_score = balanced_accuracy_score(y_test, balanced.predict(X_test))
    assert balanced_score > plain_score + 0.03


def test_class_weight_in_partial_fit(iris):
    X, y = iris
    per_sample = np.array([2.0, 1.0, 1.0])[y]
    weighted = ScratchMLPClassifier(class_weight={0: 2.0}, random_state=0)
    reference = ScratchMLPClassifier(random_state=0)
    for _ in range(3):
        weighted.partial_fit(X, y, classes=[0, 1, 2])
        reference.partial_fit(X, y, classes=[0, 1, 2], sample_weight=per_sample)
    assert_same_weights(weighted, reference)
    balanced = ScratchMLPClassifier(class_weight="balanced")
    assert not hasattr(balanced, "partial_fit")
    with pytest.raises(ValueError, match="unavailable with class_weight='balanced'"):
        balanced.partial_fit(X, y, classes=[0, 1, 2])


def test_class_weight_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"labels \[7\] that are not among"):
        ScratchMLPClassifier(class_weight={7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="multilabel targets class_weight can only"):
        ScratchMLPClassifier(class_weight={0: 2.0}).fit(X, np.c_[y == 0, y == 1])
    with pytest.raises(ValueError, match="'class_weight' parameter"):
        ScratchMLPClassifier(class_weight={0: -1.0}).fit(X, y)
    with pytest.raises(ValueError, match="'class_weight' parameter"):
        ScratchMLPClassifier(class_weight="auto").fit(X, y)
    with pytest.raises(ValueError, match="weight of zero"):
        ScratchMLPClassifier(class_weight={0: 0, 1: 0, 2: 0}).fit(X, y)


# -- validation_loss_curve_ -----------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_validation_loss_curve(iris, solver):
    X, y = iris
    X = X[:, :2]  # a noisy problem, so the best epoch is not the last
    plain = ScratchMLPClassifier(solver=solver, max_iter=20, random_state=0).fit(X, y)
    assert plain.validation_loss_curve_ is None

    clf = ScratchMLPClassifier(
        solver=solver, early_stopping=True, validation_fraction=0.3, alpha=0.01,
        n_iter_no_change=5, learning_rate_init=0.05, max_iter=200, random_state=0,
    )  # fmt: skip
    clf.fit(X, y)
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_)
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    # Recompute the validation loss of the restored (best) weights by hand:
    # rebuild the split (after the initial weights' draws) and take the
    # log-loss plus the L2 penalty over the validation samples.
    rng = np.random.RandomState(0)
    for coef, intercept in zip(clf.coefs_, clf.intercepts_, strict=True):
        rng.uniform(size=coef.shape)
        rng.uniform(size=intercept.shape)
    _, X_val, _, y_val = train_test_split(
        X, y, test_size=0.3, random_state=rng, stratify=y
    )
    penalty = 0.5 * 0.01 * sum((c**2).sum() for c in clf.coefs_) / len(y_val)
    by_hand = log_loss(y_val, clf.predict_proba(X_val)) + penalty
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert clf.validation_loss_curve_[best_epoch] == pytest.approx(by_hand, rel=1e-9)


def test_validation_loss_curve_for_regression_and_warm_start(iris):
    X, _ = iris
    reg = ScratchMLPRegressor(max_iter=5, random_state=0, warm_start=True)
    reg.fit(X, X[:, 0])
    assert reg.validation_loss_curve_ is None
    reg.set_params(early_stopping=True)
    reg.fit(X, X[:, 0])
    assert len(reg.validation_loss_curve_) == 5
    assert all(np.isfinite(reg.validation_loss_curve_))
    lbfgs = ScratchMLPRegressor(solver="lbfgs", early_stopping=True).fit(X, X[:, 0])
    assert not hasattr(lbfgs, "validation_loss_curve_")


# -- dropout --------------------------------------------------------------------
@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_zero_dropout_is_bit_identical(iris, estimator_class):
    X, y = iris
    params = dict(hidden_layer_sizes=(5, 4), max_iter=10, random_state=0)
    default = estimator_class(**params).fit(X, y)
    zeros = estimator_class(dropout=[0.0, 0.0], **params).fit(X, y)
    for a, b in zip(weights_of(default), weights_of(zeros), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_dropout_trains_reproducibly_and_predicts_deterministically(
    iris, estimator_class
):
    X, y = iris
    params = dict(hidden_layer_sizes=(16, 8), max_iter=30, random_state=0)
    plain = estimator_class(**params).fit(X, y)
    dropped = estimator_class(dropout=0.3, **params).fit(X, y)
    again = estimator_class(dropout=0.3, **params).fit(X, y)
    per_layer = estimator_class(dropout=[0.3, 0.0], **params).fit(X, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    assert not np.allclose(dropped.coefs_[0], per_layer.coefs_[0])
    for a, b in zip(weights_of(dropped), weights_of(again), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dropped.predict(X), dropped.predict(X))
    # the training loss, measured with units dropped, is higher than without
    assert np.mean(dropped.loss_curve_[-5:]) > np.mean(plain.loss_curve_[-5:])


def test_dropout_keeps_partial_fit_masks_fresh(iris):
    X, y = iris
    clf = ScratchMLPClassifier((8,), dropout=0.5, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    generator_state = copy.deepcopy(clf._dropout_rng.bit_generator.state)
    clf.partial_fit(X, y)
    assert clf._dropout_rng.bit_generator.state != generator_state


def test_inverted_dropout_masks():
    network = Network((4, 1000, 2), "identity", "squared_error", np.float64, [0.3])
    network.initialize(np.random.RandomState(0))
    network.set_dropout_rng(np.random.default_rng(0))
    X = np.random.RandomState(1).normal(size=(200, 4))
    kept = network._forward(X, training=False)[0][0].copy()
    dropped = network._forward(X, training=True)[0][0]
    ratio = dropped[kept != 0] / kept[kept != 0]
    assert set(np.round(np.unique(ratio), 12)) == {0.0, round(1 / 0.7, 12)}
    assert (ratio == 0).mean() == pytest.approx(0.3, abs=0.01)
    # scaling by 1/(1 - p) keeps each unit's expected output
    np.testing.assert_allclose(dropped.mean(axis=0), kept.mean(axis=0), atol=0.15)


def test_dropout_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match="2 rates for 1 hidden layer"):
        ScratchMLPClassifier((5,), dropout=[0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        ScratchMLPRegressor(solver="lbfgs", dropout=0.2).fit(X, y)
    for bad in [1.0, -0.1, [0.5, 1.2], "0.5", np.nan]:
        with pytest.raises(ValueError, match="'dropout' parameter"):
            ScratchMLPClassifier((5, 5), dropout=bad).fit(X, y)


# -- check_gradients ----------------------------------------
@pytest.mark.parametrize(
    ("kind", "hidden", "activation"),
    list(
        itertools.product(
            CLASSIFICATION_KINDS + REGRESSION_KINDS,
            [(), (5,), (5, 4)],
            list(ACTIVATIONS),
        )
    ),
)
def test_check_gradients_passes_for_every_configuration(iris, kind, hidden, activation):
    X, y = iris
    X, y = X[::10], y[::10]
    estimator = make_estimator(
        kind, hidden_layer_sizes=hidden, activation=activation, alpha=0.3,
        random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every parameter of a fresh net checked
        error = check_gradients(estimator, X, targets_for(kind, X, y), max_params=None)
    assert error < 1e-6
    assert not hasattr(estimator, "coefs_")  # the estimator was left alone


@pytest.mark.parametrize(
    ("kind", "activation"),
    list(itertools.product(CLASSIFICATION_KINDS + REGRESSION_KINDS, ACTIVATIONS)),
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


# -- LossCurveDisplay ----------------------------------------
@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_loss_curve_display_with_validation_curves(iris, pyplot):
    X, y = iris
    clf = ScratchMLPClassifier(
        early_stopping=True, max_iter=30, random_state=0, learning_rate_init=0.01
    ).fit(X, y)
    display = LossCurveDisplay.from_estimator(clf)
    assert display.ax_.figure is display.figure_
    np.testing.assert_array_equal(display.line_.get_ydata(), clf.loss_curve_)
    np.testing.assert_array_equal(
        display.validation_line_.get_ydata(), clf.validation_loss_curve_
    )
    np.testing.assert_array_equal(
        display.score_line_.get_ydata(), clf.validation_scores_
    )
    np.testing.assert_array_equal(
        display.line_.get_xdata(), np.arange(1, clf.n_iter_ + 1)
    )
    assert display.score_ax_.get_ylabel() == "validation accuracy"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["training loss", "validation loss", "validation accuracy"]
    assert display.ax_.get_title() == "ScratchMLPClassifier"


def test_loss_curve_display_without_validation(iris, pyplot):
    X, _ = iris
    reg = ScratchMLPRegressor(max_iter=10, random_state=0).fit(X, X[:, 0])
    _, ax = pyplot.subplots()
    display = LossCurveDisplay.from_estimator(reg, ax=ax, name="mine", color="red")
    assert display.ax_ is ax
    assert display.validation_line_ is None and display.score_line_ is None
    assert display.line_.get_color() == "red"
    assert ax.get_title() == "mine"


def test_loss_curve_display_errors(iris, pyplot, monkeypatch):
    X, y = iris
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(ScratchMLPClassifier())
    lbfgs = ScratchMLPClassifier(solver="lbfgs", max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="needs loss_curve_"):
        LossCurveDisplay.from_estimator(lbfgs)
    adam = ScratchMLPClassifier(max_iter=5).fit(X, y)
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        LossCurveDisplay.from_estimator(adam)


def test_loss_curve_display_from_a_pipeline_or_a_search(iris, pyplot):
    X, y = iris
    network = ScratchMLPClassifier((4,), max_iter=8, random_state=0)
    pipeline = make_pipeline(StandardScaler(), network).fit(X, y)
    display = LossCurveDisplay.from_estimator(pipeline)
    np.testing.assert_array_equal(display.line_.get_ydata(), pipeline[-1].loss_curve_)

    grid = {"scratchmlpclassifier__alpha": [1e-4, 1e-1]}
    search = GridSearchCV(make_pipeline(StandardScaler(), network), grid, cv=2)
    search.fit(X, y)
    display = LossCurveDisplay.from_estimator(search)
    best = search.best_estimator_[-1]
    np.testing.assert_array_equal(display.line_.get_ydata(), best.loss_curve_)

    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(make_pipeline(StandardScaler(), clone(network)))
    no_refit = GridSearchCV(network, {"alpha": [1e-4, 1e-1]}, cv=2, refit=False)
    with pytest.raises(ValueError, match="refit=False has no best_estimator_"):
        LossCurveDisplay.from_estimator(no_refit.fit(X, y))
    for other in [LogisticRegression().fit(X, y), make_pipeline(LogisticRegression())]:
        with pytest.raises(ValueError, match="needs a ScratchMLPClassifier or"):
            LossCurveDisplay.from_estimator(other)
