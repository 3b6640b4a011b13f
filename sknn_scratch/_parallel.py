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
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

PARALLEL_MIN = 2**18

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_pid: int | None = None


def _helper_thread() -> ThreadPoolExecutor:
    """One helper thread per process (a forked child makes its own)."""
    global _executor, _executor_pid
    with _lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(1, thread_name_prefix="sknn_scratch")
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


def in_halves(work: Callable[[slice], object], n: int) -> list:
    """Call ``work`` on slices that cover range(n) and return its results.

    One slice below ``PARALLEL_MIN``; otherwise the two halves, the second on a
    helper thread when the machine has more than one core. The helper runs
    under the caller's NumPy error state (``np.errstate``), which is per thread.
    """
    if n < PARALLEL_MIN:
        return [work(slice(0, n))]
    first, second = slice(0, n // 2), slice(n // 2, n)
    if (os.cpu_count() or 1) < 2:
        return [work(first), work(second)]
    error_state = np.geterr()

    def helper():
        with np.errstate(**error_state):
            return work(second)

    future = _helper_thread().submit(helper)
    try:
        head = work(first)
    finally:
        tail = _wait(future)
    return [head, tail]
