# cython: language_level=3, boundscheck=False, wraparound=False
# cython: cdivision=True, initializedcheck=False
"""The compiled engine's threads: its helpers, how work is cut into parts,
and how a long call notices Ctrl-C.

**Parts.** A large batch is cut into parts by rows, and a pass over the
parameter vector into blocks; the calling thread computes part 0 and helper
threads the others at the same time. This happens only while the engine calls
a BLAS of its own held at one thread (``_blas``): two layers of threads on
the same cores only get in each other's way. Otherwise nothing is cut and
BLAS threads its own products. The cut depends on the sizes and the number
of cores alone, never on which thread computes a part or on what else runs,
so results never depend on either.

**Helpers** are native threads (they never touch Python objects, so they
keep working while the interpreter shuts down). Between parts a helper first
spins for a moment, looking for the next part, and only then sleeps on a
lock; the caller waits for a helper's part the same way. Waking a sleeping
thread costs tens of µs on a virtual machine (measured here: a batch handed
over to a sleeping helper and back took 40-50 µs more than the batch alone),
which is the time of a whole small batch; a spinning helper takes the next
part within a µs. The spin is bounded (``checks_before_sleep``), and only
a call that holds the helpers lets them spin: between calls they sleep. One
fit or prediction at a time holds the helpers (``claim_helpers``); any other
computes its parts one after the other on its own thread, with the same
arithmetic. A forked child starts its own.

**Ctrl-C.** Python runs signal handlers on the main thread, between
bytecodes; a call running here without the GIL would never let it. So a
call made on the main thread looks for a pending interrupt at every batch
boundary (and between the row blocks of a long evaluation) once enough work
has passed since the last look, taking the GIL for a moment to run Python's
handlers: an interrupt stops the call within a batch (or a row block) and a
few milliseconds.
"""

import math
import os
import sys
import threading

from cpython.exc cimport PyErr_CheckSignals
from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_release_lock,
    PyThread_start_new_thread,
    PyThread_type_lock,
)

from ._blas cimport owns_its_blas

cdef extern from *:
    """
    /* Atomic loads, stores and exchanges of a flag shared by two threads, and
       a pause that tells the CPU a thread is spinning. With other compilers
       the flags are not used (see wait_for): waiters sleep on their locks. */
    #if defined(__GNUC__) || defined(__clang__)
    #define SKNN_CAN_SPIN 1
    #define sknn_load(flag) __atomic_load_n((flag), __ATOMIC_ACQUIRE)
    #define sknn_store(flag, value) __atomic_store_n((flag), (value), __ATOMIC_RELEASE)
    #define sknn_exchange(flag, value) \
        __atomic_exchange_n((flag), (value), __ATOMIC_ACQ_REL)
    static inline int sknn_swap_if(long* flag, long expected, long value) {
        return __atomic_compare_exchange_n(flag, &expected, value, 0,
                                           __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
    #if defined(__x86_64__) || defined(__i386__)
    #define sknn_pause() __builtin_ia32_pause()
    #elif defined(__aarch64__)
    #define sknn_pause() __asm__ __volatile__("yield")
    #else
    #define sknn_pause() ((void) 0)
    #endif
    #else
    #define SKNN_CAN_SPIN 0
    #define sknn_load(flag) (*(flag))
    #define sknn_store(flag, value) ((void) (*(flag) = (value)))
    #define sknn_exchange(flag, value) (*(flag))
    #define sknn_swap_if(flag, expected, value) 0
    #define sknn_pause() ((void) 0)
    #endif
    """
    bint CAN_SPIN "SKNN_CAN_SPIN"
    long load "sknn_load"(long* flag) noexcept nogil
    void store "sknn_store"(long* flag, long value) noexcept nogil
    long exchange "sknn_exchange"(long* flag, long value) noexcept nogil
    bint swap_if "sknn_swap_if"(long* flag, long expected, long value) noexcept nogil
    void pause "sknn_pause"() noexcept nogil


# A flag's states: its event has not happened and its waiter spins; it has
# happened; its waiter gave up spinning and sleeps on the flag's lock, which
# whoever makes the event happen then releases.
cdef enum:
    PENDING = 0
    HAPPENED = 1
    SLEEPING = 2


cdef struct Helper:
    long posted               # a part is waiting for the helper (a flag)
    long finished             # the helper's part is done (a flag)
    PyThread_type_lock wake   # released by the caller to wake a sleeping helper
    PyThread_type_lock done   # released by the helper to wake a sleeping caller
    PartWork work
    void* job
    int part

cdef Helper helpers[MAX_HELPERS]
# Set while a call that lets its threads spin holds the helpers (a flag of
# its own, read by spinning threads): between calls no thread spins, so the
# helpers leave the cores to whatever runs next.
cdef long call_holds_helpers = 0
cdef int started_helpers = 0
# Parts handed to helpers since the module was loaded (written only by the
# call that holds the helpers): tests read it to see that work is shared.
cdef long long handed_to_helpers = 0
cdef PyThread_type_lock helpers_claim = NULL
cdef long helpers_pid = -1

def cpu_quota(root="/sys/fs/cgroup", own="/proc/self/cgroup"):
    """The CPUs' worth of time a Linux control group's quota grants this
    process (rounded up), or None without a quota. A container limited to
    two CPUs still sees every CPU of its host in its affinity; its quota
    (cgroup v2: ``cpu.max``; v1: ``cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us``) says how many it may keep busy. Read in the
    process's own group (``own`` lists it) and at the mount's root."""
    groups = {"v2": {""}, "v1": {""}}
    try:
        with open(own) as listing:
            for line in listing:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controllers == "":
                    groups["v2"].add(path.strip("/"))
                elif "cpu" in controllers.split(","):
                    groups["v1"].add(path.strip("/"))
    except (OSError, ValueError):
        pass
    # each limit's files, whose words read together are "quota period" (v1
    # keeps the two in two files)
    limits = []
    for group in groups["v2"]:
        limits.append([os.path.join(root, group, "cpu.max")])
    for group in groups["v1"]:
        folder = os.path.join(root, "cpu", group)
        limits.append([os.path.join(folder, "cpu.cfs_quota_us"),
                       os.path.join(folder, "cpu.cfs_period_us")])
    quotas = []
    for files in limits:
        try:
            words = []
            for name in files:
                with open(name) as limit:
                    words += limit.read().split()
            # (unpacked, not indexed: this module does not check bounds)
            quota, period = words  # quota "max": no quota
            if quota != "max" and int(quota) > 0 and int(period) > 0:
                quotas.append(int(quota) / int(period))
        except (OSError, ValueError):
            pass
    if not quotas:
        return None
    return max(1, math.ceil(min(quotas)))


def _usable_cpus(root="/sys/fs/cgroup", own="/proc/self/cgroup") -> int:
    """The CPUs this process may keep busy: those it may run on (its
    affinity, where the platform says), no more than its control group's
    quota grants (``cpu_quota``)."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13
        cpus = os.process_cpu_count() or 1
    elif hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0)) or 1
    else:
        cpus = os.cpu_count() or 1
    quota = cpu_quota(root, own) if sys.platform.startswith("linux") else None
    return cpus if quota is None else min(cpus, quota)


cdef int usable_cpus = _usable_cpus()
# Large work is cut into one part per usable CPU.
cdef int cores = min(usable_cpus, MAX_PARTS)
# A part must be worth handing to a helper: at least this many rows (a BLAS
# call on fewer runs slowly) and multiply-adds in a batch part. A pass over
# the parameter vector is cut into blocks of at least this many elements,
# unless the gradients it reads come from a batch cut into parts
# (``vector_parts``).
cdef Py_ssize_t min_rows_per_part = 16
cdef double min_multiply_adds_per_part = 8e6
cdef Py_ssize_t min_elements_per_part = 65536
# How many times a waiting thread looks at its flag before it sleeps on the
# flag's lock: with a CPU pause of 20-50 ns between two looks (current x86
# CPUs), 0.1-0.2 ms, longer than what the caller does between two batches'
# parts (the optimizer's pass, dropout's draws).
cdef long checks_before_sleep = 4000 if CAN_SPIN else 0
# Multiply-adds between two looks for a pending Ctrl-C: a few milliseconds
# of work, so that looking (which takes the GIL) costs nothing measurable.
cdef double WORK_BETWEEN_LOOKS = 5e7


def part_policy() -> dict:
    """How work is cut: the parts of a large call (the usable CPUs, or 1
    without a BLAS of the engine's own), the smallest part worth a thread,
    and how many looks a waiting thread takes before it sleeps (0 where the
    compiler gave no atomic operations: threads then always sleep)."""
    return {
        "parts": max_parts(),
        "rows": min_rows_per_part,
        "multiply_adds": min_multiply_adds_per_part,
        "elements": min_elements_per_part,
        "spin_checks": checks_before_sleep,
    }


def set_part_policy(
    *, parts=None, rows=None, multiply_adds=None, elements=None, spin_checks=None
):
    """Change how work is cut (tests cut small problems, or into more parts
    than there are cores, this way) and how long a waiting thread spins
    (0: it sleeps at once); None leaves a value as it is."""
    global cores, min_rows_per_part, min_multiply_adds_per_part, min_elements_per_part
    global checks_before_sleep
    if spin_checks is not None:
        checks_before_sleep = max(0, int(spin_checks)) if CAN_SPIN else 0
    if parts is not None:
        cores = max(1, min(int(parts), MAX_PARTS))
    if rows is not None:
        min_rows_per_part = max(1, int(rows))
    if multiply_adds is not None:
        min_multiply_adds_per_part = float(multiply_adds)
    if elements is not None:
        min_elements_per_part = max(1, int(elements))


def parts_on_helpers() -> int:
    """How many parts helper threads have computed since the engine was
    loaded (in this process)."""
    return handed_to_helpers


cdef int max_parts() noexcept nogil:
    """The most parts any work is cut into: one per core, where the engine
    owns its BLAS; else 1."""
    return cores if owns_its_blas() else 1


cdef int row_parts(Py_ssize_t rows, double multiply_adds_per_row, int most) noexcept nogil:
    """Parts to cut ``rows`` rows into: at most ``most``, each keeping enough
    rows and multiply-adds."""
    cdef double parts = min(<double> most, <double> rows / min_rows_per_part)
    parts = min(parts, rows * multiply_adds_per_row / min_multiply_adds_per_part)
    return max(<int> parts, 1)


cdef int vector_parts(Py_ssize_t n, int most, int spread) noexcept nogil:
    """Blocks to cut a pass over a vector of ``n`` elements into: one per
    ``min_elements_per_part`` elements, up to ``most``; and at least
    ``spread`` (up to n), the parts whose sum the pass reads (a batch's
    gradients). Those sit in the caches of the cores that computed them, so
    that a pass on one core would first fetch them all from the others,
    while its blocks on those cores share the fetching, and each core then
    keeps its block of the parameters for the next batch."""
    cdef Py_ssize_t parts = min(<Py_ssize_t> most, n // min_elements_per_part)
    parts = max(parts, min(<Py_ssize_t> spread, n))
    return <int> max(parts, 1)


cdef Py_ssize_t part_start(Py_ssize_t n, int part, int parts) noexcept nogil:
    """First index of part ``part`` of range(n) cut into ``parts`` even parts."""
    return n * part // parts


cdef void wait_for(long* flag, PyThread_type_lock lock) noexcept nogil:
    """Return once ``flag`` has happened, then make it pending again: spin
    for a while, then sleep on ``lock`` (see ``signal``)."""
    cdef long check
    if not CAN_SPIN:
        PyThread_acquire_lock(lock, WAIT_LOCK)
        return
    for check in range(checks_before_sleep):
        if load(flag) == HAPPENED:
            store(flag, PENDING)
            return
        if not load(&call_holds_helpers):
            break
        pause()
    # Only one of this swap and signal's exchange sees the other's value:
    # either the event happened just now, or the signal will find the waiter
    # asleep and release the lock.
    if swap_if(flag, PENDING, SLEEPING):
        PyThread_acquire_lock(lock, WAIT_LOCK)
    store(flag, PENDING)


cdef void signal(long* flag, PyThread_type_lock lock) noexcept nogil:
    """Make ``flag`` happen, and wake its waiter if it sleeps."""
    if not CAN_SPIN:
        PyThread_release_lock(lock)
    elif exchange(flag, HAPPENED) == SLEEPING:
        PyThread_release_lock(lock)


cdef void helper_loop(void* argument) noexcept nogil:
    cdef Helper* helper = <Helper*> argument
    while True:
        wait_for(&helper.posted, helper.wake)
        helper.work(helper.job, helper.part)
        signal(&helper.finished, helper.done)


cdef int claim_helpers(int wanted, bint spin) except -1:
    """Up to ``wanted`` - 1 helper threads for the caller alone (started as
    first needed); returns how many threads, the caller's included, the
    caller may use: 1 when another call holds the helpers. With ``spin``,
    its threads spin between parts (see ``wait_for``); a call that runs
    between other libraries' BLAS calls should not: their pools' idle
    threads spin too, and spinning against them costs more than waking.
    With the GIL."""
    global started_helpers, helpers_claim, helpers_pid
    cdef int index, threads
    cdef unsigned long thread
    pid = os.getpid()
    if helpers_pid != pid:  # first use, or in a forked child: nothing runs
        helpers_claim = PyThread_allocate_lock()
        started_helpers = 0
        helpers_pid = pid
    wanted = min(wanted, MAX_HELPERS + 1)
    if wanted < 2 or not PyThread_acquire_lock(helpers_claim, NOWAIT_LOCK):
        return 1
    while started_helpers < wanted - 1:
        index = started_helpers
        helpers[index].posted = helpers[index].finished = PENDING
        helpers[index].wake = PyThread_allocate_lock()
        helpers[index].done = PyThread_allocate_lock()
        PyThread_acquire_lock(helpers[index].wake, WAIT_LOCK)
        PyThread_acquire_lock(helpers[index].done, WAIT_LOCK)
        thread = PyThread_start_new_thread(helper_loop, &helpers[index])
        if thread == <unsigned long> -1:  # no thread: work with what there is
            break
        started_helpers += 1
    threads = min(wanted, started_helpers + 1)
    if threads < 2:  # not one helper could start
        PyThread_release_lock(helpers_claim)
        return 1
    # spinning threads that outnumber the CPUs would take them from the
    # threads with work to do
    store(&call_holds_helpers, 1 if spin and threads <= usable_cpus else 0)
    return threads


cdef void release_helpers(int threads) noexcept:
    if threads > 1:
        store(&call_holds_helpers, 0)
        PyThread_release_lock(helpers_claim)


cdef void run_parts(PartWork work, void* job, int parts, int threads) noexcept nogil:
    """work(job, p) for p in range(parts): part 0 and any part beyond the
    threads on the caller, parts 1 .. threads - 1 on helpers at the same time.
    Returns when every part is done."""
    global handed_to_helpers
    cdef int part, on_helpers = min(parts, threads) - 1
    if on_helpers > 0:
        handed_to_helpers += on_helpers
    for part in range(on_helpers):
        helpers[part].work, helpers[part].job = work, job
        helpers[part].part = part + 1
        signal(&helpers[part].posted, helpers[part].wake)
    work(job, 0)
    for part in range(on_helpers + 1, parts):
        work(job, part)
    for part in range(on_helpers):
        wait_for(&helpers[part].finished, helpers[part].done)


cdef Interrupts watch_interrupts() except *:
    """The state of a call's looks for Ctrl-C: watching only on the main
    thread, the only one Python's signal handlers run on."""
    cdef Interrupts interrupts
    interrupts.watch = threading.current_thread() is threading.main_thread()
    interrupts.work = 0
    return interrupts


cdef int look_for_interrupt(Interrupts* interrupts, double work) except -1 nogil:
    """Count ``work`` multiply-adds done; once enough have passed since the
    last look, run Python's pending signal handlers (taking the GIL for a
    moment). Ctrl-C's handler raises KeyboardInterrupt here."""
    if not interrupts.watch:
        return 0
    interrupts.work += work
    if interrupts.work < WORK_BETWEEN_LOOKS:
        return 0
    interrupts.work = 0
    with gil:
        PyErr_CheckSignals()
    return 0
