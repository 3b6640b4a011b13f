"""The whole thread policy of sknn_scratch, in one place.

Who computes on which core:

- **The NumPy reference engine** leaves BLAS as it is configured: NumPy's BLAS
  threads the products, everything else runs on the calling thread.
- **The compiled engine** (``_kernels``) cuts a large batch, a large
  prediction or a long parameter pass into parts, one per core, that its own
  native helper threads compute at the same time (the cut depends only on the
  sizes, so results never depend on which thread computed a part). The
  products inside a part are then one-thread BLAS calls: two layers of
  threads on the same cores only get in each other's way, OpenBLAS's idle
  workers spin for a while after every call, and on a loaded machine its
  threads wait for each other (on 2 busy cores a fit with BLAS threading its
  own products ran 1.6× slower than with our parts).
- **L-BFGS** runs SciPy's L-BFGS-B, which calls SciPy's BLAS. On the
  reference engine the products use NumPy's BLAS, a second library with its
  own spinning pool, and the two fight over the cores: a fit on the digits
  was 17× slower than with SciPy's pool on one thread.

So while a compiled fit or large prediction runs, or an L-BFGS fit, **SciPy's
BLAS pool** (the library ``scipy.linalg.cython_blas`` calls) is held at one
thread. NumPy's BLAS, which user code's products use on pip installs, is
never touched; only where NumPy and SciPy share one BLAS library (conda) does
a running fit slow other threads' products while it runs.

The limit is temporary, and its bookkeeping is shared by all threads:

- the first call to start while no other runs lowers the pool to one thread,
  if its change takes (checked: some OpenBLAS builds ignore a change made
  from any thread but the main one), and becomes the limit's owner;
- calls that start while others run use the limit as they find it;
- the owner restores what it found when it ends, and checks that the change
  took (retrying once), even if other calls still run: from then on those
  compute their parts one after the other, with BLAS threading its products
  again (``ThreadPlan.now``), which costs no results. So
  once every call has returned or raised, on whatever threads and in
  whatever order, the settings read what they read before the first call.

Where SciPy's BLAS is not one process-wide setting that threadpoolctl can
change (OpenMP or MKL builds), or a change does not take, nothing is changed
and the compiled engine does not cut work into parts: BLAS threads its own
products.
"""

import contextlib
import ctypes
import os
import threading
from pathlib import Path
from typing import NamedTuple

# Cores of this machine (asked once: os.cpu_count() costs microseconds).
CORES = os.cpu_count() or 1

# Multiply-adds of a prediction below which it runs on the calling thread
# and leaves the settings alone: a small prediction (a few rows) would spend
# more on the hand-over than it saves.
SMALL_PREDICTION = 2_000_000

_lock = threading.Lock()
_holders = 0  # calls now inside hold_scipy_blas
_owner: object | None = None  # the call that lowered the pool, while it runs
_found: dict = {}  # pool -> the thread count the owner found
_pools: list | None = None  # SciPy's BLAS pools, found once per process


def _forget_after_fork() -> None:
    """A forked child runs none of its parent's fits: give its BLAS back the
    setting the owner found, and start counting afresh."""
    global _lock, _holders, _owner
    _lock = threading.Lock()
    for pool, count in _found.items():
        with contextlib.suppress(Exception):
            pool.set_num_threads(count)
    _found.clear()
    _holders, _owner = 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _inside(path: Path, folder: Path) -> bool:
    return folder == path or folder in path.parents


def scipy_blas_pools() -> list:
    """The BLAS that SciPy calls, when it is OpenBLAS on pthreads (one setting
    for the whole process), as ``OpenBLASThreads``; [] otherwise."""
    global _pools
    if _pools is None:
        _pools = _find_scipy_blas_pools()
    return _pools


class OpenBLASThreads:
    """The thread count of one OpenBLAS library, read and set through its own
    functions.

    Not through threadpoolctl's ``set_num_threads``: that one lets only the
    first Python thread to set a count (usually the main one) change it
    again, and ignores the others, so a fit on a worker thread (a threaded
    grid search) could never lower it. The calls of this package coordinate
    among themselves (``hold_scipy_blas``), and every change is checked.
    """

    def __init__(self, filepath: str) -> None:
        self.filepath = filepath
        mode = getattr(os, "RTLD_NOLOAD", ctypes.DEFAULT_MODE)  # the loaded one
        library = ctypes.CDLL(filepath, mode=mode)
        # SciPy's and NumPy's wheels prefix OpenBLAS's symbols (scipy_...,
        # with 64_ for the 64-bit-integer build); other builds do not.
        for prefix, suffix in (("scipy_", ""), ("", ""), ("scipy_", "64_")):
            try:
                self._get = getattr(
                    library, f"{prefix}openblas_get_num_threads{suffix}"
                )
                self._set = getattr(
                    library, f"{prefix}openblas_set_num_threads{suffix}"
                )
            except AttributeError:
                continue
            break
        else:
            raise OSError(f"no openblas_set_num_threads in {filepath}")
        self._get.restype, self._get.argtypes = ctypes.c_int, []
        self._set.restype, self._set.argtypes = None, [ctypes.c_int]

    @property
    def num_threads(self) -> int:
        return int(self._get())

    def set_num_threads(self, count: int) -> None:
        self._set(int(count))


def _find_scipy_blas_pools() -> list:
    try:
        import scipy
        import scipy.linalg.cython_blas  # loads SciPy's BLAS
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with sklearn
        return []
    blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    # A pip-installed SciPy keeps its BLAS in scipy.libs (scipy/.dylibs on
    # macOS); a conda SciPy shares the environment's only BLAS with NumPy.
    package = Path(scipy.__file__).resolve().parent
    folders = (package.parent / "scipy.libs", package)
    scipys = [
        c
        for c in blas
        if any(_inside(Path(c.filepath).resolve(), folder) for folder in folders)
    ]
    if not scipys and len(blas) == 1:
        scipys = blas
    manageable = all(
        c.internal_api == "openblas" and getattr(c, "threading_layer", "") == "pthreads"
        for c in scipys
    )
    if not (scipys and manageable):
        return []
    try:
        return [OpenBLASThreads(c.filepath) for c in scipys]
    except OSError:
        return []


@contextlib.contextmanager
def hold_scipy_blas():
    """Hold SciPy's BLAS pool at one thread while the block runs.

    Yields
    ------
    bool
        Whether the pool is at one thread (False: it cannot be managed, or
        the change did not take).
    """
    global _holders, _owner
    me = object()  # this call (not its thread: calls may nest on one thread)
    with _lock:
        pools = scipy_blas_pools()
        if _holders == 0 and pools:
            found = {pool: pool.num_threads for pool in pools}
            for pool, count in found.items():
                if count != 1:
                    pool.set_num_threads(1)
            if all(pool.num_threads == 1 for pool in pools):
                _owner = me
                _found.update(found)
            else:  # the change did not take: put back what did
                _restore(found)
        _holders += 1
        held = bool(pools) and all(pool.num_threads == 1 for pool in pools)
    try:
        yield held
    finally:
        with _lock:
            _holders -= 1
            if _owner is me:
                _restore(_found)
                _found.clear()
                _owner = None


def _restore(found: dict) -> None:
    for pool, count in found.items():
        for _ in range(2):  # a change has been seen not to take
            if pool.num_threads == count:
                break
            pool.set_num_threads(count)


class ThreadPlan(NamedTuple):
    """How the compiled engine may spread one call's work.

    ``parts`` is how many parts large work is cut into: the cores of the
    machine, whatever else runs, so that results depend on the sizes and the
    machine only. ``helpers`` says whether helper threads may compute parts
    at the same time (only with BLAS held at one thread); otherwise the
    calling thread computes them one after the other.
    """

    parts: int
    helpers: bool

    def now(self) -> tuple[int, bool]:
        """The plan as it stands at this call: helper threads only while
        SciPy's BLAS is still held. (Its owner may have ended and restored it
        while this fit runs on; parts computed by helpers over BLAS's own
        threads would then oversubscribe the cores.)"""
        return self.parts, self.helpers and _owner is not None


SINGLE_THREAD = ThreadPlan(1, False)


@contextlib.contextmanager
def fit_threads(compiled: bool, lbfgs: bool):
    """The thread plan of one fit or partial_fit.

    Parameters
    ----------
    compiled : bool
        Whether the compiled engine trains.
    lbfgs : bool
        Whether SciPy's L-BFGS-B drives the fit.

    Yields
    ------
    ThreadPlan
    """
    if not (compiled or lbfgs):
        yield SINGLE_THREAD
        return
    with hold_scipy_blas() as held:
        yield ThreadPlan(CORES if compiled else 1, held and compiled and CORES > 1)


@contextlib.contextmanager
def prediction_threads(compiled: bool, multiply_adds: float):
    """The thread plan of one prediction of ``multiply_adds`` work.

    Yields
    ------
    ThreadPlan
    """
    if not compiled or multiply_adds < SMALL_PREDICTION or CORES < 2:
        yield SINGLE_THREAD
        return
    with hold_scipy_blas() as held:
        yield ThreadPlan(CORES, held)
