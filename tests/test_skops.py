"""Secure persistence with skops: a fitted estimator's file names no types but
ours, loads trusting exactly those, and predicts and keeps training like the
original."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import (
    CLASSIFICATION_KINDS,
    REGRESSION_KINDS,
    assert_same_weights,
    guide_python_blocks,
    make_estimator,
    targets_for,
)
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier, _optimizers

skops_io = pytest.importorskip(
    "skops.io", reason='needs the test extra: pip install ".[test]"'
)

KINDS = CLASSIFICATION_KINDS + REGRESSION_KINDS


def fitted(kind, solver, dtype, X, y):
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


def skops_round_trip(estimator):
    data = skops_io.dumps(estimator)
    untrusted = skops_io.get_untrusted_types(data=data)
    return skops_io.loads(data, trusted=untrusted), untrusted


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", _optimizers.SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_skops_file_names_only_our_types_and_predicts_identically(
    iris, kind, solver, dtype
):
    X, y = iris
    estimator = fitted(kind, solver, dtype, X, y)
    restored, untrusted = skops_round_trip(estimator)

    # Only our own classes need trusting: the estimator and, for sgd and adam,
    # the optimizer it keeps for partial_fit.
    assert f"{type(estimator).__module__}.{type(estimator).__name__}" in untrusted
    assert all(name.split(".")[0] == "sknn_scratch" for name in untrusted), untrusted
    if _optimizers.SOLVERS[solver].stochastic:
        optimizer = type(estimator._optimizer)
        assert f"{optimizer.__module__}.{optimizer.__name__}" in untrusted

    X_test = X.astype(dtype)
    methods = ["predict"]
    if isinstance(estimator, ScratchMLPClassifier):
        methods += ["predict_proba", "predict_log_proba"]
    for method in methods:
        expected = getattr(estimator, method)(X_test)
        actual = getattr(restored, method)(X_test)
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", _optimizers.SOLVERS)
@pytest.mark.parametrize("kind", ["multiclass", "squared_error"])
def test_skops_loaded_estimator_keeps_training_like_the_original(
    iris, kind, solver, dtype
):
    X, y = iris
    X_train, target = X.astype(dtype), targets_for(kind, X, y)
    original = fitted(kind, solver, dtype, X, y)
    restored, _ = skops_round_trip(original)

    if _optimizers.SOLVERS[solver].stochastic:
        # partial_fit goes on with the optimizer's state (moments, velocity,
        # step count), which came through the file
        for estimator in (original, restored):
            estimator.partial_fit(X_train, target)
        assert_same_weights(original, restored, rtol=0, atol=0)

    # warm_start: fit goes on from the loaded weights
    for estimator in (original, restored):
        estimator.set_params(warm_start=True, max_iter=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X_train, target)
    assert_same_weights(original, restored, rtol=0, atol=0)


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


def test_readme_snippet_runs(tmp_path):
    """The guide's example on the "Deploying" page runs as it is written."""
    (snippet,) = [b for b in guide_python_blocks("deploying") if "skops" in b]
    result = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
