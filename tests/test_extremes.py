"""Numerical extremes: whatever the magnitude of the inputs, weights or logits,
fit and predict give finite results or a ValueError that says why, never a
NumPy warning or NaN; one row's result does not depend on the other rows.

The last test draws the data's shape, dtype and magnitude with hypothesis.
(The engine's own functions at extreme values: test_engine.py.)"""

import warnings

import numpy as np
import pytest
from helpers import (
    CLASSIFICATION_KINDS,
    REGRESSION_KINDS,
    assert_same_weights,
    loss_settings,
    make_estimator,
    targets_for,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import (
    ScratchMLPClassifier,
    ScratchMLPRegressor,
    _activations,
    _optimizers,
)
from sknn_scratch._reference._losses import REGRESSION_LOSSES

pytestmark = pytest.mark.usefixtures("each_engine")

SOLVERS = list(_optimizers.SOLVERS)
ACTIVATIONS = list(_activations.ACTIVATIONS)


def outputs(estimator, X):
    if isinstance(estimator, ScratchMLPClassifier):
        proba = estimator.predict_proba(X)
        assert ((proba >= 0) & (proba <= 1)).all()
        if estimator.out_activation_ == "softmax" or estimator.n_outputs_ == 1:
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        # scikit-learn's contract: exactly log(predict_proba), -inf where it is 0
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(estimator.predict_log_proba(X), np.log(proba))
        estimator.predict(X)
        return proba
    return estimator.predict(X)


KINDS = CLASSIFICATION_KINDS + REGRESSION_KINDS


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("scale", [1e8, 1e30, 1e150, 1e-300])
def test_extreme_inputs_give_finite_outputs_or_a_value_error(iris, kind, solver, scale):
    """Training on values around ±1e8 and far beyond never warns, never
    returns non-finite values: it succeeds, or stops with a ValueError."""
    X, y = iris
    for activation in ACTIVATIONS:
        estimator = make_estimator(
            kind, hidden_layer_sizes=(6,), activation=activation, solver=solver,
            max_iter=20, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                estimator.fit(
                    X * scale,
                    targets_for(kind, X, y) * (scale if kind == "squared_error" else 1),
                )
                predicted = outputs(estimator, X * scale)
            except ValueError:
                continue
        assert np.isfinite(predicted).all()  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_predicting_far_outside_the_training_range(iris, kind, activation):
    X, y = iris
    estimator = make_estimator(
        kind, hidden_layer_sizes=(6, 5), activation=activation, solver="lbfgs",
        max_iter=50, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, targets_for(kind, X, y))
    for scale in [1e8, 1e100, 1e300, -1e300]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                predicted = outputs(estimator, X * scale)
            except ValueError as error:
                assert "overflow" in str(error)
                continue
        assert np.isfinite(predicted).all()


def test_saturated_probabilities_stay_exact(iris):
    """Logits of ±1e8 give probabilities 0 and 1, log-probabilities -inf and 0
    (scikit-learn's contract: predict_log_proba is log(predict_proba))."""
    X, y = iris
    clf = ScratchMLPClassifier(hidden_layer_sizes=(), solver="lbfgs").fit(X, y == 0)
    clf.coefs_[0][...] = 1e8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(X)
        log_proba = clf.predict_log_proba(X)
    assert set(np.unique(proba)) == {0.0, 1.0}
    assert set(np.unique(log_proba)) == {-np.inf, 0.0}
    np.testing.assert_array_equal(np.isneginf(log_proba), proba == 0.0)


PREDICTION_METHODS = ["predict", "predict_proba", "predict_log_proba"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden_layer_sizes", [(), (6,)])
@pytest.mark.parametrize("kind", CLASSIFICATION_KINDS)
def test_a_rows_predictions_do_not_depend_on_the_other_rows(
    iris, kind, hidden_layer_sizes, dtype
):
    """Rows of large values among ordinary ones leave the ordinary rows'
    predictions as they are among ordinary rows alone, to rounding; a call
    whose outputs overflow raises for the whole call. Log-probabilities are
    compared absolutely: that is a relative comparison of the probabilities."""
    X, y = iris
    ordinary = X.astype(dtype)
    clf = make_estimator(
        kind, hidden_layer_sizes=hidden_layer_sizes, solver="lbfgs", max_iter=50,
        random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(ordinary, targets_for(kind, X, y))
    expected = {method: getattr(clf, method)(ordinary) for method in PREDICTION_METHODS}
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    largest = float(np.finfo(dtype).max)
    compared = 0
    for scale in [1e3, 1e7, 1e16, 1e30, 1e100, 1e300]:
        if scale * 1e3 > largest:
            continue
        extreme = ordinary[::15] * dtype(scale)  # 10 rows
        mixed = np.concatenate([extreme[:4], ordinary, extreme[4:]])
        for method in PREDICTION_METHODS:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    predicted = getattr(clf, method)(mixed)
                except ValueError as error:
                    assert "overflow" in str(error)
                    continue
            assert not np.isnan(predicted).any()
            got = predicted[4:-6]
            if method == "predict":
                np.testing.assert_array_equal(got, expected[method])
            elif method == "predict_proba":
                np.testing.assert_allclose(got, expected[method], rtol=rtol, atol=0)
            else:
                np.testing.assert_allclose(got, expected[method], rtol=0, atol=rtol)
            compared += 1
    assert compared >= 6


def test_predict_proba_is_never_nan_for_rows_at_opposite_extremes(iris):
    """Logits near +1e307 in one row and near -1.75e308 in another: each row
    gets its own probabilities, and predict answers on the same batch."""
    X, y = iris
    clf = ScratchMLPClassifier(hidden_layer_sizes=(), solver="lbfgs", max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.coefs_[0][...] = np.eye(4, 3)  # logits = the first three features
    clf.intercepts_[0][...] = 0.0
    rows = np.array(
        [[1e307, 5e306, 0.0, 0.0], [-1.75e308] * 3 + [0.0], [1.0, 2.0, 3.0, 0.0]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(rows)
        predicted = clf.predict(rows)
        log_proba = clf.predict_log_proba(rows)
    np.testing.assert_array_equal(proba[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(proba[1], 1 / 3)
    np.testing.assert_allclose(proba[2], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    np.testing.assert_array_equal(predicted, [0, 0, 2])
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(log_proba, np.log(proba))


def test_weights_at_the_ends_of_the_range_give_the_defined_loss(iris):
    """E = Σ s_i ℓ_i / S + ½ α ‖W‖² / S: scaling every weight by c keeps the
    data term and divides the penalty's strength by c. Weights near the ends
    of the range give that result, or an error that names the weights."""
    X, y = iris
    params = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0)
    same = dict(rtol=1e-8, atol=1e-10)

    def fit(estimator, X, y, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow, no NaN warnings
            warnings.simplefilter("ignore", ConvergenceWarning)
            return estimator.fit(X, y, **kwargs)

    # float32 rounding grows over L-BFGS's iterations: fewer of them there
    float32 = dict(rtol=1e-4, atol=1e-5)
    for X_in, c, iterations, tolerance in [
        (X, 1e308, 30, same),
        (X.astype(np.float32), 1e39, 5, float32),
    ]:
        settings = dict(params, max_iter=iterations)
        weighted = fit(
            ScratchMLPRegressor(**settings),
            X_in,
            X[:, 0],
            sample_weight=np.full(150, c),
        )
        expected = fit(ScratchMLPRegressor(alpha=1e-4 / c, **settings), X_in, X[:, 0])
        assert_same_weights(weighted, expected, **tolerance)

    tiny = np.full(150, 1e-320)
    unpenalised = dict(params, alpha=0.0)
    weighted = fit(ScratchMLPRegressor(**unpenalised), X, X[:, 0], sample_weight=tiny)
    expected = fit(ScratchMLPRegressor(**unpenalised), X, X[:, 0])
    assert_same_weights(weighted, expected, **same)
    # with alpha > 0, alpha / S is beyond float64: the error names the weights
    regressor = ScratchMLPRegressor(**params)
    with pytest.raises(
        ValueError, match=r"sample weights .* sum to about 1e-318"
    ) as error:
        fit(regressor, X, X[:, 0], sample_weight=tiny)
    assert "learning_rate" not in str(error.value)
    assert not hasattr(regressor, "coefs_")

    weighted = fit(ScratchMLPClassifier(class_weight={0: 1e308}, **params), X, y)
    expected = fit(
        ScratchMLPClassifier(alpha=1e-4 / 1e308, **params),
        X, y, sample_weight=np.where(y == 0, 1.0, 1e-308),
    )  # fmt: skip
    assert_same_weights(weighted, expected, **same)


# -- any shape, dtype or magnitude (property-based) -------------------------------
MAGNITUDES = [1e-300, 1e-30, 1e-8, 1.0, 1e8, 1e30, 1e150, 1e300]


@st.composite
def datasets(draw):
    n_samples = draw(st.integers(1, 25))
    n_features = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    scale = draw(st.sampled_from(MAGNITUDES))
    X = rng.normal(size=(n_samples, n_features)) * scale
    if draw(st.booleans()):  # a constant column
        X[:, draw(st.integers(0, n_features - 1))] = draw(st.sampled_from(MAGNITUDES))
    if dtype is np.float32:
        with np.errstate(over="ignore"):
            X = X.astype(np.float32)
        X[~np.isfinite(X)] = np.float32(3e38)  # the largest finite float32 scale
    elif dtype is np.int64:
        X = np.clip(X, -1e15, 1e15).astype(np.int64)
    labels = rng.randint(0, draw(st.integers(1, 3)), n_samples)
    y_scale = draw(st.sampled_from(MAGNITUDES))
    targets = rng.normal(size=n_samples) * y_scale
    return X, labels, targets


@st.composite
def estimators(draw):
    params = dict(
        hidden_layer_sizes=draw(st.sampled_from([(), (3,), (4, 3)])),
        activation=draw(st.sampled_from(list(ACTIVATIONS))),
        solver=draw(st.sampled_from(list(SOLVERS))),
        max_iter=draw(st.integers(1, 8)),
        batch_size=draw(st.sampled_from(["auto", 1, 4])),
        random_state=0,
    )
    kind = draw(st.sampled_from(["classifier", *REGRESSION_LOSSES]))
    if kind == "classifier":
        return ScratchMLPClassifier(**params)
    return ScratchMLPRegressor(loss=kind, **loss_settings(kind), **params)


def check_outputs(estimator, X):
    if isinstance(estimator, ScratchMLPClassifier):
        proba = estimator.predict_proba(X)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        # log(predict_proba) exactly: -inf where, and only where, it is 0
        log_proba = estimator.predict_log_proba(X)
        np.testing.assert_array_equal(np.isneginf(log_proba), proba == 0)
        assert np.isfinite(log_proba[proba > 0]).all()
        assert set(estimator.predict(X)) <= set(estimator.classes_)
    else:
        predicted = estimator.predict(X)
        assert np.isfinite(predicted).all()
        assert predicted.shape == (X.shape[0],)


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
@pytest.mark.filterwarnings("ignore:Got `batch_size`.*clipped:UserWarning")
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(data=datasets(), estimator=estimators())
def test_fit_and_predict_succeed_or_raise_value_error(data, estimator):
    X, labels, targets = data
    if isinstance(estimator, ScratchMLPClassifier):
        y = labels
    elif estimator.loss == "poisson":
        y = np.abs(targets)
    else:
        y = targets
    X_before, y_before = X.copy(), y.copy()
    with warnings.catch_warnings():
        # a NumPy floating-point warning reaching the user fails the test
        warnings.simplefilter("error", RuntimeWarning)
        try:
            estimator.fit(X, y)
        except ValueError:
            pass
        else:
            try:
                check_outputs(estimator, X)
            except ValueError as error:
                # only far-out inputs may overflow at prediction
                assert "overflow" in str(error)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
