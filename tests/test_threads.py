"""Threads: no BLAS setting is ever changed, and work cut into parts.

The compiled engine calls an OpenBLAS of its own, set to one thread once when
it loads (``_compiled/_blas.pyx``), and cuts large work into parts for its
helper threads (``_compiled/_threads.pyx``). So no fit or prediction changes
a BLAS setting of the process, even for a while: ``threadpool_info()`` reads
the same before, during and after any call, whatever other code saves and
restores the same settings on other threads meanwhile.
"""

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

from sknn_scratch import ScratchMLPClassifier, _engine
from sknn_scratch._reference import _training

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

compiled_only = pytest.mark.skipif(
    _engine.preferred() != "compiled", reason="the compiled engine is not in use"
)


def run_python(script: str, folder, timeout: float) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter, in ``folder`` (not the
    repository's root, whose source has no compiled extension), warnings
    off; it must finish within ``timeout`` seconds and exit cleanly."""
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def blas_settings() -> dict[str, int]:
    """Every BLAS pool of the process (NumPy's, SciPy's, the engine's own):
    its thread count, by the library's path."""
    return {
        info["filepath"]: info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas"
    }


def data(n_samples=400, n_features=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


def fit(seed=0, X=None, y=None, **params):
    if X is None:
        X, y = data()
    params = {"hidden_layer_sizes": (16,), "max_iter": 5, **params}
    return ScratchMLPClassifier(random_state=seed, **params).fit(X, y)


@compiled_only
def test_the_engine_calls_a_blas_of_its_own_at_one_thread():
    description = _engine.compiled.blas_description()
    assert "one thread" in description, description
    own = [
        info
        for info in threadpool_info()
        if info["user_api"] == "blas" and "scipy_openblas32" in info["filepath"]
    ]
    assert [info["num_threads"] for info in own] == [1]


def test_fits_and_predictions_never_change_a_blas_setting_while_they_run():
    before = blas_settings()
    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            seen.append(blas_settings())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for engine in helpers_engines():
            with _engine.using(engine):
                for solver in ("adam", "lbfgs"):
                    model = fit(solver=solver, hidden_layer_sizes=(64,), max_iter=30)
                    model.predict_proba(np.ones((200_000, 10)))
    finally:
        done.set()
        watcher.join()
    assert len(seen) > 10
    assert all(settings == before for settings in seen)
    assert blas_settings() == before


def helpers_engines() -> list[str]:
    return list(_engine.ENGINES) if _engine.preferred() == "compiled" else ["numpy"]


class FitOnAWorker:
    """An adam fit on a worker thread that pauses after its first epoch until
    told to go on, so that a test can do something while it runs."""

    def __init__(self, monkeypatch, **params):
        self.running, self.go_on = threading.Event(), threading.Event()
        self.error = None
        original = _training.MiniBatchTrainer.epoch

        def epoch(trainer, order=None):
            result = original(trainer, order)
            if not self.running.is_set():
                self.running.set()
                assert self.go_on.wait(60)
            return result

        monkeypatch.setattr(_training.MiniBatchTrainer, "epoch", epoch)
        self.thread = threading.Thread(target=self._run, kwargs=params)

    def _run(self, **params):
        try:
            fit(**params)
        except BaseException as error:  # raised again by join()
            self.error = error
            self.running.set()

    def start(self):
        self.thread.start()
        assert self.running.wait(60)

    def join(self):
        self.go_on.set()
        self.thread.join()
        if self.error is not None:
            raise self.error


@pytest.mark.parametrize("engine", helpers_engines())
def test_a_users_limits_entered_during_a_fit_and_left_after_it(monkeypatch, engine):
    # (a) the user's block starts while a fit runs on another thread and ends
    # after it: the block restores what it found, and that is what it stays
    before = blas_settings()
    with _engine.using(engine):
        worker = FitOnAWorker(monkeypatch, max_iter=4)
        worker.start()
        with threadpool_limits(limits=2, user_api="blas"):
            worker.join()
    assert blas_settings() == before


@pytest.mark.parametrize("engine", helpers_engines())
def test_a_users_limits_entered_before_a_fit_and_left_during_it(monkeypatch, engine):
    # (b) the user's block starts before a fit and ends while it runs
    before = blas_settings()
    with _engine.using(engine):
        worker = FitOnAWorker(monkeypatch, max_iter=4)
        with threadpool_limits(limits=1):
            worker.start()
        worker.join()
    assert blas_settings() == before


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_fit_next_to_scikit_learns_kmeans_leaves_blas_as_found(solver):
    # (c) KMeans.fit saves and restores the BLAS limits itself (threadpoolctl);
    # KMeans fits one after another on one thread, ours on the other. (Two
    # KMeans fits at once leave the limits changed by themselves.)
    before = blas_settings()
    X, _ = data(n_samples=3000)

    def clusters():
        for seed in range(3):
            KMeans(8, n_init=3, random_state=seed).fit(X)

    def fits():
        for seed in range(3):
            fit(seed, solver=solver, max_iter=10)

    for engine in helpers_engines():
        with _engine.using(engine), ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(clusters), pool.submit(fits)]:
                future.result()
    assert blas_settings() == before


def test_a_fit_inside_the_users_limits_leaves_them_to_the_user():
    before = blas_settings()
    with threadpool_limits(1):
        fit(solver="lbfgs")
        fit()
        assert set(blas_settings().values()) == {1}
    assert blas_settings() == before


@pytest.mark.parametrize("engine", helpers_engines())
def test_lbfgs_fits_at_once_equal_the_same_fits_one_after_the_other(engine):
    # The order in which partial results are summed depends on the sizes
    # alone, never on what else runs.
    X, y = data(n_samples=600, n_features=20)
    params = {"hidden_layer_sizes": (64,), "solver": "lbfgs", "max_iter": 40}
    with _engine.using(engine):
        alone = [fit(seed, X, y, **params) for seed in range(4)]
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(lambda s: fit(s, X, y, **params), range(4)))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a._params, b._params)


@compiled_only
def test_parts_give_the_same_results_whichever_thread_computes_them(small_parts):
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
@pytest.mark.parametrize(
    "options",
    [{}, {"n_members": 3, "embedding": "periodic", "embedding_columns": [0, 4]}],
    ids=["plain", "members-periodic"],
)
def test_training_cut_into_parts_equals_training_in_one(
    small_parts, solver, dtype, options
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
        **options,
    }
    parts = fit(0, X, y, **params)
    small_parts.set_part_policy(parts=1)
    whole = fit(0, X, y, **params)
    # A cut changes only the order in which a gradient's terms are summed;
    # L-BFGS's line search magnifies that from one iteration to the next.
    tolerance = {np.float64: 1e-12, np.float32: 1e-5}[dtype]
    if solver == "lbfgs":
        tolerance *= 100
    difference = np.linalg.norm(parts._params - whole._params)
    assert 0 < difference <= tolerance * np.linalg.norm(whole._params)


@compiled_only
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_parts_of_a_fit_run_on_the_helper_threads(small_parts, solver):
    # Cut into parts, a fit hands some of them to the helpers: parts that the
    # calling thread computed one after the other would give the same
    # results, and only this count tells the two apart.
    X, y = data(n_samples=300)
    small_parts.set_part_policy(elements=10**9)  # the rows, and the step with them
    before = small_parts.parts_on_helpers()
    fit(0, X, y, hidden_layer_sizes=(20,), solver=solver, max_iter=2, batch_size=100)
    assert small_parts.parts_on_helpers() > before


SPIN_OR_SLEEP_SCRIPT = """
import warnings
import numpy as np
from sknn_scratch import ScratchMLPClassifier, _engine

warnings.simplefilter("ignore")
compiled = _engine.compiled
compiled.set_part_policy(parts=3, rows=4, multiply_adds=0, elements=8)
default_checks = compiled.part_policy()["spin_checks"]
compiled.set_part_policy(spin_checks=5)
if compiled.part_policy()["spin_checks"] != 5:
    print("this build's threads always sleep")
    raise SystemExit(0)
rng = np.random.default_rng(0)
X = rng.standard_normal((500, 10))
y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)

def fit():
    return ScratchMLPClassifier(
        (40, 30), max_iter=8, batch_size=50, random_state=0
    ).fit(X, y)._params

compiled.set_part_policy(spin_checks=default_checks)
spinning = fit()
for checks in (0, 1, 50):
    compiled.set_part_policy(spin_checks=checks)
    before = compiled.parts_on_helpers()
    same = np.array_equal(fit(), spinning)
    print(checks, compiled.parts_on_helpers() > before, same)
"""


@compiled_only
def test_helpers_that_sleep_spin_or_both_give_the_same_fit(tmp_path):
    # A waiting thread looks at its flag spin_checks times, then sleeps on a
    # lock: with 0 it always sleeps, with 1 it nearly always falls asleep,
    # so that each signal meets a sleeping thread or one going to sleep, and
    # with more it mostly finds the flag set while spinning. A wake-up lost
    # between those paths would hang the fit: it runs in a process of its
    # own, which must finish in time. Three parts on the helpers.
    if _engine.compiled.part_policy()["parts"] == 1:
        pytest.skip("the engine does not own its BLAS here: nothing is cut")
    result = run_python(SPIN_OR_SLEEP_SCRIPT, tmp_path, timeout=300)
    lines = result.stdout.strip().splitlines()
    if lines == ["this build's threads always sleep"]:
        pytest.skip(lines[0])
    assert lines == ["0 True True", "1 True True", "50 True True"]


def write_files(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@compiled_only
@pytest.mark.parametrize(
    "files, expected",
    [
        ({}, None),  # no control group files at all
        ({"cpu.max": "150000 100000\n"}, 2),  # v2: 1.5 CPUs, rounded up
        ({"cpu.max": "max 100000\n"}, None),  # v2 without a quota
        ({"cpu.max": "fifty\n"}, None),  # unreadable: as if absent
        ({"cpu.max": "100000 0\n"}, None),  # nor a period of zero
        ({"self": "0::/pod/app\n", "pod/app/cpu.max": "400000 100000"}, 4),
        ({"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}, 1),
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        (
            {
                "self": "3:cpu,cpuacct:/job\n",
                "cpu/job/cpu.cfs_quota_us": "300000",
                "cpu/job/cpu.cfs_period_us": "100000",
                "cpu.max": "800000 100000",
            },
            3,  # the tighter of two quotas
        ),
    ],
)
def test_a_control_groups_cpu_quota_bounds_the_usable_cpus(tmp_path, files, expected):
    # A container limited to a few CPUs sees all of its host's in its
    # affinity; cut into that many parts, its spinning threads would share
    # the few it may use.
    from sknn_scratch._compiled import _threads

    write_files(tmp_path, files)
    root, own = str(tmp_path), str(tmp_path / "self")
    assert _threads.cpu_quota(root, own) == expected
    if sys.platform.startswith("linux"):  # where the quota is read
        nowhere = str(tmp_path / "nowhere")
        unbounded = _threads._usable_cpus(nowhere, nowhere)  # the affinity's
        usable = unbounded if expected is None else min(unbounded, expected)
        assert _threads._usable_cpus(root, own) == usable


@compiled_only
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_predictions_cut_into_parts_equal_predictions_in_one(small_parts, activation):
    X, y = data()
    model = fit(0, X, y, hidden_layer_sizes=(30, 20), activation=activation)
    X_new = np.random.default_rng(1).standard_normal((3000, 10))
    cut = model.predict_proba(X_new)
    small_parts.set_part_policy(parts=1)
    np.testing.assert_array_equal(model.predict_proba(X_new), cut)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_trains_with_its_parents_settings():
    fit(max_iter=2)  # the helper threads exist now
    before = blas_settings()
    read, write = os.pipe()
    worker = threading.Thread(target=fit, kwargs={"max_iter": 50})
    worker.start()  # a fit is running, holding the helpers, at the fork
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            model = fit(max_iter=3, hidden_layer_sizes=(200,))
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


WITHOUT_OWN_BLAS = """
import importlib.util
find_spec = importlib.util.find_spec
def hidden(name, *args):
    return None if name == "scipy_openblas32" else find_spec(name, *args)
importlib.util.find_spec = hidden
import numpy as np
from sknn_scratch import ScratchMLPClassifier, _engine
X = np.random.default_rng(0).standard_normal((300, 5))
model = ScratchMLPClassifier((8,), max_iter=3, random_state=0).fit(X, X[:, 0] > 0)
print(_engine.description())
finite = np.isfinite(model.predict_proba(X)).all()
print(_engine.compiled.part_policy()["parts"], finite)
"""


@compiled_only
def test_without_a_blas_of_its_own_the_engine_cuts_nothing(tmp_path):
    result = run_python(WITHOUT_OWN_BLAS, tmp_path, timeout=120)
    description, policy = result.stdout.strip().splitlines()
    assert "SciPy's BLAS as configured, no parts" in description
    assert policy == "1 True"


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
    result = run_python(SHUTDOWN_SCRIPT, tmp_path, timeout=300)
    assert result.stdout.strip() == "trained 2"
