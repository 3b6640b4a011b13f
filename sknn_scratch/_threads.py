"""How many threads the BLAS libraries get while a network trains.

NumPy and SciPy wheels each bring their own OpenBLAS, each with a pool of
worker threads that keep spinning for a while after a call. Two things follow,
measured on 2 cores (see benchmarks/profile_before.txt):

- a matrix product below about 2·10⁷ multiply-adds is no faster on two threads
  than on one, while the spinning workers slow down the element-wise work
  between products, badly so on a busy machine;
- L-BFGS alternates SciPy's BLAS (inside scipy's L-BFGS-B) with NumPy's (in
  the loss and gradient), and the two spinning pools fight over the cores:
  the whole fit was 4× slower than with SciPy's pool on one thread.

- after a large product, the spinning workers take the second core from the
  element-wise work (activations, the optimizer step), which ``_parallel``
  splits over two threads: a step of Adam on 1.3 million parameters took as
  long on two threads as on one.

So, for the duration of a fit, NumPy's pool gets one thread, and the other
BLAS pools (SciPy's) get one thread under L-BFGS. When the largest product of a
mini-batch is large, the fit splits its products itself into as many blocks
as NumPy's pool had threads (``_parallel.matmul``), so every core still works
on them. A large prediction does the same, sharing each chunk's rows between
threads. Limits are reference-counted across threads, so that concurrent fits
(a threaded grid search) agree on them and the original settings come back
when the last fit ends.

When the pools cannot be managed (no threadpoolctl, or BLAS built on OpenMP,
whose setting holds for the calling thread alone), BLAS is left to thread its
own products.
"""

import contextlib
import os
import threading
from pathlib import Path

from ._parallel import CORES, SPLIT_PRODUCT

try:  # a dependency of scikit-learn, so always there in practice
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

# Products below this many multiply-adds gain nothing from a second thread.
SMALL_PRODUCT = SPLIT_PRODUCT

_lock = threading.Lock()
_pools = None  # (numpy's BLAS pools, the other BLAS pools), found once
_requests: list[bool] = []  # one per running fit: whether it runs L-BFGS
_original: dict = {}


def _forget_after_fork() -> None:
    """A forked child inherits no running fit (and no held lock)."""
    global _lock, _pools
    _lock = threading.Lock()
    _pools = None
    _requests.clear()
    _original.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _is_numpys(library: Path) -> bool:
    folder = library.parent
    return folder.name.startswith("numpy") or (
        folder.name == ".dylibs" and folder.parent.name == "numpy"
    )


def _blas_pools():
    """NumPy's BLAS pool(s), and every other BLAS pool loaded in the process.

    Only pools whose thread count is one setting for the whole process
    (OpenBLAS built on pthreads, as in NumPy's and SciPy's wheels) are managed:
    for OpenMP and MKL builds a setting holds for the calling thread alone,
    which reference counting across threads cannot undo cleanly.
    """
    global _pools
    if _pools is None:
        blas = []
        if ThreadpoolController is not None:
            blas = [
                pool
                for pool in ThreadpoolController().lib_controllers
                if pool.user_api == "blas"
                and getattr(pool, "threading_layer", None) == "pthreads"
            ]
        # A pip-installed NumPy keeps its BLAS in numpy.libs (numpy/.dylibs on
        # macOS); when there is a single BLAS (conda), NumPy and SciPy share it.
        numpy_pools = [pool for pool in blas if _is_numpys(Path(pool.filepath))]
        if not numpy_pools and len(blas) == 1:
            numpy_pools = blas
        others = [pool for pool in blas if pool not in numpy_pools]
        _pools = (numpy_pools, others)
    return _pools


def _apply() -> None:
    """Set every pool to its original count, or 1 if a running fit asks so."""
    numpy_pools, others = _blas_pools()
    single_numpy = bool(_requests)
    single_others = any(lbfgs for lbfgs in _requests)
    for pools, single in ((numpy_pools, single_numpy), (others, single_others)):
        for pool in pools:
            wanted = 1 if single else _original.get(id(pool), pool.num_threads)
            if pool.num_threads != wanted:
                pool.set_num_threads(wanted)


@contextlib.contextmanager
def blas_threads(largest_product: int, lbfgs: bool):
    """BLAS thread limits for one fit or one large prediction (see the module
    docstring).

    Parameters
    ----------
    largest_product : int
        Multiply-adds of the largest matrix product of one mini-batch (or
        L-BFGS or prediction chunk): rows × fan-in × fan-out.
    lbfgs : bool
        Whether SciPy's L-BFGS-B drives the fit.

    Yields
    ------
    int
        Blocks to split each large matrix product into (``_parallel.matmul``):
        1 for small products, or when BLAS threads its own products.
    """
    with _lock:
        if not _requests:
            numpy_pools, others = _blas_pools()
            _original.clear()
            _original.update({id(p): p.num_threads for p in numpy_pools + others})
        numpy_pools, _ = _blas_pools()
        _requests.append(lbfgs)
        _apply()
        blas_threads = max(
            (_original.get(id(pool), 1) for pool in numpy_pools), default=1
        )
    # one block per thread BLAS had, and no more blocks than cores
    parts = 1 if largest_product < SMALL_PRODUCT else min(blas_threads, CORES)
    try:
        yield parts
    finally:
        with _lock:
            _requests.remove(lbfgs)
            _apply()
