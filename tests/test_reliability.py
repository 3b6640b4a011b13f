"""Reliability: numerical extremes, divergence, determinism and persistence,
concurrency, and bounded memory."""

import functools
import io
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import (
    CLASSIFICATION_KINDS,
    REGRESSION_KINDS,
    MiB,
    assert_same_weights,
    make_estimator,
    targets_for,
    traced_peak,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sknn_scratch import (
    ScratchMLPClassifier,
    ScratchMLPRegressor,
    _activations,
    _optimizers,
)

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


@pytest.mark.parametrize(
    ("estimator_class", "solver"),
    [
        (ScratchMLPRegressor, "adam"),
        (ScratchMLPRegressor, "sgd"),
        (ScratchMLPRegressor, "lbfgs"),
        (ScratchMLPClassifier, "sgd"),
    ],
)
def test_divergence_is_a_value_error_that_says_what_to_try(
    iris, estimator_class, solver
):
    # Squared errors of 1e200-sized targets overflow; so do SGD's steps of
    # 1000 × a 1e200-sized gradient. (Adam's steps stay near the learning rate,
    # and a log-loss grows only linearly, so a classifier under Adam trains —
    # badly — without overflowing.)
    X, y = iris
    y = y if estimator_class is ScratchMLPClassifier else y * 1e200
    estimator = estimator_class(solver=solver, learning_rate_init=1e3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(
            ValueError, match=r"diverged.*Scale the inputs.*learning_rate_init"
        ):
            estimator.fit(X * 1e200, y)
    assert not hasattr(estimator, "coefs_")


@pytest.mark.parametrize("solver", SOLVERS)
def test_persistence_predicts_identically(iris, solver, tmp_path):
    X, y = iris
    clf = ScratchMLPClassifier(solver=solver, max_iter=30, random_state=0)
    reg = ScratchMLPRegressor(solver=solver, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        reg.fit(X, X[:, 0])
    for estimator in [clf, reg]:
        restored = pickle.loads(pickle.dumps(estimator))
        path = tmp_path / "model.joblib"
        joblib.dump(estimator, path)
        from_joblib = joblib.load(path)
        methods = ["predict", "predict_proba", "predict_log_proba"]
        for method in [m for m in methods if hasattr(estimator, m)]:
            expected = getattr(estimator, method)(X)
            np.testing.assert_array_equal(getattr(restored, method)(X), expected)
            np.testing.assert_array_equal(getattr(from_joblib, method)(X), expected)


def test_unpickled_estimator_keeps_training_like_the_original(iris):
    X, y = iris
    original = ScratchMLPClassifier(solver="adam", random_state=0)
    original.partial_fit(X, y, classes=[0, 1, 2])
    buffer = io.BytesIO()
    pickle.dump(original, buffer)
    restored = pickle.loads(buffer.getvalue())
    original.partial_fit(X, y)
    restored.partial_fit(X, y)
    for a, b in zip(original.coefs_, restored.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def input_variants(X):
    yield "C float64", np.ascontiguousarray(X)
    yield "F float64", np.asfortranarray(X)
    yield "float32", X.astype(np.float32)
    yield "int", (X * 10).astype(np.int64)
    yield "strided view", np.repeat(X, 2, axis=0)[::2]
    yield "CSR", sp.csr_matrix(X)
    yield "CSC", sp.csc_matrix(X)
    yield "DataFrame", pd.DataFrame(X, columns=list("abcd"))
    readonly = X.copy()
    readonly.setflags(write=False)
    yield "read-only", readonly


def snapshot(value):
    if sp.issparse(value):
        return value.copy()
    if isinstance(value, pd.DataFrame):
        return value.copy(deep=True)
    return np.array(value, copy=True)


def assert_unchanged(before, after):
    if sp.issparse(before):
        assert (before != after).nnz == 0
        assert before.format == after.format
    elif isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(before, after)
    else:
        np.testing.assert_array_equal(before, after)
        assert before.dtype == after.dtype


@pytest.mark.parametrize("solver", SOLVERS)
def test_inputs_are_never_modified(iris, solver):
    X, y = iris
    for _, X_variant in input_variants(X):
        for estimator, target_values in [
            (ScratchMLPClassifier(solver=solver, max_iter=3, random_state=0), y),
            (ScratchMLPRegressor(solver=solver, max_iter=3, random_state=0), X[:, 0]),
        ]:
            for y_variant in [target_values, target_values.astype(np.float32)]:
                weights = np.linspace(0.5, 2.0, len(y)).astype(np.float32)
                kept = [snapshot(v) for v in (X_variant, y_variant, weights)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    estimator.fit(X_variant, y_variant, sample_weight=weights)
                    if solver != "lbfgs":
                        estimator.partial_fit(
                            X_variant, y_variant, sample_weight=weights
                        )
                for original, now in zip(
                    kept, (X_variant, y_variant, weights), strict=True
                ):
                    assert_unchanged(original, now)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_grid_search_threads_processes_and_sequential_agree(
    iris, estimator_class, solver
):
    X, y = iris
    y = y if estimator_class is ScratchMLPClassifier else X[:, 0] + y
    grid = {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-1]}
    scores = {}
    for backend, n_jobs in [("sequential", 1), ("threading", 2), ("loky", 2)]:
        estimator = estimator_class(solver=solver, max_iter=30, random_state=0)
        search = GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with joblib.parallel_config(backend=backend):
                search.fit(X, y)
        scores[backend] = search.cv_results_["mean_test_score"]
    np.testing.assert_array_equal(scores["threading"], scores["sequential"])
    np.testing.assert_array_equal(scores["loky"], scores["sequential"])


def test_prediction_memory_does_not_grow_with_rows():
    """100,000 rows through hidden layers (1024, 1024): computed in one pass,
    each hidden layer alone would take 100,000 × 1024 × 4 B = 391 MiB."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100_000, 20)).astype(np.float32)
    clf = ScratchMLPClassifier(hidden_layer_sizes=(1024, 1024), random_state=0)
    clf.partial_fit(X[:20], np.arange(20) % 10, classes=range(10))
    extra = traced_peak(lambda: clf.predict_proba(X))[1] - X.shape[0] * 10 * 4
    assert extra < 100 * MiB, extra / MiB


def test_every_prediction_method_works_in_chunks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100_000, 20))
    y = rng.randint(0, 10, 100_000)
    clf = ScratchMLPClassifier(hidden_layer_sizes=(256, 256), random_state=0)
    clf.partial_fit(X[:20], np.arange(20) % 10, classes=range(10))
    reg = ScratchMLPRegressor(hidden_layer_sizes=(256, 256), random_state=0)
    reg.partial_fit(X[:20], y[:20])
    for name, call, output_bytes in [
        ("predict_log_proba", lambda: clf.predict_log_proba(X), X.shape[0] * 10 * 8),
        ("predict", lambda: clf.predict(X), X.shape[0] * 10 * 8),
        ("score", lambda: clf.score(X, y), X.shape[0] * 10 * 8),
        ("regressor predict", lambda: reg.predict(X), X.shape[0] * 8),
        ("regressor score", lambda: reg.score(X, y), X.shape[0] * 8),
    ]:
        # one pass at once would hold 100,000 × 256 × 8 B = 195 MiB per layer
        extra = traced_peak(call)[1] - output_bytes
        assert extra < 60 * MiB, (name, extra / MiB)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_training_keeps_at_most_one_copy_of_X(estimator_class, solver):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100_000, 200))  # 153 MiB
    y = rng.randint(0, 2, 100_000)
    # room for targets, batch and chunk buffers, weights and bookkeeping
    allowance = 64 * MiB
    for X_in, copies_allowed in [(X, 0), (np.asfortranarray(X), 1)]:
        clf = estimator_class(hidden_layer_sizes=(16,), solver=solver, max_iter=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            peak = traced_peak(functools.partial(clf.fit, X_in, y))[1]
        assert peak < copies_allowed * X.nbytes + allowance, peak / MiB


def test_early_stopping_split_is_the_only_copy_of_X():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100_000, 200))
    y = rng.randint(0, 2, 100_000)
    clf = ScratchMLPClassifier(
        hidden_layer_sizes=(16,), early_stopping=True, max_iter=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        peak = traced_peak(lambda: clf.fit(X, y))[1]
    assert peak < X.nbytes + 64 * MiB, peak / MiB


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
