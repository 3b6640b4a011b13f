"""Where the time of a fit goes, stage by stage, on the engine this install runs.

Profiles one ``ScratchMLPClassifier.fit`` (Adam, on synthetic 10-class data)
and prints the time per batch of each stage of training::

    python benchmarks/tools/profile_training.py              # 20000×50, hidden (100,), batch 200
    python benchmarks/tools/profile_training.py --hidden 256 128 --dtype float32
    SKNN_SCRATCH_ENGINE=numpy python benchmarks/tools/profile_training.py
    python benchmarks/tools/profile_training.py --quick      # a tiny case: a smoke test

The stages are the engine's own functions:

- **The compiled engine** runs whole epochs in C without the GIL, so a Python
  profiler sees one call per epoch. Linux ``perf`` samples the fit instead
  (every ``--period`` µs of CPU time of each thread; call stacks unwound from
  DWARF debug information), and each sample counts for the innermost function
  of any module of ``sknn_scratch._compiled`` on its stack: time in BLAS, libm
  and libc goes to the compiled function that called them, and what the C
  compiler inlined counts for the function it was inlined into. Functions are
  named from their symbols, which Cython derives from the module path, so any
  module of the package is recognised; no line of a ``.pyx`` is mapped (that
  would need the generated C files and their line marks). The figures are CPU
  time of all threads, the engine's helper threads included; ``perf`` slows
  the fit it samples, so read them as proportions. Where ``perf`` is missing
  or not permitted, the script says so and times the fit alone.
- **The NumPy engine** runs a Python loop per batch, which ``cProfile``
  follows: each function of ``sknn_scratch._reference`` counts for its own
  time and that of the NumPy, SciPy and BLAS calls it makes, less the time of
  the reference functions it calls (they have rows of their own). The
  profiler's own cost per call inflates the shortest functions.

Both end with the time outside the engine: the estimator's validation, set-up
and bookkeeping between epochs.
"""

import argparse
import cProfile
import json
import math
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import sknn_scratch
from sknn_scratch import ScratchMLPClassifier, _engine

N_CLASSES = 10
# (samples, features, hidden layers, batch size, epochs): the default is the
# "small" case of bench_training.py
DEFAULT_CASE = (20_000, 50, (100,), 200, 5)
QUICK_CASE = (2_000, 20, (32,), 100, 3)
STACK_BYTES = 8192  # of each thread's stack copied per sample, to unwind
BLAS_LIBRARY = re.compile(r"blas|mkl|blis", re.IGNORECASE)
OUTSIDE = "outside the engine (validation, set-up, bookkeeping)"
MINOR = 0.01  # of the total: smaller stages are summed in one row


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    samples, features, hidden, batch, epochs = DEFAULT_CASE
    parser.add_argument("--samples", type=int, default=samples)
    parser.add_argument("--features", type=int, default=features)
    parser.add_argument("--hidden", type=int, nargs="+", default=list(hidden))
    parser.add_argument("--batch-size", type=int, default=batch)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument(
        "--members", type=int, default=1, help="packed members (n_members)"
    )
    parser.add_argument(
        "--parts",
        type=int,
        help="cut a batch into at most this many parts (compiled engine; "
        "default: one per core)",
    )
    parser.add_argument(
        "--period", type=int, default=100, help="µs of CPU time between perf samples"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny case, for the tests"
    )
    # the child process that perf records (compiled engine)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        samples, features, hidden, batch, epochs = QUICK_CASE
        args.samples, args.features, args.hidden = samples, features, list(hidden)
        args.batch_size, args.epochs, args.period = batch, epochs, 20
    return args


# -- the case -----------------------------------------------------------------
def make_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Standardised 10-class synthetic data of the case's shape and dtype."""
    X, y = make_classification(
        n_samples=args.samples,
        n_features=args.features,
        n_informative=min(args.features, max(5, args.features * 3 // 5)),
        n_redundant=0,
        n_classes=N_CLASSES,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X).astype(args.dtype)
    return np.ascontiguousarray(X), y


def make_estimator(args: argparse.Namespace, epochs: int) -> ScratchMLPClassifier:
    """Adam for exactly ``epochs`` epochs: no stopping rule ends it sooner."""
    return ScratchMLPClassifier(
        hidden_layer_sizes=tuple(args.hidden),
        batch_size=args.batch_size,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
        n_members=args.members,
    )


def n_batches(args: argparse.Namespace) -> int:
    return args.epochs * math.ceil(args.samples / args.batch_size)


def warm_up(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> None:
    """A short fit first: code paths, caches and helper threads get ready."""
    rows = min(len(X), 4 * args.batch_size)
    make_estimator(args, 1).fit(X[:rows], y[:rows])


def timed_fit(estimator, X: np.ndarray, y: np.ndarray) -> float:
    """Fit; the wall time."""
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def describe(args: argparse.Namespace, engine: str) -> str:
    layers = " → ".join(map(str, [args.features, *args.hidden, N_CLASSES]))
    return (
        f"one fit on the {engine} engine: {args.samples}×{args.features} "
        f"{args.dtype}, layers {layers}, Adam, batch {args.batch_size}, "
        f"{args.epochs} epoch(s) = {n_batches(args)} batches"
        + (f", {args.members} packed members" if args.members > 1 else "")
    )


def print_table(
    unit: str, times: Counter, batches: int, blas: Counter | None = None
) -> None:
    """µs per batch and share of each stage, largest first, then the total;
    with ``blas``, the share of each stage's time spent inside BLAS. Stages
    under ``MINOR`` of the total share one row."""
    total = sum(times.values())
    minor = [name for name, seconds in times.items() if seconds < MINOR * total]
    if len(minor) > 1:
        folded = f"{len(minor)} other stages, each under {MINOR:.0%}"
        for counter in (times, blas or Counter()):
            counter[folded] = sum(counter.pop(name, 0.0) for name in minor)
    width = max(len(name) for name in times)
    print(f"{unit}, per batch, by stage:")
    print(
        f"  {'stage':<{width}}  {'µs/batch':>9}  {'share':>6}"
        + (f"  {'in BLAS':>7}" if blas is not None else "")
    )
    for name, seconds in times.most_common():
        print(
            f"  {name:<{width}}  {1e6 * seconds / batches:9.1f}  {seconds / total:6.1%}"
            + (f"  {blas[name] / seconds:7.0%}" if blas is not None else "")
        )
    print(f"  {'total':<{width}}  {1e6 * total / batches:9.1f}")


# -- the NumPy engine: cProfile ------------------------------------------------
def profile_reference(args: argparse.Namespace) -> None:
    X, y = make_data(args)
    reference = Path(sknn_scratch.__file__).resolve().parent / "_reference"

    def stage(function: tuple) -> str | None:
        path = Path(function[0])
        if path.parent.resolve() != reference:
            return None
        return f"_reference.{path.stem}.{function[2]}"

    warm_up(args, X, y)
    estimator = make_estimator(args, args.epochs)
    profiler = cProfile.Profile()
    profiler.enable()
    wall = timed_fit(estimator, X, y)
    profiler.disable()
    # A function's own time: its cumulative time, less what the reference
    # functions it called took (their cumulative time from this caller).
    own: Counter = Counter()
    for function, (*_, cumulative, callers) in pstats.Stats(profiler).stats.items():
        name = stage(function)
        if name is None:
            continue
        own[name] += cumulative
        for caller, (_, _, _, from_caller) in callers.items():
            if (caller_name := stage(caller)) is not None:
                own[caller_name] -= from_caller
    print(describe(args, "NumPy"))
    print(
        f"wall time of the fit under cProfile: {wall:.3f} s, "
        f"{1e6 * wall / n_batches(args):.1f} µs per batch"
    )
    times = Counter({name: seconds for name, seconds in own.items() if seconds > 0})
    times[OUTSIDE] = max(0.0, wall - sum(own.values()))
    print_table("time of the calling thread", times, n_batches(args))


# -- the compiled engine: perf -------------------------------------------------
def compiled_function(symbol: str) -> str | None:
    """The dotted name of a C function Cython made for a module of
    ``sknn_scratch._compiled``; None for any other symbol.

    Cython names a function after its module path and class, each part
    prefixed by its length:
    ``__pyx_fuse_1__pyx_f_12sknn_scratch_9_compiled_8_kernels_adam_step.isra.0``
    -> ``_compiled._kernels.adam_step``; a method's Python-facing wrapper
    numbers it: ``..._15CompiledNetwork_6epoch`` -> ``...CompiledNetwork.epoch``.
    """
    match = re.match(r"(?:__pyx_fuse_\d+)?__pyx_(?:f|pf|pw)_(\d.*)", symbol)
    if match is None:
        return None
    rest = match.group(1).split(".")[0]  # the C compiler's .isra, .part, .cold...
    parts = []
    while (length := re.match(r"\d+", rest)) is not None:
        start, size = length.end(), int(length.group())
        if rest[start + size : start + size + 1] != "_":
            break  # a method's number, not a length
        parts.append(rest[start : start + size])
        rest = rest[start + size + 1 :]
    if parts[:2] != ["sknn_scratch", "_compiled"] or len(parts) < 3:
        return None
    return ".".join([*parts[1:], re.sub(r"^\d+", "", rest)])


def read_samples(data: Path) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """Each sample of a recording: its period (ns) and its stack, innermost
    first, as (symbol, library) pairs."""
    command = [
        "perf", "script", "-i", str(data), "--no-inline",
        "-F", "tid,period,ip,sym,dso",
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as perf:
        period, frames = None, []
        for line in perf.stdout:
            if line.startswith("\t"):
                frame = re.match(
                    r"\t\s*[0-9a-f]+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)$", line
                )
                if frame:
                    frames.append(frame.groups())
            elif line.strip():
                if period is not None:
                    yield period, frames
                period, frames = int(line.split()[1]), []
        if period is not None:
            yield period, frames


def group_samples(data: Path) -> tuple[Counter, Counter, int]:
    """CPU time (s) by stage, the part of it inside BLAS, and the number of
    samples."""
    times, blas, samples = Counter(), Counter(), 0
    for period, frames in read_samples(data):
        stage = next(
            (name for symbol, _ in frames if (name := compiled_function(symbol))),
            OUTSIDE,
        )
        times[stage] += period / 1e9
        samples += 1
        if frames and BLAS_LIBRARY.search(os.path.basename(frames[0][1])):
            blas[stage] += period / 1e9
    return times, blas, samples


def perf_record(args: argparse.Namespace, folder: Path) -> tuple[Path, dict]:
    """Record the fit of a child process; perf is on for the fit alone,
    switched through its control pipes."""
    control = [folder / "control", folder / "ack"]
    for fifo in control:
        os.mkfifo(fifo)
    data = folder / "perf.data"
    command = [
        "perf", "record", "--quiet", "-o", str(data),
        "-e", "cpu-clock", "-c", str(args.period * 1000),
        "--call-graph", f"dwarf,{STACK_BYTES}",
        "--delay", "-1", "--control", f"fifo:{control[0]},{control[1]}",
        "--", sys.executable, str(Path(__file__).resolve()), *sys.argv[1:],
        "--child", str(control[0]), str(control[1]),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    reports = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not reports:
        problem = (done.stderr.strip().splitlines() or ["no message"])[-1]
        paranoid = Path("/proc/sys/kernel/perf_event_paranoid")
        level = paranoid.read_text().strip() if paranoid.exists() else "unknown"
        raise RuntimeError(
            f"perf record failed ({problem}); kernel.perf_event_paranoid is "
            f"{level} (one's own processes need 2 or less, and --control perf 5.10)"
        )
    return data, json.loads(reports[-1])


def child(args: argparse.Namespace) -> None:
    """The fit that perf records: warm up with perf off, then fit with it on."""
    X, y = make_data(args)
    with open(args.child[0], "w") as commands, open(args.child[1]) as acks:

        def tell(command: str) -> None:
            commands.write(command + "\n")
            commands.flush()
            if acks.readline().strip("\x00\n") != "ack":
                raise RuntimeError(f"perf did not acknowledge {command!r}")

        warm_up(args, X, y)
        estimator = make_estimator(args, args.epochs)
        tell("enable")
        wall = timed_fit(estimator, X, y)
        tell("disable")
    print(json.dumps({"wall": wall}), flush=True)


def profile_compiled(args: argparse.Namespace) -> None:
    print(describe(args, "compiled"))
    problem = "" if shutil.which("perf") else "perf is not installed (Linux only)"
    if not problem:
        with tempfile.TemporaryDirectory(prefix="sknn-profile-") as folder:
            try:
                data, report = perf_record(args, Path(folder))
            except RuntimeError as error:
                problem = str(error)
            else:
                times, blas, samples = group_samples(data)
    if problem:
        print(f"perf: not profiled: {problem}")
        X, y = make_data(args)
        warm_up(args, X, y)
        wall = timed_fit(make_estimator(args, args.epochs), X, y)
        print(
            f"wall time of the fit: {wall:.3f} s, "
            f"{1e6 * wall / n_batches(args):.1f} µs per batch"
        )
        return
    wall = report["wall"]
    print(
        f"wall time of the fit under perf: {wall:.3f} s, "
        f"{1e6 * wall / n_batches(args):.1f} µs per batch; sampled every "
        f"{args.period} µs of CPU time per thread"
    )
    if not times:
        print("no samples in the fit")
        return
    print(f"{samples} samples (a stage of n samples is known to about 1/√n of itself)")
    print_table("CPU time of all threads", times, n_batches(args), blas)


def main() -> int:
    args = parse_args()
    # Running out of epochs is the plan here, not a sign of trouble.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if args.parts is not None and _engine.preferred() == "compiled":
        from sknn_scratch._compiled import _threads

        _threads.set_part_policy(parts=args.parts)
    if args.child:
        child(args)
    elif _engine.preferred() == "compiled":
        profile_compiled(args)
    else:
        profile_reference(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
