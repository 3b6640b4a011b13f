"""Element-wise work on long vectors, split over two threads.

An optimizer step or the L2 penalty makes several NumPy passes over the whole
parameter vector. NumPy releases the GIL inside such passes, so on a vector of
a million parameters two threads, each on one half, take half the time; the
matrix products already use every core through BLAS, but the element-wise work
between them would otherwise run on one core. Below ``PARALLEL_MIN`` elements
the hand-over costs more than it saves.

From ``PARALLEL_MIN`` elements on, the work is always split into the same two
halves, on one thread or two, so results (a sum over halves, say) never depend
on the number of cores.

Large matrix products can be split too (``matmul``): into blocks of rows or
columns of the output, one per thread, each a single-threaded BLAS call. A
fit does that instead of letting BLAS thread its own products, because
OpenBLAS's workers keep spinning for a while after every product: on two
cores they took the second core from the element-wise work between products,
and an optimizer step split over two threads ran no faster than on one. With
the products split here, the same threads do both kinds of work and nothing
spins.
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise

import numpy as np

PARALLEL_MIN = 2**18

# Cores of this machine (asked once: os.cpu_count() costs microseconds).
CORES = os.cpu_count() or 1

# Multiply-adds of a matrix product below which splitting it over two threads
# does not pay. Measured on 2 cores, whole fits: a largest product of 1.2·10⁷
# was 10% slower split, 1.9·10⁷ even, 3.5·10⁷ 15% faster; handing work to a
# sleeping helper thread costs tens of µs.
SPLIT_PRODUCT = 20_000_000

# Fewest output rows (or columns) per block of a split matrix product: below
# this, a BLAS call works on too thin a block to run at full speed.
MIN_BLOCK_ROWS = 64

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_pid: int | None = None


def _helpers() -> ThreadPoolExecutor:
    """Helper threads, one per core but the caller's (started as they are first
    needed); a forked child makes its own."""
    global _executor, _executor_pid
    with _lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(
                max(1, CORES - 1), thread_name_prefix="sknn_scratch"
            )
            _executor_pid = os.getpid()
        return _executor


def _wait(future: Future):
    """The helper's result; an interrupt waits for the helper to finish first,
    so that it never writes to arrays its caller has moved on from."""
    interrupted = False
    while True:
        try:
            result = future.result()
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt
    return result


def in_blocks(work: Callable[[slice], object], n: int, parts: int) -> list:
    """Call ``work`` on ``parts`` consecutive slices that cover range(n), at
    the same time, and return its results in order.

    The caller works on the first slice and helper threads on the others (all
    of them in turn on the caller's thread when the machine has one core).
    Helpers run under the caller's NumPy error state (``np.errstate``), which
    is per thread. Every slice is finished before this returns or raises.
    """
    bounds = [n * k // parts for k in range(parts + 1)]
    slices = [slice(start, stop) for start, stop in pairwise(bounds)]
    if parts < 2 or CORES < 2:
        return [work(part) for part in slices]
    error_state = np.geterr()

    def helper(part: slice):
        with np.errstate(**error_state):
            return work(part)

    futures = [_helpers().submit(helper, part) for part in slices[1:]]
    results, errors = [], []
    try:
        results.append(work(slices[0]))
    finally:
        for future in futures:
            try:
                results.append(_wait(future))
            except Exception as error:
                errors.append(error)
    if errors:
        raise errors[0]
    return results


def in_halves(work: Callable[[slice], object], n: int, item_size: int = 1) -> list:
    """Call ``work`` on slices that cover range(n) and return its results.

    One slice below ``PARALLEL_MIN`` elements (n × ``item_size``: an item may be
    a row of ``item_size`` elements); otherwise the same two halves on any
    machine (``in_blocks``), so that results never depend on the core count.
    """
    if n * item_size < PARALLEL_MIN or n < 2:
        return [work(slice(0, n))]
    return in_blocks(work, n, 2)


def matmul(
    a,
    b: np.ndarray,
    out: np.ndarray,
    parts: int,
    then: Callable[[slice], object] | None = None,
) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` computed in up to ``parts`` blocks, one per
    thread (the caller's and helpers, at most one per core), and then
    ``then(rows)``, if given, on blocks of rows of ``out`` that cover it.

    The blocks are rows of ``out`` (rows of ``a``), or its columns (columns of
    ``b``) when it has more of those; every block is one BLAS call, and a
    thread with a block of rows goes on with ``then`` on them. With ``parts``
    = 1, a product under ``SPLIT_PRODUCT`` multiply-adds, or too few rows and
    columns for two blocks of ``MIN_BLOCK_ROWS``, it is a single call, and
    ``then`` follows it (``in_halves``). Like BLAS's own threads, the split
    can change the last bits of the result, never more.
    """
    n_rows, n_cols = out.shape
    if parts > 1 and a.shape[0] * a.shape[1] * b.shape[1] >= SPLIT_PRODUCT:
        parts = min(parts, CORES, max(n_rows, n_cols) // MIN_BLOCK_ROWS)
    else:
        parts = 1
    if parts > 1 and n_rows >= n_cols:

        def block(rows: slice) -> None:
            np.matmul(a[rows], b, out=out[rows])
            if then is not None:
                then(rows)

        in_blocks(block, n_rows, parts)
        return out
    if parts > 1:
        in_blocks(
            lambda cols: np.matmul(a, b[:, cols], out=out[:, cols]), n_cols, parts
        )
    else:
        np.matmul(a, b, out=out)
    if then is not None:
        in_halves(then, n_rows, n_cols)
    return out
