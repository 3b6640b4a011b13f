"""Where the time of a fit goes, per batch, sampled with Linux ``perf``.

Profiles ``ScratchMLPClassifier.fit`` (Adam) on training cases of
``bench_training.py`` and writes a summary text::

    python benchmarks/profile_training.py    # writes benchmarks/profile_after.txt
    python benchmarks/profile_training.py --runs small:float32 deep:float64
    python benchmarks/profile_training.py --engine numpy --output /tmp/numpy.txt
    python benchmarks/profile_training.py --quick    # tiny sizes, prints only

Why ``perf``: the compiled engine runs whole epochs in C without the GIL, so a
Python profiler sees one call per epoch. ``perf`` samples the machine code of
every thread of the process, whatever language it came from.

What it reports, per case
-------------------------
* **Unprofiled cost** per batch of ours (the installed engine), ours on the
  NumPy engine, scikit-learn and the floor (``bench_training``'s definition:
  the products alone, with NumPy's BLAS): the minimum over ``--repeats``
  rounds, each running every fit once in a rotating order, so that load from
  other processes falls on all alike. A fit's time includes its validation
  and set-up, spread over its batches.
* **One fit of ours under ``perf record``**, in a child process (the same data
  and parameters; the child warms up untimed, and ``perf`` is switched on for
  the fit alone through its control pipe):

  - every ``--period`` µs of a thread's CPU time (cpu-clock, a software event:
    no hardware counters needed), ``perf`` takes a sample: where the thread
    is, and its call stack, unwound from DWARF debug information. So time in
    BLAS, libc (``memcpy``) and libm (``exp``, ``log``) is charged to the
    compiled function that called it, and functions that the C compiler
    inlined into one another are still told apart;
  - every context switch of the process's threads is recorded: each thread's
    wall time during the fit splits into **running**, **preempted** (ready,
    but another process had the core: a busy machine) and **asleep**
    (blocked: the calling thread waiting for a helper thread's part of a
    batch, or a helper waiting for work).

* **The calling thread's wall time per batch**, split that way, and the helper
  threads' running and preempted time.
* **CPU time per batch by group**, for the calling thread and the helpers:

  - ``BLAS a·W (forward)``, ``BLAS aᵀ·δ (weight gradient)``, ``BLAS δ·Wᵀ
    (input gradient)``: time inside BLAS, by the product the compiled code
    asked for (read from the transposition flags of its ``gemm`` call);
    other BLAS calls by the compiled function that made them;
  - one group per compiled function (the names of ``_kernels.pyx``:
    ``bias_activate``, ``times_derivative``, ``output_loss``, the
    optimizer's loop...), with the libc and libm calls they make; the
    ``cdef inline`` helpers (``_exp``, ``gemm``, ...) count for the line
    that calls them;
  - ``gather (row copies)``: the shuffled batch's rows copied into place;
    ``bias gradient``: the sum of δ over the rows; ``dropout``;
  - ``helper threads: hand-over``: waking helpers and waiting for them
    (``run_parts``, ``helper_loop`` and the locks and system calls below
    them);
  - ``(not under compiled code)``: the Python interpreter, NumPy, BLAS and
    anything else not called from compiled code (on the compiled engine: the
    fit's validation, set-up and per-epoch bookkeeping).

  Then the hottest lines of ``_kernels.pyx`` (BLAS time charged to the line
  that called it) and the hottest functions of any library.

Sampling is statistical: a group of n samples is known to about 1/√n of
itself; the sample counts are printed. ``perf`` adds its own cost to the
profiled fit (stack copies at every sample), so its wall time per batch is
printed beside the unprofiled one: read the breakdown as proportions.

Lines of ``_kernels.pyx`` come from the C file that Cython generated for the
module the engine loaded: ``sknn_scratch/_kernels.c``, or ``_kernels_avx2.c``
for the AVX2 build of the same source. That file maps each of its C lines
back to a ``.pyx`` line; where it is missing, groups are by compiled function only. Where
``perf`` is missing or not permitted, the script says so, prints the
unprofiled figures and exits normally.

The NumPy engine
----------------
``--engine numpy`` samples a fit on the NumPy reference engine the same way.
Its time then appears by C function (NumPy's loops, BLAS, the interpreter) in
the hottest-functions list, not by line of Python. The line-level profile of
the reference by ``line_profiler`` that this script used to make was dropped:
it classified the reference's source lines with patterns that had to follow
every edit of the engine. ``profile_before.txt`` keeps the last one, and
``kernprof -l`` on ``_network.py`` still gives it by hand.
"""

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bench_training import (
    FULL,
    QUICK,
    MLPClassifier,
    ScratchMLPClassifier,
    TrainCase,
    adam_params,
    batch_rows,
    classification_data,
    environment,
    floor_epochs,
    layer_sizes,
    load_average,
    on_engine,
)
from sklearn.exceptions import ConvergenceWarning

import sknn_scratch
from sknn_scratch import _engine

HERE = Path(__file__).resolve().parent
DEFAULT_RUNS = (
    "small:float64",
    "small:float32",
    "deep:float64",
    "mid:float64",
    "wide:float64",
)
# Epochs of every fit of a case: enough batches for a few thousand samples.
EPOCHS = {"small": 20, "deep": 3, "mid": 3, "wide": 1}
QUICK_EPOCHS = dict.fromkeys(EPOCHS, 1)
# Samples to aim for in one profiled fit (all threads): the sample period is
# chosen from the unprofiled fit's time, within these bounds (µs of CPU time).
TARGET_SAMPLES = 20_000
PERIOD_BOUNDS_US = (100, 10_000)
STACK_BYTES = 8192  # of stack copied per sample for DWARF unwinding

# The source every build of the kernels compiles, and the module the engine
# loaded from it (``_kernels``, or ``_kernels_avx2`` where the CPU has AVX2):
# Cython names the module's C functions "<n>sknn_scratch_<n><module>_" and its
# C file "<module>.c", whose line marks point into the source.
_PACKAGE, _PYX = "sknn_scratch", "_kernels"
_MODULE = _engine._kernels.__name__.rpartition(".")[2] if _engine._kernels else _PYX
COMPILED_PREFIX = f"{len(_PACKAGE)}{_PACKAGE}_{len(_MODULE)}{_MODULE}_"
# Compiled functions that hand parts of a batch to helper threads and wait.
HAND_OVER_FUNCTIONS = ("run_parts", "helper_loop", "claim_helpers", "release_helpers")
HAND_OVER = "helper threads: hand-over (wake, wait)"
# Lines of the compiled code that get a group of their own, first match wins
# (pattern over the .pyx line's text).
LINE_GROUPS = (
    # the shuffled batch's rows, read through ``source = order[...]``
    ("gather (row copies)", re.compile(r"\bsource\b|\bmemcpy\(|\bprefetch")),
    ("bias gradient (Σ δ over rows)", re.compile(r"\bbias_grad\b")),
    ("dropout", re.compile(r"\bmask\b")),
)
# BLAS products by the transposition flags of the compiled code's gemm call.
PRODUCTS = {
    ("False", "False"): "BLAS a·W (forward)",
    ("True", "False"): "BLAS aᵀ·δ (weight gradient)",
    ("False", "True"): "BLAS δ·Wᵀ (input gradient)",
}
GEMM_CALL = re.compile(r"\bgemm\(\s*(True|False)\s*,\s*(True|False)")
BLAS_LIBRARY = re.compile(r"blas|mkl|blis", re.IGNORECASE)
NOT_COMPILED = "(not under compiled code)"


# -- unprofiled timings -------------------------------------------------------------------
def fit_timer(name: str, factory: Callable[..., object], params: dict, X, y):
    """A function that fits a fresh estimator (on ``name``'s engine) and
    returns the wall time."""

    def run() -> float:
        estimator = factory(**params)
        with on_engine(name):
            start = time.perf_counter()
            estimator.fit(X, y)
            return time.perf_counter() - start

    return run


def interleaved_minima(timers: dict[str, Callable[[], float]], rounds: int) -> dict:
    """Minimum time of each timer over ``rounds`` rounds, the order rotating."""
    names = list(timers)
    for name in names:
        timers[name]()  # warm up
    best = dict.fromkeys(names, np.inf)
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            best[name] = min(best[name], timers[name]())
    return best


# -- perf: availability and recording ------------------------------------------------------
def perf_record_command(
    data: Path, period_us: int, switches: bool, control: tuple[Path, Path] | None
) -> list[str]:
    """``perf record`` with this script's options (see the module docstring)."""
    command = [
        "perf", "record", "--quiet", "-o", str(data),
        "-e", "cpu-clock", "-c", str(period_us * 1000),
        "--call-graph", f"dwarf,{STACK_BYTES}",
        "--clockid", "CLOCK_MONOTONIC",
    ]  # fmt: skip
    if switches:
        command.append("--switch-events")
    if control is not None:
        command += ["--delay", "-1", "--control", f"fifo:{control[0]},{control[1]}"]
    return command


def perf_support() -> tuple[str, bool]:
    """Why ``perf`` cannot profile here ("" if it can), and whether it records
    context switches: found by recording a trivial command with the options
    of a profiled fit."""
    if shutil.which("perf") is None:
        return (
            "perf is not installed (Linux only; e.g. apt-get install linux-perf)",
            False,
        )
    problem = ""
    for switches in (True, False):
        with tempfile.TemporaryDirectory() as folder:
            control = make_fifos(Path(folder))
            command = perf_record_command(
                Path(folder, "probe.data"), 1000, switches, control
            )
            done = subprocess.run(
                [*command, "--", sys.executable, "-c", "pass"],
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode == 0:
            return "", switches
        problem = problem or (done.stderr.strip().splitlines() or ["no message"])[-1]
    paranoid = Path("/proc/sys/kernel/perf_event_paranoid")
    level = paranoid.read_text().strip() if paranoid.exists() else "unknown"
    return (
        f"perf record failed ({problem}); kernel.perf_event_paranoid is {level} "
        "(profiling one's own processes needs 2 or less, and perf 5.10 or later "
        "for --control)"
    ), False


def make_fifos(folder: Path) -> tuple[Path, Path]:
    """The control and acknowledgement pipes of ``perf record --control``."""
    control = (folder / "control", folder / "ack")
    for fifo in control:
        os.mkfifo(fifo)
    return control


@dataclass
class Recording:
    """A profiled fit: the child's report and where perf wrote."""

    data: Path
    pid: int
    start_ns: int
    stop_ns: int
    batches: int
    period_us: int
    switches: bool
    load_before: str


def record_fit(
    run: str, epochs: int, engine: str, quick: bool, period_us: int, switches: bool,
    folder: Path,
) -> Recording:  # fmt: skip
    """Run one fit under ``perf record`` in a child process (``--worker``)."""
    control = make_fifos(folder)
    data = folder / "perf.data"
    command = [
        *perf_record_command(data, period_us, switches, control),
        "--",
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker", run, "--epochs", str(epochs), "--engine", engine,
        "--control", str(control[0]), str(control[1]),
        *(["--quick"] if quick else []),
    ]  # fmt: skip
    load = load_average()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    reports = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not reports:
        raise RuntimeError(
            f"the profiled fit failed (exit {done.returncode}):\n"
            + done.stdout[-2000:]
            + done.stderr[-2000:]
        )
    report = json.loads(reports[-1])
    return Recording(
        data, period_us=period_us, switches=switches, load_before=load, **report
    )


def worker(
    run: str, epochs: int, engine: str, quick: bool, control: Sequence[str]
) -> int:
    """The child under ``perf record``: warm up, then one fit with perf on."""
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    case, dtype = parse_run(run, QUICK if quick else FULL)
    X, y = classification_data(case, dtype)
    params = adam_params(case, epochs)
    name = "NumPy engine" if engine == "numpy" else "ours"
    rows = min(case.n_samples, 4 * case.batch_size)
    with on_engine(name):  # warm up: code paths, helper threads
        ScratchMLPClassifier(**{**params, "max_iter": 1}).fit(X[:rows], y[:rows])
    estimator = ScratchMLPClassifier(**params)
    with open(control[0], "w") as commands, open(control[1]) as acks:

        def tell(command: str) -> None:
            commands.write(command + "\n")
            commands.flush()
            reply = acks.readline().strip("\x00\n")
            if reply != "ack":
                raise RuntimeError(f"perf answered {reply!r} to {command!r}")

        with on_engine(name):
            tell("enable")
            start = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            estimator.fit(X, y)
            stop = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            tell("disable")
    batches = epochs * len(batch_rows(case.n_samples, case.batch_size))
    report = {
        "pid": os.getpid(),
        "start_ns": start,
        "stop_ns": stop,
        "batches": batches,
    }
    print(json.dumps(report), flush=True)
    return 0


# -- perf: reading the samples -----------------------------------------------------------
@dataclass
class Frame:
    """One entry of a sample's call stack, innermost first."""

    address: str
    symbol: str
    library: str | None  # None: inlined into the next entry, or unknown
    source: str | None = None  # "file.c:123", when perf knows it


@dataclass
class Sample:
    pid: int
    tid: int
    time_ns: int
    period_ns: int
    frames: list[Frame]


@dataclass
class Switch:
    tid: int
    time_ns: int
    out: bool
    preempted: bool


_HEADER = re.compile(r"^\s*(\d+)/(\d+)\s+(\d+)\.(\d+):\s+(\d+)\s+\S+:")
_SWITCH = re.compile(
    r"^\s*(\d+)/(\d+)\s+(\d+)\.(\d+):\s+PERF_RECORD_SWITCH\S*\s+(OUT|IN)(.*)$"
)
_FRAME = re.compile(r"^\t\s*([0-9a-f]+)\s+(.+?)(?:\+0x[0-9a-f]+)?(?:\s+\((.*)\))?$")
_SOURCE = re.compile(r"^  (\S+:\d+)")


def _nanoseconds(seconds: str, fraction: str) -> int:
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])


def read_perf(data: Path) -> Iterator[Sample | Switch]:
    """The samples and context switches of a recording, in time order."""
    command = [
        "perf", "script", "-i", str(data), "--ns", "--show-switch-events",
        "-F", "pid,tid,time,period,event,ip,sym,dso,srcline",
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as perf:
        sample: Sample | None = None
        for line in perf.stdout:
            line = line.rstrip("\n")
            if sample is not None:
                if line.startswith("\t"):
                    match = _FRAME.match(line)
                    if match and not match.group(2).startswith("[unknown]"):
                        address, symbol, library = match.groups()
                        library = None if library in (None, "inlined") else library
                        sample.frames.append(Frame(address, symbol, library))
                    continue
                if line.startswith("  ") and sample.frames:
                    source = _SOURCE.match(line)
                    if source and sample.frames[-1].source is None:
                        sample.frames[-1].source = source.group(1)
                    continue
                yield sample
                sample = None
            if match := _SWITCH.match(line):
                pid, tid, seconds, fraction, direction, rest = match.groups()
                yield Switch(
                    int(tid), _nanoseconds(seconds, fraction), direction == "OUT",
                    "preempt" in rest,
                )  # fmt: skip
            elif match := _HEADER.match(line):
                pid, tid, seconds, fraction, period = match.groups()
                sample = Sample(
                    int(pid), int(tid), _nanoseconds(seconds, fraction), int(period), []
                )
        if sample is not None:
            yield sample
    if perf.returncode:
        raise RuntimeError(f"{' '.join(command)} failed (exit {perf.returncode})")


# -- where a sample's time goes -------------------------------------------------------------
class PyxLines:
    """Maps lines of the generated ``_kernels.c`` to ``_kernels.pyx``'s lines,
    and names the ``cdef inline`` helpers of the ``.pyx``.

    Cython writes, before the C code of each ``.pyx`` statement, a comment
    naming the ``.pyx`` line and quoting its source, the line itself marked
    with ``# <<<<``. Empty when the C file is not found.
    """

    MARK = re.compile(r'/\* "[^"]*_kernels\.pyx":(\d+)')
    INLINE = re.compile(r"^cdef inline\b[^(]*?\b(\w+)\(", re.MULTILINE)

    def __init__(self, c_file: Path | None) -> None:
        self.c_file = c_file
        self.by_c_line: list[int] = []  # C line (0-based) -> .pyx line, 0 unknown
        self.text: dict[int, str] = {}
        # Scalar helpers (_exp, _expit, ...) and wrappers (gemm): their time
        # is charged to the line that calls them.
        pyx = Path(sknn_scratch.__file__).resolve().parent / f"{_PYX}.pyx"
        self.inline = (
            set(self.INLINE.findall(pyx.read_text())) if pyx.exists() else set()
        )
        if c_file is None:
            return
        current, quoting = 0, False
        for line in c_file.read_text(errors="replace").splitlines():
            if match := self.MARK.search(line):
                current, quoting = int(match.group(1)), True
            elif quoting:
                if line.strip().startswith("*/"):
                    quoting = False
                elif line.rstrip().endswith("# <<<<<<<<<<<<<<"):
                    statement = line.strip()[1:].rsplit("#", 1)[0].strip()
                    self.text.setdefault(current, statement)
            self.by_c_line.append(current)

    def line(self, source: str | None) -> int:
        """The .pyx line of a "_kernels.c:N" location (0: unknown)."""
        if not source or not self.by_c_line:
            return 0
        name, _, number = source.rpartition(":")
        if not name.endswith(f"{_MODULE}.c") or not number.isdigit():
            return 0
        index = int(number) - 1
        return self.by_c_line[index] if 0 <= index < len(self.by_c_line) else 0


def find_c_file() -> tuple[Path | None, str]:
    """The generated C file beside the extension, and a note if it is missing
    or older than the .pyx it came from."""
    folder = Path(sknn_scratch.__file__).resolve().parent
    c_file, pyx = folder / f"{_MODULE}.c", folder / f"{_PYX}.pyx"
    if not c_file.exists():
        return (
            None,
            f"{c_file} not found (a non-editable install?): groups by function only",
        )
    if pyx.exists() and pyx.stat().st_mtime > c_file.stat().st_mtime:
        return (
            c_file,
            f"note: {pyx.name} is newer than {c_file.name}: rebuild, or lines may be off",
        )
    return c_file, ""


_METHOD_NUMBER = re.compile(r"^_\d*")


def compiled_function(symbol: str) -> str | None:
    """The ``_kernels.pyx`` name of a C function Cython made, None for others.

    ``__pyx_fuse_1__pyx_f_12sknn_scratch_8_kernels_adam_step`` -> "adam_step";
    methods: ``..._kernels_15CompiledNetwork_6epoch`` -> "CompiledNetwork.epoch".
    """
    if COMPILED_PREFIX not in symbol:
        return None
    name = symbol.split(COMPILED_PREFIX, 1)[1]
    name = re.sub(r"\.(isra|part|constprop|cold|lto_priv)\b.*$", "", name)
    if match := re.match(r"(\d+)", name):
        length = int(match.group(1))
        start = len(match.group(1))
        owner, rest = name[start : start + length], name[start + length :]
        return f"{owner}.{_METHOD_NUMBER.sub('', rest)}"
    return name


@dataclass
class Charge:
    """Where one sample goes: its group, and the .pyx line it is charged to."""

    group: str
    pyx_line: int = 0
    function: str = ""


def classify(sample: Sample, pyx: PyxLines) -> Charge:
    """The group of a sample (see the module docstring)."""
    for index, frame in enumerate(sample.frames):
        library = _library_of(sample.frames, index)
        if library and BLAS_LIBRARY.search(os.path.basename(library)):
            return _blas_charge(sample.frames[index + 1 :], pyx)
        function = compiled_function(frame.symbol)
        if function is not None and function not in pyx.inline:
            line = pyx.line(frame.source)
            return Charge(
                _compiled_group(function, pyx.text.get(line, "")), line, function
            )
    library = _library_of(sample.frames, 0) or "?"
    if f"{os.sep}numpy{os.sep}" in library:
        return Charge(f"NumPy {NOT_COMPILED}")
    if os.path.basename(library).startswith(("libpython", "python")):
        return Charge(f"Python interpreter {NOT_COMPILED}")
    return Charge(f"other: libc, kernel... {NOT_COMPILED}")


def _library_of(frames: list[Frame], index: int) -> str | None:
    """The library of frame ``index``: an inlined function's is that of the
    function it was inlined into (the next entries at the same address)."""
    for frame in frames[index:]:
        if frame.address != frames[index].address:
            break
        if frame.library is not None:
            return frame.library
    return None


def _blas_charge(callers: list[Frame], pyx: PyxLines) -> Charge:
    """A BLAS sample: the product asked for by the compiled code's gemm call."""
    for frame in callers:
        function = compiled_function(frame.symbol)
        if function is None or function in pyx.inline:
            continue
        line = pyx.line(frame.source)
        if match := GEMM_CALL.search(pyx.text.get(line, "")):
            return Charge(PRODUCTS[match.groups()], line, function)
        return Charge(f"BLAS, called from {function}", line, function)
    return Charge(f"BLAS {NOT_COMPILED}")


def _compiled_group(function: str, text: str) -> str:
    if function in HAND_OVER_FUNCTIONS:
        return HAND_OVER
    for group, pattern in LINE_GROUPS:
        if pattern.search(text):
            return group
    return function


# -- per-thread wall time -------------------------------------------------------------------------
@dataclass
class ThreadTimes:
    running: int = 0
    preempted: int = 0
    asleep: int = 0


def thread_times(
    switches: list[Switch], start: int, stop: int
) -> dict[int, ThreadTimes]:
    """Each thread's running, preempted and asleep time (ns) within [start, stop].

    A thread's state before its first switch in the window is read from its
    last switch before the window (switch records come even while sampling is
    off); a thread with none is taken to be running.
    """
    by_thread: dict[int, list[Switch]] = defaultdict(list)
    for switch in switches:
        by_thread[switch.tid].append(switch)
    result = {}
    for tid, events in by_thread.items():
        times = ThreadTimes()
        state, since = "running", start
        for event in events:
            if event.time_ns >= stop:
                break
            if event.time_ns > start:
                setattr(times, state, getattr(times, state) + event.time_ns - since)
                since = event.time_ns
            state = _state_after(event)
        setattr(times, state, getattr(times, state) + stop - since)
        result[tid] = times
    return result


def _state_after(switch: Switch) -> str:
    if not switch.out:
        return "running"
    return "preempted" if switch.preempted else "asleep"


# -- one case ----------------------------------------------------------------------------------
@dataclass
class Breakdown:
    """CPU time (ns) by group, for the calling thread and the helpers."""

    caller: Counter = field(default_factory=Counter)
    helpers: Counter = field(default_factory=Counter)
    samples: Counter = field(default_factory=Counter)
    pyx_lines: Counter = field(default_factory=Counter)
    pyx_function: dict = field(default_factory=dict)
    pyx_text: dict = field(default_factory=dict)
    leaves: Counter = field(default_factory=Counter)


def analyse(recording: Recording, pyx: PyxLines) -> tuple[Breakdown, dict]:
    """Samples of the fit's window grouped; each thread's times."""
    breakdown = Breakdown(pyx_text=pyx.text)
    switches = []
    for event in read_perf(recording.data):
        if isinstance(event, Switch):
            switches.append(event)
            continue
        if not recording.start_ns <= event.time_ns <= recording.stop_ns:
            continue
        charge = classify(event, pyx)
        side = breakdown.caller if event.tid == recording.pid else breakdown.helpers
        side[charge.group] += event.period_ns
        breakdown.samples[charge.group] += 1
        if charge.pyx_line:
            breakdown.pyx_lines[charge.pyx_line] += event.period_ns
            breakdown.pyx_function[charge.pyx_line] = charge.function
        if event.frames:
            symbol = event.frames[0].symbol
            library = os.path.basename(_library_of(event.frames, 0) or "?")
            if name := compiled_function(symbol):
                symbol, library = name, _MODULE
            breakdown.leaves[f"{symbol} ({library})"] += event.period_ns
    return breakdown, thread_times(switches, recording.start_ns, recording.stop_ns)


def profile_case(
    run: str,
    epochs: int,
    rounds: int,
    engine: str,
    quick: bool,
    support: tuple[str, bool],
) -> str:
    """The summary of one case."""
    case, dtype = parse_run(run, QUICK if quick else FULL)
    X, y = classification_data(case, dtype)
    sizes = layer_sizes(X.shape[1], case.hidden)
    n_batches = epochs * len(batch_rows(case.n_samples, case.batch_size))
    params = adam_params(case, epochs)
    out: list[str] = []

    def say(text: str = "") -> None:
        out.append(text)
        print(text, flush=True)

    say(
        f"== {case.name} {dtype.name}: {case.n_samples}×{case.n_features}, layers "
        f"{' → '.join(map(str, sizes))}, batch {case.batch_size}; {epochs} epoch(s) = "
        f"{n_batches} batches per fit"
    )
    timers = {
        "ours": fit_timer("ours", ScratchMLPClassifier, params, X, y),
        "NumPy engine": fit_timer("NumPy engine", ScratchMLPClassifier, params, X, y),
        "scikit-learn": fit_timer("scikit-learn", MLPClassifier, params, X, y),
        "floor": functools.partial(
            floor_epochs(sizes, case.n_samples, case.batch_size, dtype), epochs
        ),
    }
    best = interleaved_minima(timers, rounds)
    per_batch = {name: 1e6 * t / n_batches for name, t in best.items()}
    floor = per_batch["floor"]
    say(f"unprofiled, µs per batch (min of {rounds} interleaved fits):")
    for name, micros in per_batch.items():
        ratio = "" if name == "floor" else f"   ({micros / floor:.2f}× floor)"
        say(f"  {name:<22}{micros:10.1f}{ratio}")

    problem, switches = support
    if problem:
        say(f"perf: not profiled: {problem}")
        say()
        return "\n".join(out)
    profiled = "ours" if engine == "compiled" else "NumPy engine"
    fit_seconds = best[profiled]
    period_us = int(
        np.clip(fit_seconds * os.cpu_count() * 1e6 / TARGET_SAMPLES, *PERIOD_BOUNDS_US)
    )
    with tempfile.TemporaryDirectory(prefix="sknn-profile-") as folder:
        recording = record_fit(
            run, epochs, engine, quick, period_us, switches, Path(folder)
        )
        c_file, note = find_c_file() if engine == "compiled" else (None, "")
        breakdown, threads = analyse(recording, PyxLines(c_file))
    say(report_profile(recording, breakdown, threads, per_batch, profiled, note))
    say()
    return "\n".join(out)


def report_profile(
    recording: Recording,
    breakdown: Breakdown,
    threads: dict[int, ThreadTimes],
    per_batch: dict[str, float],
    profiled: str,
    note: str,
) -> str:
    """The perf part of a case's summary."""
    batches = recording.batches
    wall = (recording.stop_ns - recording.start_ns) / 1e3 / batches

    def micros(ns: float) -> float:
        return ns / 1e3 / batches

    lines = [
        f"perf: one fit of {profiled} ({batches} batches), sampled every "
        f"{recording.period_us} µs of CPU time per thread; load average "
        f"{recording.load_before} when it started",
        f"  wall time per batch under perf: {wall:.1f} µs "
        f"(unprofiled: {per_batch[profiled]:.1f})",
    ]
    if note:
        lines.append(f"  {note}")
    if recording.switches and threads:
        caller = threads.get(recording.pid, ThreadTimes())
        lines.append(
            f"  calling thread, µs per batch: running {micros(caller.running):.1f}, "
            f"preempted {micros(caller.preempted):.1f} (another process had the core), "
            f"asleep {micros(caller.asleep):.1f} (waiting for helper threads or a lock)"
        )
        helpers = [
            t for tid, t in threads.items() if tid != recording.pid and t.running
        ]
        if helpers:
            lines.append(
                f"  other threads ({len(helpers)} that ran), µs per batch: running "
                f"{micros(sum(t.running for t in helpers)):.1f}, preempted "
                f"{micros(sum(t.preempted for t in helpers)):.1f}"
            )
    else:
        lines.append(
            "  (no context-switch records: running/preempted/asleep not split)"
        )
    total = sum(breakdown.caller.values()) + sum(breakdown.helpers.values())
    if not total:
        lines.append("  no samples in the fit's window")
        return "\n".join(lines)
    lines.append("  CPU time by group, µs per batch (samples × period; all threads):")
    groups = set(breakdown.caller) | set(breakdown.helpers)
    width = max(len(group) for group in groups)
    lines.append(
        f"    {'group':<{width}} {'caller':>8} {'others':>8} {'total':>8} {'share':>6} {'samples':>8}"
    )
    for group in sorted(
        groups, key=lambda g: -(breakdown.caller[g] + breakdown.helpers[g])
    ):
        both = breakdown.caller[group] + breakdown.helpers[group]
        lines.append(
            f"    {group:<{width}} {micros(breakdown.caller[group]):8.1f} "
            f"{micros(breakdown.helpers[group]):8.1f} {micros(both):8.1f} "
            f"{100 * both / total:5.1f}% {breakdown.samples[group]:8d}"
        )
    blas = sum(
        breakdown.caller[g] + breakdown.helpers[g]
        for g in groups
        if g.startswith("BLAS")
    )
    lines.append(
        f"    {'= all BLAS':<{width}} {'':>8} {'':>8} {micros(blas):8.1f} "
        f"{100 * blas / total:5.1f}%   (floor, wall: {per_batch['floor']:.1f})"
    )
    lines.append(
        f"    {'= all CPU':<{width}} {micros(sum(breakdown.caller.values())):8.1f} "
        f"{micros(sum(breakdown.helpers.values())):8.1f} {micros(total):8.1f}"
    )
    if breakdown.pyx_lines:
        lines.append(
            "  hottest lines of _kernels.pyx (CPU µs per batch, all threads; "
            "BLAS and libc/libm time charged to the calling line):"
        )
        for line, ns in breakdown.pyx_lines.most_common(12):
            text = breakdown.pyx_text.get(line, "")
            lines.append(
                f"    {line:5d} {breakdown.pyx_function.get(line, ''):<18.18} "
                f"{micros(ns):8.1f} {100 * ns / total:5.1f}%  {text[:70]}"
            )
    lines.append("  hottest functions, any library (CPU µs per batch, all threads):")
    for leaf, ns in breakdown.leaves.most_common(12):
        lines.append(f"    {micros(ns):8.1f} {100 * ns / total:5.1f}%  {leaf[:100]}")
    return "\n".join(lines)


def parse_run(run: str, config: dict) -> tuple[TrainCase, np.dtype]:
    """A "case:dtype" pair -> the case and the dtype."""
    name, _, dtype = run.partition(":")
    case = config.get(name)
    if not isinstance(case, TrainCase) or name not in EPOCHS:
        raise SystemExit(f"{run!r}: the case must be one of {', '.join(EPOCHS)}")
    try:
        return case, np.dtype(dtype or "float64")
    except TypeError:
        raise SystemExit(f"{run!r}: {dtype!r} is not a dtype") from None


def commit() -> str:
    """The last commit of the package's code, marked when it has changes
    since."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        package = str(Path(sknn_scratch.__file__).resolve().parent)
        git = ["git", "-C", package]
        head = subprocess.run(
            [*git, "log", "-1", "--format=%h", "--", "."],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "."],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        return (head or "unknown") + (" with uncommitted changes" if dirty else "")
    return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Profile the chosen runs and write the summary file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        nargs="+",
        default=list(DEFAULT_RUNS),
        help=f"case:dtype pairs (cases: {', '.join(EPOCHS)})",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="interleaved rounds of unprofiled fits"
    )
    parser.add_argument(
        "--engine",
        choices=_engine.ENGINES,
        default="compiled",
        help="the engine of the profiled fit (default: compiled)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, 1 epoch, 1 round: a smoke test; writes only with --output",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=(
            "where to write (default: benchmarks/profile_after.txt, none with "
            "--quick; profile_before.txt is the record from before the speed work)"
        ),
    )
    parser.add_argument("--note", default="", help="a line for the header")
    # the child process under perf record
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--control", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.epochs, args.engine, args.quick, args.control)
    if args.engine == "compiled" and _engine.preferred() != "compiled":
        parser.error(
            "the compiled engine is not in use here "
            f"({_engine.UNAVAILABLE or _engine.ENGINE_VARIABLE + ' chooses numpy'})"
        )
    for run in args.runs:
        parse_run(run, FULL)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    support = perf_support()
    if support[0]:
        print(f"note: {support[0]}; only the unprofiled figures follow", flush=True)
    epochs = QUICK_EPOCHS if args.quick else EPOCHS
    rounds = 1 if args.quick else args.repeats
    started_load = load_average()
    summaries = [
        profile_case(
            run, epochs[run.partition(":")[0]], rounds, args.engine, args.quick, support
        )
        for run in args.runs
    ]
    output = args.output or (None if args.quick else HERE / "profile_after.txt")
    if output is None:
        return 0
    perf_version = (
        subprocess.run(
            ["perf", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if shutil.which("perf")
        else "perf: not installed"
    )
    loads = (started_load, load_average())
    cores = os.cpu_count() or 1
    busy = any(load != "unknown" and float(load) >= cores / 2 for load in loads)
    machine = (
        f"load average {loads[0]} at the start, {loads[1]} at the end, on {cores} cores"
        + (
            ": a busy machine (others' work), so absolute times are inflated and "
            "noisy; read them as proportions"
            if busy
            else ""
        )
    )
    explanation = textwrap.fill(
        "Per batch: the unprofiled cost of each contender, then one fit sampled "
        "by perf (cpu-clock, DWARF call stacks, context switches) with its CPU "
        "time grouped by where it went; BLAS by the product the compiled code "
        "asked for, compiled functions by their _kernels.pyx names, libc/libm "
        "calls charged to their compiled caller. See the docstring of "
        "benchmarks/profile_training.py for the method and its limits.",
        88,
    )
    header = (
        f"Profile of ScratchMLPClassifier's fit ({args.engine} engine, Adam), made by "
        f"benchmarks/profile_training.py\n"
        f"sknn_scratch at commit {commit()}; {perf_version}\n"
        f"{args.note + chr(10) if args.note else ''}"
        f"{environment()}\n"
        f"{machine}\n"
        f"{explanation}\n\n"
    )
    output.write_text(header + "\n".join(summaries))
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
