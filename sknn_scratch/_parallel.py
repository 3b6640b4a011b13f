"""Element-wise work on long vectors, split over two threads.

An optimizer step or the L2 penalty makes several NumPy passes over the whole
parameter vector. NumPy releases the GIL inside such passes, so on a vector of
a million parameters two threads, each on one half, take half the time; the
matrix products already use every core through BLAS, but the element-wise work
between them would otherwise run on one. Below ``PARALLEL_MIN`` elements the
hand-over costs more than it saves, and the work stays on the calling thread.
The split never changes a result: every element is computed the same way.
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

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


def in_halves(work: Callable[[slice], object], n: int) -> None:
    """Call ``work`` on slices covering range(n): two halves on two threads
    when n is large and the machine has more than one core, else one slice."""
    if n < PARALLEL_MIN or (os.cpu_count() or 1) < 2:
        work(slice(0, n))
        return
    half = n // 2
    future: Future = _helper_thread().submit(work, slice(half, n))
    try:
        work(slice(0, half))
    finally:
        future.result()
