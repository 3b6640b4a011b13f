"""The estimator's state across calls: failed calls change nothing, and
continued training (warm start, partial_fit) copes with changed settings."""

import sys
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import weights_of
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


def fitted_state(estimator) -> dict:
    """Every fitted attribute, with arrays and lists copied."""
    state = {}
    for name, value in vars(estimator).items():
        if name.endswith("_") and not name.startswith("__"):
            if isinstance(value, list):
                value = [np.copy(v) if isinstance(v, np.ndarray) else v for v in value]
            elif isinstance(value, np.ndarray):
                value = value.copy()
            state[name] = value
    return state


def assert_same_state(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for name, value in before.items():
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            for a, b in zip(value, after[name], strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(value, after[name])


def test_a_failed_refit_keeps_the_fitted_model(iris):
    X, y = iris
    clf = ScratchMLPClassifier((5,), max_iter=20, random_state=0).fit(X, y)
    before, predicted = fitted_state(clf), clf.predict(X)
    with pytest.raises(ValueError, match="non-negative"):
        clf.fit(X[:, :2], y % 2, sample_weight=-np.ones(150))
    assert_same_state(before, fitted_state(clf))
    np.testing.assert_array_equal(clf.predict(X), predicted)


def test_a_failed_first_fit_leaves_the_estimator_unfitted(iris):
    X, y = iris
    clf = ScratchMLPClassifier(warm_start=True, max_iter=5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(150))
    with pytest.raises(NotFittedError):
        clf.predict(X)
    clf.fit(X, y)  # warm start has nothing to continue from: a fresh fit
    assert list(clf.classes_) == [0, 1, 2]

    early = ScratchMLPClassifier(early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping"):
        early.partial_fit(X, y, classes=[0, 1, 2])
    assert vars(early).keys() == early.get_params().keys()


def test_divergence_in_a_continued_fit_restores_everything(iris):
    X, _ = iris
    reg = ScratchMLPRegressor(
        solver="sgd", learning_rate_init=10.0, warm_start=True, random_state=0
    )
    reg.set_params(max_iter=5, learning_rate_init=1e-3).fit(X, X[:, 0])
    before = fitted_state(reg)
    reg.set_params(learning_rate_init=10.0)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(X * 1e200, X[:, 0] * 1e200)
    assert_same_state(before, fitted_state(reg))


def test_zero_weight_validation_split_is_a_clear_error():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    weights = np.zeros(100)
    weights[:5] = 1.0
    messages = set()
    for seed in range(4):
        reg = ScratchMLPRegressor(
            hidden_layer_sizes=(4,), early_stopping=True, random_state=seed
        )
        try:
            reg.fit(X, y, sample_weight=weights)
        except ValueError as error:
            messages.add(str(error).split(";")[0])
    assert any("validation set split off" in m for m in messages)


def test_continuing_after_a_change_of_solver_or_early_stopping(iris):
    X, y = iris
    clf = ScratchMLPClassifier(solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    assert not hasattr(clf, "loss_curve_")
    clf.set_params(solver="adam")
    clf.partial_fit(X, y)
    assert len(clf.loss_curve_) == 1 and clf.best_loss_ == clf.loss_curve_[0]

    early = ScratchMLPClassifier(early_stopping=True, max_iter=5, random_state=0)
    early.fit(X, y)
    early.set_params(early_stopping=False)
    early.partial_fit(X, y)
    assert early.validation_scores_ is None and np.isfinite(early.best_loss_)

    # a fresh lbfgs fit drops the curves an earlier adam fit left behind
    early.set_params(solver="lbfgs").fit(X, y)
    for name in ["loss_curve_", "validation_scores_", "best_loss_"]:
        assert not hasattr(early, name)


def test_training_continues_in_its_first_precision(iris):
    X, y = iris
    clf = ScratchMLPClassifier(random_state=0)
    for chunk in [X, X.astype(np.float32), X]:
        clf.partial_fit(chunk, y, classes=[0, 1, 2])
    assert clf.coefs_[0].dtype == np.float64
    assert clf._optimizer.t == 3  # one Adam step per call, never restarted


def test_partial_fit_trains_the_fitted_arrays_in_place(iris):
    X, y = iris
    clf = ScratchMLPClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    first_layer = clf.coefs_[0]
    before = first_layer.copy()
    clf.partial_fit(X, y)
    assert clf.coefs_[0] is first_layer or np.shares_memory(clf.coefs_[0], first_layer)
    assert not np.array_equal(first_layer, before)  # as in scikit-learn
    # replaced weights are taken over (copied into a new parameter vector)
    clf.coefs_ = [c * 0.5 for c in clf.coefs_]
    clf.partial_fit(X, y)
    assert clf.coefs_[0].shape == first_layer.shape


def test_multilabel_partial_fit_classes_are_the_columns(iris):
    X, y = iris
    Y = np.c_[y == 0, y == 1, y == 2].astype(int)
    clf = ScratchMLPClassifier()
    with pytest.raises(ValueError, match=r"column indices 0\.\.2"):
        clf.partial_fit(X, Y, classes=[0, 1])
    clf.partial_fit(X, Y, classes=[0, 1, 2])
    clf.partial_fit(X, Y, classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2]


def test_sparse_targets_for_the_regressor(iris):
    X, _ = iris
    Y = np.c_[X[:, 0], np.zeros(150)]
    dense = ScratchMLPRegressor(max_iter=5, random_state=0).fit(X, Y)
    sparse = ScratchMLPRegressor(max_iter=5, random_state=0).fit(X, sp.csr_matrix(Y))
    for a, b in zip(weights_of(dense), weights_of(sparse), strict=True):
        np.testing.assert_array_equal(a, b)


def test_parameter_errors_are_also_type_errors(iris):
    X, y = iris
    with pytest.raises(TypeError, match="'solver' parameter"):
        ScratchMLPClassifier(solver="newton").fit(X, y)
    # an invalid solver reaches the parameter check, which lists the choices
    with pytest.raises(ValueError, match=r"'solver' parameter .* 'lbfgs'"):
        ScratchMLPRegressor(solver="newton").partial_fit(X, y)
    reg = ScratchMLPRegressor(max_iter=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="X must hold numbers"):
            reg.predict(np.full((2, 4), {}, dtype=object))


def test_a_failed_calls_restore_is_atomic_for_other_threads(iris):
    """While one thread's partial_fit fails and restores the estimator, another
    thread predicting never sees it empty (NotFittedError) or half-restored."""
    X, y = iris
    clf = ScratchMLPClassifier((5,), random_state=0).partial_fit(
        X, y, classes=[0, 1, 2]
    )
    bad_weights = -np.ones(len(y))  # refused after the snapshot is taken
    errors, stop = [], threading.Event()

    def predict() -> None:
        while not stop.is_set():
            try:
                for _ in range(20):  # what every prediction does first
                    check_is_fitted(clf)
                clf.predict_proba(X[:5])
            except Exception as error:  # any error here is the failure
                errors.append(error)
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=predict)
    try:
        reader.start()
        for _ in range(1000):
            with pytest.raises(ValueError, match="non-negative"):
                clf.partial_fit(X, y, sample_weight=bad_weights)
            if errors:
                break
    finally:
        stop.set()
        reader.join()
        sys.setswitchinterval(interval)
    assert not errors, repr(errors[0])

    class Watched(dict):
        """An attribute dictionary that must never be emptied in place."""

        def clear(self):
            raise AssertionError("the restore emptied the estimator")

    clf.__dict__ = Watched(vars(clf))
    with pytest.raises(ValueError, match="non-negative"):
        clf.partial_fit(X, y, sample_weight=bad_weights)
    assert "coefs_" in vars(clf)
