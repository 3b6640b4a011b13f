"""Threads: BLAS thread limits during fits, and work split over two threads."""

import threading
import time
import warnings
from itertools import pairwise

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

from sknn_scratch import (
    ScratchMLPClassifier,
    _base,
    _network,
    _parallel,
    _threads,
    _training,
)
from sknn_scratch._optimizers import Adam

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


def blas_threads() -> dict[str, int]:
    return {
        info["filepath"]: info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas"
    }


def pool_threads(pools) -> list[int]:
    return [pool.num_threads for pool in pools]


@pytest.fixture
def managed_pools():
    numpy_pools, others = _threads._blas_pools()
    if not numpy_pools:
        pytest.skip("no pthreads OpenBLAS of NumPy's to manage in this install")
    return numpy_pools, others


def test_small_products_train_on_one_blas_thread(iris, monkeypatch, managed_pools):
    X, y = iris
    numpy_pools, _ = managed_pools
    seen = []
    original = _training.MiniBatchTrainer.epoch

    def recording(self, order=None):
        seen.append(pool_threads(numpy_pools))
        return original(self, order)

    monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", recording)
    before = blas_threads()
    ScratchMLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert seen and all(threads == [1] * len(numpy_pools) for threads in seen)
    assert blas_threads() == before  # and the settings come back afterwards


def test_lbfgs_runs_scipys_blas_on_one_thread(iris, monkeypatch, managed_pools):
    X, y = iris
    _, others = managed_pools
    if not others:
        pytest.skip("NumPy and SciPy share one BLAS here")
    seen = []
    original = _base.minimize_lbfgs

    def recording(*args, **kwargs):
        seen.append(pool_threads(others))
        return original(*args, **kwargs)

    monkeypatch.setattr(_base, "minimize_lbfgs", recording)
    before = blas_threads()
    ScratchMLPClassifier((8,), solver="lbfgs", max_iter=5).fit(X, y)
    assert seen == [[1] * len(others)]
    assert blas_threads() == before


def test_concurrent_fits_restore_the_settings(iris):
    X, y = iris
    before = blas_threads()
    errors = []

    def fit(seed):
        try:
            ScratchMLPClassifier((8,), max_iter=20, random_state=seed).fit(X, y)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=fit, args=(seed,)) for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert blas_threads() == before


def test_split_work_gives_the_same_results_on_one_core_or_two(monkeypatch):
    n = 2 * _parallel.PARALLEL_MIN + 3
    rng = np.random.RandomState(0)
    params, grad = rng.normal(size=n), rng.normal(size=n)
    results = []
    for cores in (1, 2):
        monkeypatch.setattr(_parallel, "CORES", cores)
        optimizer, updated = Adam(n, np.float64), params.copy()
        optimizer.step(updated, grad)
        results.append(updated)
    np.testing.assert_array_equal(results[0], results[1])


def test_the_helper_thread_keeps_the_callers_error_state():
    n = 2 * _parallel.PARALLEL_MIN
    optimizer = Adam(n, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning from either half fails
        with np.errstate(over="ignore"):
            optimizer.step(np.zeros(n, np.float32), np.full(n, 1e20, np.float32))


def test_the_helper_threads_errors_reach_the_caller():
    def work(part):
        if part.start > 0:
            raise RuntimeError("from the helper")
        return 1

    with pytest.raises(RuntimeError, match="from the helper"):
        _parallel.in_halves(work, 2 * _parallel.PARALLEL_MIN)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape",
    [(512, 64, 300), (300, 40, 70), (20, 50, 400), (90, 30, 100), (1, 3, 1)],
    ids=["rows", "rows-uneven", "columns", "too-small-to-split", "tiny"],
)
@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("transposed", [False, True])
def test_split_products_equal_numpys(dtype, shape, parts, transposed, monkeypatch):
    monkeypatch.setattr(_parallel, "SPLIT_PRODUCT", 0)  # split even small ones
    rows, inner, cols = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, inner)).astype(dtype)
    if transposed:  # a weight gradient multiplies a transposed view
        a = np.ascontiguousarray(a.T).T
    b = rng.standard_normal((inner, cols)).astype(dtype)
    out = np.full((rows, cols), np.nan, dtype)
    assert _parallel.matmul(a, b, out, parts) is out
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, a @ b, rtol=tol, atol=tol * inner)


def test_split_products_report_errors(monkeypatch):
    monkeypatch.setattr(_parallel, "SPLIT_PRODUCT", 0)
    a, b = np.ones((300, 4)), np.ones((5, 300))  # inner sizes disagree
    with pytest.raises(ValueError):
        _parallel.matmul(a, b, np.empty((300, 300)), 2)


def test_large_products_are_split_over_the_blas_threads(monkeypatch, managed_pools):
    numpy_pools, _ = managed_pools
    threads = max(pool_threads(numpy_pools))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((500, 64)), rng.integers(0, 3, 500)
    seen = []
    original = _training.MiniBatchTrainer.epoch

    def recording(self, order=None):
        seen.append((self.network.matmul_parts, pool_threads(numpy_pools)))
        return original(self, order)

    monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", recording)
    # 500 rows × 64 inputs × 700 units: above SMALL_PRODUCT multiply-adds
    assert 500 * 64 * 700 >= _threads.SMALL_PRODUCT
    model = ScratchMLPClassifier((700,), batch_size=500, max_iter=2, random_state=0)
    model.fit(X, y)
    blocks = min(threads, _parallel.CORES)  # one per BLAS thread, at most one per core
    assert seen == [(blocks, [1] * len(numpy_pools))] * 2
    assert max(pool_threads(numpy_pools)) == threads  # restored afterwards


@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_blocks_cover_the_range_in_order(parts):
    n = 101
    results = _parallel.in_blocks(lambda part: list(range(n))[part], n, parts)
    assert len(results) == parts
    assert [i for block in results for i in block] == list(range(n))


def test_every_block_finishes_before_an_error_is_raised():
    finished = []

    def work(part):
        if part.start == 0:
            raise RuntimeError("from the caller's block")
        time.sleep(0.05)
        finished.append(part.start)

    with pytest.raises(RuntimeError, match="caller's block"):
        _parallel.in_blocks(work, 30, 3)
    assert sorted(finished) == [10, 20]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("output", ["softmax", "logistic", "identity"])
def test_predictions_shared_between_threads_equal_unshared(activation, output):
    rng = np.random.default_rng(0)
    sizes = (7, 300, 20, 4)
    coefs = [rng.standard_normal((i, o)) / np.sqrt(i) for i, o in pairwise(sizes)]
    intercepts = [rng.standard_normal(o) for o in sizes[1:]]
    X = rng.standard_normal((1000, sizes[0]))
    alone = _network.forward(X, coefs, intercepts, activation, output)
    for parts in (2, 3):
        shared = _network.forward(X, coefs, intercepts, activation, output, parts)
        np.testing.assert_allclose(shared, alone, rtol=1e-12, atol=1e-12)


def test_large_predictions_hold_blas_at_one_thread(monkeypatch, managed_pools):
    numpy_pools, _ = managed_pools
    threads = max(pool_threads(numpy_pools))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((400, 64)), rng.integers(0, 3, 400)
    model = ScratchMLPClassifier((600,), max_iter=2, random_state=0).fit(X, y)
    X_new = rng.standard_normal((2000, 64))
    assert _network.chunk_product(2000, model.coefs_, X.dtype) >= (
        _threads.SMALL_PRODUCT
    )
    seen = []
    original = _network.forward

    def recording(*args):
        seen.append((args[-1], pool_threads(numpy_pools)))
        return original(*args)

    monkeypatch.setattr(_base, "forward", recording)
    proba = model.predict_proba(X_new)
    blocks = min(threads, _parallel.CORES)
    assert seen == [(blocks, [1] * len(numpy_pools))]
    assert max(pool_threads(numpy_pools)) == threads  # restored afterwards
    expected = original(X_new, model.coefs_, model.intercepts_, "relu", "softmax")
    np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-12)
    model.predict_proba(X_new[:5])  # a small prediction leaves the pools alone
    assert seen[-1] == (1, [threads] * len(numpy_pools))


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_training_with_split_products_equals_unsplit(
    activation, dropout, monkeypatch, managed_pools
):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((300, 20)), rng.integers(0, 3, 300)
    params = dict(
        hidden_layer_sizes=(150, 140),
        activation=activation,
        dropout=dropout,
        batch_size=256,
        max_iter=5,
        random_state=0,
    )
    unsplit = ScratchMLPClassifier(**params).fit(X, y)
    # split every product (rows, or columns where there are more of those),
    # with the bias, activation and derivative done per block of rows
    monkeypatch.setattr(_parallel, "SPLIT_PRODUCT", 0)
    monkeypatch.setattr(_threads, "SMALL_PRODUCT", 0)
    parts = []
    original = _training.MiniBatchTrainer.epoch

    def recording(self, order=None):
        parts.append(self.network.matmul_parts)
        return original(self, order)

    monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", recording)
    split = ScratchMLPClassifier(**params).fit(X, y)
    assert min(parts) > 1
    for ours, theirs in zip(
        split.coefs_ + split.intercepts_,
        unsplit.coefs_ + unsplit.intercepts_,
        strict=True,
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-10)
