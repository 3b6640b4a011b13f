"""Property-based tests: whatever shape, dtype or magnitude the data has, fit and
predict either succeed with finite outputs or raise a ValueError — never another
exception, never a warning from NumPy, never NaN."""

import warnings

import numpy as np
import pytest
from helpers import loss_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor
from sknn_scratch._activations import ACTIVATIONS
from sknn_scratch._losses import REGRESSION_LOSSES
from sknn_scratch._optimizers import SOLVERS

pytestmark = [
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
    pytest.mark.filterwarnings("ignore:Got `batch_size`.*clipped:UserWarning"),
]

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


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_single_row(solver):
    X = np.array([[1.0, -2.0, 3.0]])
    reg = ScratchMLPRegressor(solver=solver, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, [0.5])
    assert np.isfinite(reg.predict(X)).all()
    with pytest.raises(ValueError, match="at least 2 classes"):
        ScratchMLPClassifier(solver=solver).fit(X, [1])
