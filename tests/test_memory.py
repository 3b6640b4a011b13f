"""Memory that does not grow with the data: predictions in chunks of rows,
training with at most one copy of X, out-of-core training over a memmap.

Peaks are measured with tracemalloc (``helpers.traced_peak``), which sees
NumPy's buffers; no time is measured.
"""

import functools
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import MiB, traced_peak
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch import ScratchMLPClassifier, ScratchMLPRegressor, _optimizers

pytestmark = pytest.mark.usefixtures("each_engine")

SOLVERS = list(_optimizers.SOLVERS)
MB = 1e6


@pytest.mark.slow
def test_prediction_memory_does_not_grow_with_rows():
    """100,000 rows through hidden layers (1024, 1024): computed in one pass,
    each hidden layer alone would take 100,000 × 1024 × 4 B = 391 MiB."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100_000, 20)).astype(np.float32)
    clf = ScratchMLPClassifier(hidden_layer_sizes=(1024, 1024), random_state=0)
    clf.partial_fit(X[:20], np.arange(20) % 10, classes=range(10))
    extra = traced_peak(lambda: clf.predict_proba(X))[1] - X.shape[0] * 10 * 4
    assert extra < 100 * MiB, extra / MiB


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# -- partial_fit over a numpy.memmap -----------------------------------------------

N_ROWS, N_FEATURES, CHUNK_ROWS = 100_000, 100, 5_000  # an 80 MB float64 file


@pytest.fixture(scope="module")
def memmap_data(tmp_path_factory) -> tuple[Path, Path, Path]:
    """X.npy (80 MB), a binary and a continuous target, written chunk by chunk."""
    directory = tmp_path_factory.mktemp("out_of_core")
    rng = np.random.default_rng(0)
    w = rng.standard_normal(N_FEATURES) / np.sqrt(N_FEATURES)
    paths = directory / "X.npy", directory / "labels.npy", directory / "targets.npy"
    X = np.lib.format.open_memmap(paths[0], "w+", np.float64, (N_ROWS, N_FEATURES))
    labels = np.lib.format.open_memmap(paths[1], "w+", np.int64, (N_ROWS,))
    targets = np.lib.format.open_memmap(paths[2], "w+", np.float64, (N_ROWS,))
    for start in range(0, N_ROWS, CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        X[rows] = rng.standard_normal((CHUNK_ROWS, N_FEATURES))
        signal = np.tanh(X[rows] @ w)
        labels[rows] = signal + 0.3 * rng.standard_normal(CHUNK_ROWS) > 0
        targets[rows] = signal + 0.1 * rng.standard_normal(CHUNK_ROWS)
    for array in (X, labels, targets):
        array.flush()
    del X, labels, targets
    return paths


def stream(model, X: np.ndarray, y: np.ndarray, classifier: bool):
    """One pass of partial_fit over X and y in chunks of CHUNK_ROWS rows."""
    kwargs = {"classes": [0, 1]} if classifier else {}
    for start in range(0, N_ROWS, CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        model.partial_fit(X[start:stop], y[start:stop], **kwargs)
    return model


@pytest.mark.parametrize("estimator_class", [ScratchMLPClassifier, ScratchMLPRegressor])
def test_out_of_core_partial_fit_memory_is_bounded(memmap_data, estimator_class):
    X_path, labels_path, targets_path = memmap_data
    classifier = estimator_class is ScratchMLPClassifier
    y_path = labels_path if classifier else targets_path
    file_bytes = X_path.stat().st_size
    assert file_bytes >= 80 * MB

    def make_model():
        return estimator_class(hidden_layer_sizes=(16,), random_state=0)

    def out_of_core():
        X, y = np.load(X_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")
        return stream(make_model(), X, y, classifier)

    def in_memory():
        X, y = np.load(X_path), np.load(y_path)
        return stream(make_model(), X, y, classifier)

    streamed, streamed_peak = traced_peak(out_of_core)
    loaded, loaded_peak = traced_peak(in_memory)

    # tracemalloc sees NumPy's buffers: loading the file shows in full ...
    assert loaded_peak > 0.95 * file_bytes
    # ... while streaming it through partial_fit holds a few chunks at most
    # (a chunk is 4 MB, a twentieth of the file).
    assert streamed_peak < file_bytes / 8, f"{streamed_peak / MB:.1f} MB traced"

    assert len(streamed.loss_curve_) == N_ROWS // CHUNK_ROWS
    assert streamed.loss_curve_ == loaded.loss_curve_
    for theirs, ours in zip(
        streamed.coefs_ + streamed.intercepts_,
        loaded.coefs_ + loaded.intercepts_,
        strict=True,
    ):
        np.testing.assert_array_equal(theirs, ours)
    # and it learned: the first chunks' loss is well above the last ones'
    assert np.mean(streamed.loss_curve_[-3:]) < 0.8 * np.mean(streamed.loss_curve_[:3])
