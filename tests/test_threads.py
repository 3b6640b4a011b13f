"""Threads: BLAS settings left as found, and work cut into parts (see _threads).

Invariant: once every fit, partial_fit and predict call has returned or
raised, on whatever threads and in whatever order, ``threadpool_info()``
reads what it read before the first call.
"""

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

from sknn_scratch import ScratchMLPClassifier, _engine, _threads
from sknn_scratch._reference import _training

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

compiled_only = pytest.mark.skipif(
    _engine.preferred() != "compiled", reason="the compiled engine is not in use"
)


def blas_settings() -> dict[str, int]:
    return {
        info["filepath"]: info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas"
    }


@pytest.fixture
def scipy_pools():
    pools = _threads.scipy_blas_pools()
    if not pools:
        pytest.skip("SciPy's BLAS is not a pthreads OpenBLAS in this install")
    return pools


@pytest.fixture
def small_parts():
    """Cut even the tests' small problems into parts."""
    _kernels = _engine._kernels

    saved = _kernels.part_sizes()
    _kernels.set_part_sizes(rows=4, multiply_adds=0, elements=8)
    yield
    _kernels.set_part_sizes(**saved)


def data(n_samples=400, n_features=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def fit(seed=0, X=None, y=None, **params):
    if X is None:
        X, y = data()
    params = {"hidden_layer_sizes": (16,), "max_iter": 5, **params}
    return ScratchMLPClassifier(random_state=seed, **params).fit(X, y)


def test_fits_on_worker_threads_leave_blas_as_found():
    before = blas_settings()
    # a fit that ends last on a worker thread
    worker = threading.Thread(target=fit, kwargs={"max_iter": 20})
    worker.start()
    fit(max_iter=1)
    worker.join()
    assert blas_settings() == before
    # four fits on a pool of two threads, on both solvers, with predictions
    with ThreadPoolExecutor(2) as pool:
        models = list(
            pool.map(lambda s: fit(s, solver="lbfgs" if s % 2 else "adam"), range(4))
        )
        list(pool.map(lambda m: m.predict_proba(np.ones((5000, 10))), models))
    assert blas_settings() == before
    # a fit that raises on a worker thread
    X, y = data()
    X[0, 0] = 1e308  # the loss overflows: training diverges and raises

    def diverging():
        with pytest.raises(ValueError):
            fit(X=X * 1e300, y=y, solver="lbfgs")

    worker = threading.Thread(target=diverging)
    worker.start()
    worker.join()
    assert blas_settings() == before


def test_a_fit_inside_the_users_limits_leaves_them_to_the_user():
    before = blas_settings()
    with threadpool_limits(1):
        fit(solver="lbfgs")
        fit()
        assert set(blas_settings().values()) == {1}
    assert blas_settings() == before


@compiled_only
def test_compiled_fits_hold_scipys_blas_and_never_touch_numpys(
    scipy_pools, monkeypatch
):
    numpys = {path: count for path, count in blas_settings().items() if "numpy" in path}
    seen = []
    original = _training.MiniBatchTrainer.epoch

    def recording(self, order=None):
        seen.append(([p.num_threads for p in scipy_pools], dict(blas_settings())))
        return original(self, order)

    monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", recording)
    fit(max_iter=2)
    assert len(seen) == 2
    for scipys, settings in seen:
        assert scipys == [1] * len(scipy_pools)
        for path, count in numpys.items():  # NumPy's own BLAS: untouched
            assert settings[path] == count


@compiled_only
def test_a_fit_on_a_worker_thread_holds_blas_whoever_controls_threadpoolctl(
    scipy_pools, monkeypatch
):
    # threadpoolctl lets only the first thread that set OpenBLAS's count
    # through it (the main one, say, by a fit or by the user's own
    # controller) change it again; a fit on a worker thread must still hold
    # SciPy's BLAS at one thread, and restore it.
    fit(max_iter=1)
    for pool in ThreadpoolController().lib_controllers:
        pool.set_num_threads(pool.num_threads)  # the main thread takes control
    before = blas_settings()
    seen = []
    original = _training.MiniBatchTrainer.epoch

    def recording(self, order=None):
        seen.append(([p.num_threads for p in scipy_pools], self.network.thread_plan))
        return original(self, order)

    monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", recording)
    worker = threading.Thread(target=fit, kwargs={"max_iter": 2})
    worker.start()
    worker.join()
    assert len(seen) == 2
    assert all(counts == [1] * len(scipy_pools) for counts, _ in seen)
    assert all(plan.helpers == (_threads.CORES > 1) for _, plan in seen)
    assert blas_settings() == before


def test_lbfgs_holds_scipys_blas_on_either_engine(scipy_pools, monkeypatch):
    from sknn_scratch._estimators import _base

    seen = []
    original = _base.minimize_lbfgs

    def recording(*args, **kwargs):
        seen.append([pool.num_threads for pool in scipy_pools])
        return original(*args, **kwargs)

    monkeypatch.setattr(_base, "minimize_lbfgs", recording)
    for engine in _engine.ENGINES if _engine.preferred() == "compiled" else ["numpy"]:
        with _engine.using(engine):
            fit(solver="lbfgs")
    assert all(counts == [1] * len(scipy_pools) for counts in seen)


class StubbornPool:
    """A BLAS pool whose thread count ignores the first changes asked of it."""

    def __init__(self, ignored: int):
        self.num_threads, self.ignored, self.calls = 4, ignored, []

    def set_num_threads(self, count):
        self.calls.append(count)
        if self.ignored:
            self.ignored -= 1
        else:
            self.num_threads = count


def test_a_change_that_does_not_take_is_noticed(monkeypatch):
    pool = StubbornPool(ignored=1)
    monkeypatch.setattr(_threads, "_pools", [pool])
    with _threads.hold_scipy_blas() as held:
        assert not held  # still at 4 threads: the engine must not cut work
        with _threads.fit_threads(compiled=True, lbfgs=False) as plan:
            assert not plan.helpers  # the caller computes every part itself
    assert pool.num_threads == 4
    pool = StubbornPool(ignored=0)
    monkeypatch.setattr(_threads, "_pools", [pool])
    with _threads.hold_scipy_blas() as held:
        assert held and pool.num_threads == 1
        pool.ignored = 1  # the first attempt to restore is ignored...
    assert pool.num_threads == 4 and pool.calls == [1, 4, 4]  # ...and retried


def test_calls_that_outlive_the_limits_owner_stop_using_helpers(monkeypatch):
    # The owner (the call that lowered the pool) restores it when it ends;
    # a fit still running must then stop computing parts on helper threads,
    # whose products would run over BLAS's own threads again.
    pool = StubbornPool(ignored=0)
    monkeypatch.setattr(_threads, "_pools", [pool])
    monkeypatch.setattr(_threads, "CORES", 2)
    owner = _threads.hold_scipy_blas()
    assert owner.__enter__()
    with _threads.fit_threads(compiled=True, lbfgs=False) as plan:
        assert plan.now() == (2, True)
        with _threads.fit_threads(compiled=True, lbfgs=False) as nested:
            assert nested.now() == (2, True)
        assert pool.num_threads == 1  # a nested call is no owner
        owner.__exit__(None, None, None)
        assert pool.num_threads == 4
        assert plan.now() == (2, False)  # the same cut, on the caller alone
    assert pool.num_threads == 4


@compiled_only
def test_parts_give_the_same_results_whichever_thread_computes_them(
    small_parts, scipy_pools
):
    # The cut depends on the sizes only: whether a helper thread was free to
    # take a part (or another fit held the helpers) changes nothing.
    X, y = data(n_samples=500)
    params = {"hidden_layer_sizes": (40, 30), "max_iter": 8, "batch_size": 100}
    alone = [fit(seed, X, y, **params) for seed in range(4)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda s: fit(s, X, y, **params), range(4)))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a._params, b._params)


@compiled_only
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_cut_into_parts_equals_training_in_one(
    small_parts, scipy_pools, monkeypatch, solver, dtype
):
    X, y = data(n_samples=500)
    X = X.astype(dtype)
    params = {
        "hidden_layer_sizes": (40, 30),
        "solver": solver,
        "max_iter": 8,
        "batch_size": 100,
        "dropout": 0.2 if solver != "lbfgs" else 0.0,
        "alpha": 0.01,
    }
    monkeypatch.setattr(_threads, "CORES", 1)
    whole = fit(0, X, y, **params)
    monkeypatch.setattr(_threads, "CORES", 3)  # three parts, more than 2 cores
    parts = fit(0, X, y, **params)
    # A cut changes only the order in which a gradient's terms are summed;
    # L-BFGS's line search magnifies that from one iteration to the next.
    tolerance = {np.float64: 1e-12, np.float32: 1e-5}[dtype]
    if solver == "lbfgs":
        tolerance *= 100
    difference = np.linalg.norm(parts._params - whole._params)
    assert difference <= tolerance * np.linalg.norm(whole._params)


@compiled_only
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_predictions_cut_into_parts_equal_predictions_in_one(
    small_parts, scipy_pools, monkeypatch, activation
):
    X, y = data()
    model = fit(0, X, y, hidden_layer_sizes=(30, 20), activation=activation)
    X_new = np.random.default_rng(1).standard_normal((3000, 10))
    monkeypatch.setattr(_threads, "CORES", 1)
    whole = model.predict_proba(X_new)
    monkeypatch.setattr(_threads, "CORES", 3)
    monkeypatch.setattr(_threads, "SMALL_PREDICTION", 0)
    np.testing.assert_allclose(model.predict_proba(X_new), whole, rtol=1e-13)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_trains_with_its_parents_settings(small_parts):
    fit(max_iter=2)  # the helper threads exist now
    before = blas_settings()
    read, write = os.pipe()
    worker = threading.Thread(target=fit, kwargs={"max_iter": 50})
    worker.start()  # a fit is running, holding the BLAS limit, at the fork
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            model = fit(max_iter=3)
            ok = blas_settings() == before and np.isfinite(model._params).all()
            code = 0 if ok else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    worker.join()
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == bytes([0])
    assert os.waitstatus_to_exitcode(status) == 0
    assert blas_settings() == before


SHUTDOWN_SCRIPT = """
import threading
import numpy as np
from sknn_scratch import ScratchMLPClassifier

def train():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 20))
    model = ScratchMLPClassifier((600, 600), max_iter=2, random_state=0)
    model.fit(X, X[:, 0] > 0)
    print("trained", model.n_iter_, flush=True)

threading.Thread(target=train).start()  # not a daemon: the process waits for it
"""


@pytest.mark.slow
def test_a_fit_finishes_while_the_interpreter_shuts_down(tmp_path):
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SHUTDOWN_SCRIPT],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the repository's root, whose source has no extension
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "trained 2"
