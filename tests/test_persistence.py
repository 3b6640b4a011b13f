"""Saving and loading a fitted estimator: pickle, joblib and skops.

Whatever the format, a loaded estimator (alone or in a pipeline) predicts
exactly what the original predicts and keeps training exactly like it
(partial_fit goes on with the optimizer's state, warm start from the weights).
A skops file names no types but ours, so it loads trusting exactly those; a
pickle carries no scratch buffers.
"""

import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from helpers import (
    CLASSIFICATION_KINDS,
    REGRESSION_KINDS,
    assert_same_weights,
    make_estimator,
    targets_for,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor, SmoothClipScaler
from sknn_scratch._reference import _optimizers
from sknn_scratch._reference._optimizers import Adam

try:
    import skops.io as skops_io
except ImportError:  # the test extra is not installed
    skops_io = None

needs_skops = pytest.mark.skipif(
    skops_io is None, reason='needs the test extra: pip install ".[test]"'
)
# every format is tried in each test (skops where the test extra is installed)
FORMATS = ["pickle", "joblib"] + ([] if skops_io is None else ["skops"])
KINDS = CLASSIFICATION_KINDS + REGRESSION_KINDS
DTYPES = [np.float64, np.float32]


def round_trip(estimator, file_format: str, tmp_path):
    """The estimator saved in ``file_format`` and loaded again."""
    if file_format == "pickle":
        return pickle.loads(pickle.dumps(estimator))
    if file_format == "joblib":
        path = tmp_path / "model.joblib"
        joblib.dump(estimator, path)
        return joblib.load(path)
    return skops_round_trip(estimator)[0]


def skops_round_trip(estimator):
    """Loaded from a skops file trusting the types it names; and those types."""
    data = skops_io.dumps(estimator)
    untrusted = skops_io.get_untrusted_types(data=data)
    return skops_io.loads(data, trusted=untrusted), untrusted


def fit(kind, solver, dtype, X, y):
    estimator = make_estimator(
        kind,
        hidden_layer_sizes=(5,),
        solver=solver,
        max_iter=8,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X.astype(dtype), targets_for(kind, X, y))
    return estimator


def assert_only_our_types(estimator, solver, untrusted) -> None:
    """Only our own classes need trusting: the estimator and, for sgd and
    adam, the optimizer it keeps for partial_fit."""
    assert f"{type(estimator).__module__}.{type(estimator).__name__}" in untrusted
    assert all(name.split(".")[0] == "sknn_scratch" for name in untrusted), untrusted
    if _optimizers.SOLVERS[solver].stochastic:
        optimizer = type(estimator._optimizer)
        assert f"{optimizer.__module__}.{optimizer.__name__}" in untrusted


def prediction_methods(estimator) -> list[str]:
    methods = ["predict", "predict_proba", "predict_log_proba"]
    return [method for method in methods if hasattr(estimator, method)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", _optimizers.SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_loaded_estimator_predicts_identically(iris, kind, solver, dtype, tmp_path):
    X, y = iris
    estimator = fit(kind, solver, dtype, X, y)
    X_test = X.astype(dtype)
    for file_format in FORMATS:
        if file_format == "skops":
            restored, untrusted = skops_round_trip(estimator)
            assert_only_our_types(estimator, solver, untrusted)
        else:
            restored = round_trip(estimator, file_format, tmp_path)
        for method in prediction_methods(estimator):
            expected = getattr(estimator, method)(X_test)
            actual = getattr(restored, method)(X_test)
            assert actual.dtype == expected.dtype, file_format
            np.testing.assert_array_equal(actual, expected, err_msg=file_format)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", _optimizers.SOLVERS)
@pytest.mark.parametrize("kind", ["multiclass", "squared_error"])
def test_loaded_estimator_keeps_training_like_the_original(
    iris, kind, solver, dtype, tmp_path
):
    """Copies loaded from each format train along with the original, step for
    step, to the same weights."""
    X, y = iris
    X_train, target = X.astype(dtype), targets_for(kind, X, y)
    original = fit(kind, solver, dtype, X, y)

    def assert_in_step(copies):
        for file_format, restored in copies.items():
            try:
                assert_same_weights(original, restored, rtol=0, atol=0)
            except AssertionError as error:
                raise AssertionError(f"loaded from {file_format}: {error}") from None

    if _optimizers.SOLVERS[solver].stochastic:
        # partial_fit goes on with the optimizer's state (moments, velocity,
        # step count), which came through the file: saved after fit, then
        # after a partial_fit
        for _ in range(2):
            copies = {f: round_trip(original, f, tmp_path) for f in FORMATS}
            for estimator in (original, *copies.values()):
                estimator.partial_fit(X_train, target)
            assert_in_step(copies)

    # warm_start: fit goes on from the loaded weights
    copies = {f: round_trip(original, f, tmp_path) for f in FORMATS}
    for estimator in (original, *copies.values()):
        estimator.set_params(warm_start=True, max_iter=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X_train, target)
    assert_in_step(copies)


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_loaded_pipeline_predicts_identically(iris, estimator_class, tmp_path):
    X, y = iris
    y = y if estimator_class is ScratchMLPClassifier else X[:, 0]
    network = estimator_class(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    pipeline = make_pipeline(StandardScaler(), network).fit(X, y)
    for file_format in FORMATS:
        restored = round_trip(pipeline, file_format, tmp_path)
        for method in prediction_methods(pipeline):
            np.testing.assert_array_equal(
                getattr(restored, method)(X),
                getattr(pipeline, method)(X),
                err_msg=file_format,
            )
        assert restored.score(X, y) == pipeline.score(X, y), file_format


@pytest.mark.parametrize("targets", [1, 2])
def test_several_quantiles_load_predict_and_train_on_alike(iris, targets, tmp_path):
    """The quantiles the network was fitted for come through the file: the
    copy predicts the same sorted quantiles, scores them alike, trains on in
    step, and refuses other quantiles as the original does."""
    X, _ = iris
    X, y = X[:, 2:], (X[:, 0] if targets == 1 else X[:, :2])
    original = ScratchMLPRegressor(
        loss="quantile", quantile=(0.1, 0.5, 0.9), hidden_layer_sizes=(5,),
        max_iter=8, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        original.fit(X, y)
    copies = {}
    for file_format in FORMATS:
        if file_format == "skops":
            restored, untrusted = skops_round_trip(original)
            assert_only_our_types(original, "adam", untrusted)
        else:
            restored = round_trip(original, file_format, tmp_path)
        predicted = restored.predict(X)
        assert predicted.shape == original.predict(X).shape
        np.testing.assert_array_equal(predicted, original.predict(X))
        assert restored.score(X, y) == original.score(X, y)
        copies[file_format] = restored
    for estimator in (original, *copies.values()):
        estimator.partial_fit(X, y)
    for restored in copies.values():
        assert_same_weights(original, restored, rtol=0, atol=0)
        restored.set_params(quantile=[0.2, 0.8])
        with pytest.raises(ValueError, match=r"the quantiles \[0.1, 0.5, 0.9\]"):
            restored.partial_fit(X, y)


# Numerical embeddings, packed members and standardised targets: fitted
# attributes of their own (embedding_ and its bins, embedding_params_,
# member_scales_, y_mean_ and y_scale_) that a file must carry.
TABULAR = {
    "periodic": {"embedding": "periodic", "embedding_size": 3},
    "piecewise_linear": {"embedding": "piecewise_linear", "embedding_columns": [0, 2]},
    "members": {"n_members": 3},
    "members, periodic": {
        "n_members": 2,
        "embedding": "periodic",
        "embedding_columns": [1],
    },
    "normalize_y": {"normalize_y": True},
    "members, piecewise_linear, normalize_y": {
        "n_members": 2,
        "embedding": "piecewise_linear",
        "normalize_y": True,
    },
}


def trained_arrays(estimator) -> list[np.ndarray]:
    """Every array training changes: the layers, the members' scales and the
    embedding's frequencies."""
    extra = [
        getattr(estimator, name, None)
        for name in ("member_scales_", "embedding_params_")
    ]
    return [
        *estimator.coefs_,
        *estimator.intercepts_,
        *(a for a in extra if a is not None),
    ]


def assert_in_step(original, restored, file_format) -> None:
    for a, b in zip(trained_arrays(original), trained_arrays(restored), strict=True):
        assert a.dtype == b.dtype, file_format
        np.testing.assert_array_equal(a, b, err_msg=file_format)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("kind", "options"),
    [
        (kind, options)
        for kind in ("multiclass", "squared_error")
        for options in TABULAR
        if kind == "squared_error" or "normalize_y" not in TABULAR[options]
    ],
)
def test_embeddings_members_and_normalize_y_load_predict_and_train_alike(
    iris, kind, options, dtype, tmp_path
):
    X, y = iris
    target = targets_for(kind, X, y)
    if kind == "squared_error":
        target = 1e3 * target + 40  # (for normalize_y, far from standardised)
    X_train = X.astype(dtype)
    original = make_estimator(
        kind, hidden_layer_sizes=(5,), max_iter=8, random_state=0, **TABULAR[options]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        original.fit(X_train, target)
    copies = {}
    for file_format in FORMATS:
        if file_format == "skops":
            restored, untrusted = skops_round_trip(original)
            assert_only_our_types(original, "adam", untrusted)
        else:
            restored = round_trip(original, file_format, tmp_path)
        for method in prediction_methods(original):
            expected = getattr(original, method)(X_train)
            actual = getattr(restored, method)(X_train)
            assert actual.dtype == expected.dtype, file_format
            np.testing.assert_array_equal(actual, expected, err_msg=file_format)
        embedding = getattr(original, "embedding_", None)
        if embedding is not None:
            loaded = restored.embedding_
            assert loaded.kind == embedding.kind
            np.testing.assert_array_equal(loaded.columns, embedding.columns)
            if embedding.kind == "piecewise_linear":  # the bins of the first fit
                for a, b in zip(loaded.constants, embedding.constants, strict=True):
                    np.testing.assert_array_equal(a, b)
        for name in ("y_mean_", "y_scale_"):
            if hasattr(original, name):
                np.testing.assert_array_equal(
                    getattr(restored, name), getattr(original, name)
                )
        assert_in_step(original, restored, file_format)
        copies[file_format] = restored

    # partial_fit goes on with the optimizer's state, on data whose bins and
    # moments would differ: the fitted ones are kept
    for estimator in (original, *copies.values()):
        estimator.partial_fit(X_train * 2, target)
    for file_format, restored in copies.items():
        assert_in_step(original, restored, file_format)
    # warm start goes on from the loaded weights
    copies = {f: round_trip(original, f, tmp_path) for f in FORMATS}
    for estimator in (original, *copies.values()):
        estimator.set_params(warm_start=True, max_iter=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X_train, target)
    for file_format, restored in copies.items():
        assert_in_step(original, restored, file_format)
        np.testing.assert_array_equal(
            restored.predict(X_train), original.predict(X_train), err_msg=file_format
        )


def test_loaded_smooth_clip_scaler_transforms_identically(iris, tmp_path):
    """The scaler, fitted on named columns, in every format; its skops file
    names no type but the scaler."""
    X, _ = iris
    frame = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    scaler = SmoothClipScaler(max_abs=2.0).set_output(transform="pandas").fit(frame)
    for file_format in FORMATS:
        restored = round_trip(scaler, file_format, tmp_path)
        pd.testing.assert_frame_equal(
            restored.transform(frame), scaler.transform(frame), obj=file_format
        )
        scaled = scaler.transform(frame)
        np.testing.assert_array_equal(
            restored.inverse_transform(scaled),
            scaler.inverse_transform(scaled),
            err_msg=file_format,
        )
    if skops_io is not None:
        _, untrusted = skops_round_trip(scaler)
        assert untrusted == ["sknn_scratch._estimators._smooth_clip.SmoothClipScaler"]


def test_optimizer_pickles_without_its_scratch_vector():
    optimizer = Adam(1000, np.float32)
    optimizer.step(np.zeros(1000, np.float32), np.ones(1000, np.float32))
    restored = pickle.loads(pickle.dumps(optimizer))
    assert restored._scratch is None
    np.testing.assert_array_equal(restored.m, optimizer.m)


@needs_skops
def test_skops_file_of_our_options_names_only_our_types(iris):
    """String labels, feature names, class weights, dropout and early stopping
    leave nothing in the file that skops does not trust."""
    X, y = iris
    frame = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    classifier = ScratchMLPClassifier(
        hidden_layer_sizes=(5,),
        class_weight="balanced",
        dropout=0.2,
        early_stopping=True,
        max_iter=8,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(frame, labels)
    restored, untrusted = skops_round_trip(classifier)
    assert all(name.split(".")[0] == "sknn_scratch" for name in untrusted), untrusted
    np.testing.assert_array_equal(restored.feature_names_in_, frame.columns)
    np.testing.assert_array_equal(
        restored.predict_proba(frame), classifier.predict_proba(frame)
    )
    np.testing.assert_array_equal(restored.predict(frame), classifier.predict(frame))


# Files that version 0.1.0 saved (tests/data), when the estimators and the
# optimizers lived at the top of the package (sknn_scratch._classifier, ...).
SAVED_BY_0_1_0 = sorted((Path(__file__).parent / "data").glob("*_0.1.0.*"))


@pytest.mark.parametrize("path", SAVED_BY_0_1_0, ids=lambda path: path.name)
def test_files_saved_by_version_0_1_0_load_and_keep_training(path, iris):
    if path.suffix == ".skops":
        if skops_io is None:
            pytest.skip('needs the test extra: pip install ".[test]"')
        trusted = skops_io.get_untrusted_types(file=path)
        # the file names the old paths, and a trusted list of them still works
        assert trusted and all(
            name.count(".") == 2 and name.startswith("sknn_scratch._")
            for name in trusted
        )
        estimator = skops_io.load(path, trusted=trusted)
    else:
        estimator = pickle.loads(path.read_bytes())
    assert isinstance(estimator, (ScratchMLPClassifier, ScratchMLPRegressor))
    X, y = iris
    X = X[:, : estimator.n_features_in_]
    # the loaded network predicts what its own weights say
    a = X
    for W, b in zip(estimator.coefs_[:-1], estimator.intercepts_[:-1], strict=True):
        a = np.maximum(a @ W + b, 0.0)
    logits = a @ estimator.coefs_[-1] + estimator.intercepts_[-1]
    if isinstance(estimator, ScratchMLPClassifier):
        expected = estimator.classes_[logits.argmax(axis=1)]
        np.testing.assert_array_equal(estimator.predict(X), expected)
        target = y
    else:
        np.testing.assert_allclose(estimator.predict(X), logits.ravel(), rtol=1e-12)
        target = X[:, 0]
    # and goes on training from the optimizer state it was saved with
    steps = estimator._optimizer.__dict__.get("t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.partial_fit(X, target)
    if steps is not None:  # Adam counts its steps on
        assert estimator._optimizer.t > steps
