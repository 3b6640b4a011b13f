"""Where the time of our mini-batch loop goes, per batch.

Profiles ``ScratchMLPClassifier.fit`` (Adam) on cases of ``bench_training.py``
and writes a summary text::

    python benchmarks/profile_training.py    # writes benchmarks/profile_after.txt
    python benchmarks/profile_training.py --runs small:float32 wide:float64

For each case it reports, per batch:

* the unprofiled cost of ours, of scikit-learn and of the floor (the matrix
  products alone, see ``bench_training``): the minimum over ``--repeats``
  rounds in which every measurement (the profiled fits too) runs once, in a
  rotating order, so that load from other processes falls on all alike;
* a line-level breakdown, from the fastest of the line-profiled fits, by
  ``line_profiler`` (when installed) of ``MiniBatchTrainer.epoch``, the
  methods of ``Network`` that run in the loop, ``Adam.step`` and the hidden
  activations, grouped into matmul, activation, loss, bias, optimizer, gather
  and Python overhead. Each line's time is inclusive of what it calls; lines
  that call one of the other profiled functions count only for their own
  overhead. The profiler itself adds time to every line executed, so the
  breakdown's total exceeds the unprofiled cost; the difference is printed.
  The profiler sees the calling thread only: work that helper threads do (on
  large layers) is counted in the line that waits for it;
* ``cProfile``'s top functions by own time, with calls per batch.

The raw ``line_profiler`` listings follow the summaries.
"""

import argparse
import ast
import cProfile
import functools
import inspect
import io
import pstats
import re
import sys
import textwrap
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from bench_training import (
    FULL,
    MLPClassifier,
    ScratchMLPClassifier,
    TrainCase,
    adam_params,
    batch_rows,
    classification_data,
    environment,
    floor_epochs,
    layer_sizes,
)
from sklearn.exceptions import ConvergenceWarning

from sknn_scratch._activations import HIDDEN_ACTIVATIONS
from sknn_scratch._network import Network
from sknn_scratch._optimizers import Adam
from sknn_scratch._training import MiniBatchTrainer

try:
    from line_profiler import LineProfiler
except ImportError:
    LineProfiler = None

DEFAULT_RUNS = ("small:float64", "small:float32", "wide:float64")
EPOCHS = {"small": 5, "wide": 1}
# Network methods that never run inside the batch loop.
# (_product is left unprofiled so that its time, products and what runs on
# their rows, stays on the lines that call it, which say which product it is.)
NOT_IN_LOOP = {
    "__init__",
    "initialize",
    "predict",
    "loss",
    "set_dropout_rng",
    "_product",
}


def profiled_functions() -> dict[str, Callable]:
    """The batch loop's functions, found by name so that refactors are followed.

    ``MiniBatchTrainer.epoch`` (the root), every method of ``Network`` that can
    run inside it, ``Adam.step``, and the hidden activations and their
    derivatives (which run on the rows of a product, inside ``_product``).
    """
    functions = {"epoch": MiniBatchTrainer.epoch, "Adam.step": Adam.step}
    for name, member in vars(Network).items():
        if inspect.isfunction(member) and name not in NOT_IN_LOOP:
            functions[f"Network.{name}"] = member
    for name, activation in HIDDEN_ACTIVATIONS.items():
        functions[f"{ACTIVATION} {name}"] = activation.forward
        functions[f"{DERIVATIVE} {name}"] = activation.derivative
    return functions


# Categories of statements, first match wins; a statement that calls another
# profiled function counts only for its own (call) overhead; anything else is
# Python overhead. Adam.step's statements are optimizer work.
ACTIVATION, DERIVATIVE = "activation forward", "activation derivative"
FORWARD_PRODUCT = "matmul: forward a@W (+ bias add)"
INPUT_GRAD_PRODUCT = "matmul: input grad δWᵀ"
CATEGORIES = [
    ("gather (np.take of X, T rows)", r"\btake\("),
    (FORWARD_PRODUCT, r"_product\(below, coefs"),
    ("matmul: weight grad aᵀδ", r"_product\(below\.T, delta"),
    (INPUT_GRAD_PRODUCT, r"_product\(delta"),
    ("loss: softmax, log-loss, output δ", r"self\._loss\("),
    ("bias add + bias grad", r"\+= bias|\+= intercepts|intercept_grads"),
    ("δ_L scaling by 1/S", r"deltas\[-1\] \*=|row_scale"),
    ("L2 penalty (‖W‖², αW)", r"penalise[,)]|penalise\(slice"),
    ("dropout", r"_dropout_rng|\*= mask|greater_equal\(mask"),
    ("matmul: other", r"matmul\(| @ "),
]
# The activations run inside the products' lines (on each block of rows):
# their own time moves from those lines to their category.
RUN_INSIDE = {ACTIVATION: FORWARD_PRODUCT, DERIVATIVE: INPUT_GRAD_PRODUCT}
ADAM_CATEGORIES = [
    ("optimizer: Adam moments and update (10 passes)", r"update[,)]|update\(slice"),
]
OVERHEAD = "Python overhead (loop, views, calls)"
OPTIMIZER_OTHER = "optimizer: Adam bookkeeping"


# -- unprofiled timings ---------------------------------------------------------------
def fit_timer(
    factory: Callable[..., object], params: dict, X, y
) -> Callable[[], float]:
    """A function that fits a fresh estimator and returns the wall time."""

    def run() -> float:
        start = time.perf_counter()
        factory(**params).fit(X, y)
        return time.perf_counter() - start

    return run


def interleaved_minima(timers: dict[str, Callable[[], float]], runs: int) -> dict:
    """Minimum time of each timer over ``runs`` rounds, the order rotating."""
    names = list(timers)
    for name in names:
        timers[name]()  # warm up
    best = dict.fromkeys(names, np.inf)
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            best[name] = min(best[name], timers[name]())
    return best


# -- line_profiler breakdown ------------------------------------------------------------
def statement_texts(function: Callable) -> dict[int, str]:
    """Source text of the statement on each line of ``function`` (absolute line numbers).

    A compound statement (``for``, ``if``...) contributes its header only.
    """
    lines, first = inspect.getsourcelines(function)
    source = textwrap.dedent("".join(lines))
    tree = ast.parse(source)
    texts: dict[int, str] = {}
    source_lines = source.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, ast.FunctionDef):
            continue
        end = node.end_lineno
        body = getattr(node, "body", None)
        if isinstance(body, list) and body:
            end = body[0].lineno - 1
        text = " ".join(s.strip() for s in source_lines[node.lineno - 1 : end])
        for line in range(node.lineno, end + 1):
            texts[line + first - 1] = text
    return texts


def breakdown(profiler, n_batches: int) -> tuple[dict[str, float], float]:
    """µs per batch by category, and the profiled epoch total per batch."""
    functions = profiled_functions()
    by_code = {(f.__code__.co_firstlineno, f.__name__): k for k, f in functions.items()}
    stats = profiler.get_stats()
    per_function: dict[str, dict[int, float]] = {}
    for (_, first_line, name), timings in stats.timings.items():
        key = by_code.get((first_line, name.split(".")[-1]))
        if key is not None and timings:
            per_function[key] = {line: t * stats.unit * 1e6 for line, _, t in timings}
    totals = {key: sum(lines.values()) for key, lines in per_function.items()}
    callees = [key.split(".")[-1] for key in per_function if key != "epoch"]
    calls_one = re.compile(r"\.(" + "|".join(map(re.escape, callees)) + r")\(")
    result: dict[str, float] = defaultdict(float)
    for key, lines in per_function.items():
        if key.startswith(tuple(RUN_INSIDE)):
            continue  # counted whole below
        texts = statement_texts(functions[key])
        rules = ADAM_CATEGORIES if key == "Adam.step" else CATEGORIES
        default = OPTIMIZER_OTHER if key == "Adam.step" else OVERHEAD
        for line, micros in lines.items():
            text = texts.get(line, "")
            if callees and calls_one.search(text):
                result[OVERHEAD] += micros  # inclusive: callees subtracted below
                continue
            category = next((c for c, rx in rules if re.search(rx, text)), default)
            result[category] += micros
    # Container lines were counted whole; take their callees' own time back out.
    for key, total in totals.items():
        inside = next((kind for kind in RUN_INSIDE if key.startswith(kind)), None)
        if inside is not None:
            result[inside] += total
            result[RUN_INSIDE[inside]] -= total
        elif key != "epoch":
            result[OVERHEAD] -= total
    per_batch = {k: v / n_batches for k, v in result.items()}
    return per_batch, totals.get("epoch", 0.0) / n_batches


def raw_listing(profiler) -> str:
    """line_profiler's own listing, in microseconds."""
    stream = io.StringIO()
    profiler.print_stats(stream=stream, output_unit=1e-6, stripzeros=True)
    return stream.getvalue()


# -- one case ---------------------------------------------------------------------------------
def profile_case(
    case: TrainCase, dtype: np.dtype, epochs: int, runs: int
) -> tuple[str, str]:
    """Summary and raw listing of one case."""
    X, y = classification_data(case, dtype)
    sizes = layer_sizes(X.shape[1], case.hidden)
    n_batches = epochs * len(batch_rows(case.n_samples, case.batch_size))
    params = adam_params(case, epochs)
    out = io.StringIO()

    def say(text: str = "") -> None:
        print(text, file=out)
        print(text, flush=True)

    say(
        f"== {case.name} {dtype.name}: {case.n_samples}×{case.n_features}, layers "
        f"{' → '.join(map(str, sizes))}, batch {case.batch_size}; {epochs} epoch(s) = "
        f"{n_batches} batches"
    )
    rows = (case.n_samples, case.batch_size, dtype)
    timers = {
        "ours": fit_timer(ScratchMLPClassifier, params, X, y),
        "scikit-learn": fit_timer(MLPClassifier, params, X, y),
        "floor": functools.partial(floor_epochs(sizes, *rows), epochs),
    }
    # Line-profiled fits run in the same rounds; the fastest one is reported,
    # being the least disturbed by other load on the machine.
    fastest: dict[str, object] = {"total": np.inf}

    def profiled_fit() -> float:
        profiler = LineProfiler(*profiled_functions().values())
        start = time.perf_counter()
        profiler.runcall(ScratchMLPClassifier(**params).fit, X, y)
        elapsed = time.perf_counter() - start
        lines, epoch_total = breakdown(profiler, n_batches)
        if epoch_total < fastest["total"]:
            fastest.update(total=epoch_total, lines=lines, profiler=profiler)
        return elapsed

    if LineProfiler is not None:
        timers["ours, line-profiled"] = profiled_fit
    best = interleaved_minima(timers, runs)
    per_batch = {name: t / n_batches * 1e6 for name, t in best.items()}
    ours, floor_np = per_batch["ours"], per_batch["floor"]
    say(f"unprofiled, µs per batch (min of {runs} interleaved runs):")
    for name, label in (("ours", "ours"), ("scikit-learn", "scikit-learn")):
        say(
            f"  {label:<21}{per_batch[name]:10.1f}   ({per_batch[name] / floor_np:.1f}× floor)"
        )
    say(f"  floor (numpy matmul) {floor_np:10.1f}")

    raw = ""
    if LineProfiler is not None:
        total, lines = fastest["total"], fastest["lines"]
        say(
            f"line_profiler, µs per batch (fastest of {runs + 1} profiled fits: "
            f"epoch total {total:.1f}, vs {ours:.1f} unprofiled):"
        )
        for category, micros in sorted(lines.items(), key=lambda kv: -kv[1]):
            say(f"  {category:<42} {micros:9.1f}  {100 * micros / total:5.1f}%")
        matmul = sum(v for k, v in lines.items() if k.startswith("matmul"))
        say(
            f"  {'= all matmuls':<42} {matmul:9.1f}  {100 * matmul / total:5.1f}%   "
            f"(floor {floor_np:.1f})"
        )
        raw = f"== {case.name} {dtype.name}\n" + raw_listing(fastest["profiler"])
    else:
        say("line_profiler not installed: no line breakdown")

    profile = cProfile.Profile()
    profile.runcall(ScratchMLPClassifier(**params).fit, X, y)
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream).sort_stats("tottime")
    stats.print_stats(12)
    calls = sum(v[1] for v in stats.stats.values())  # primitive + recursive calls
    say(
        f"cProfile: {calls / n_batches:.0f} Python-visible function calls per batch; "
        "top own times (whole fit):"
    )
    listing = stream.getvalue()
    table = listing[listing.find("   ncalls") :].rstrip()
    say(textwrap.indent(table, "  "))
    say()
    return out.getvalue(), raw


def main(argv: Sequence[str] | None = None) -> int:
    """Profile the chosen runs and write the summary file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        nargs="+",
        default=list(DEFAULT_RUNS),
        help="case:dtype pairs (cases: small, wide)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="interleaved rounds per case (unprofiled fits, floors, profiled fits)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "profile_after.txt",
        help=(
            "where to write (default: benchmarks/profile_after.txt; "
            "profile_before.txt is the record from before the speed work)"
        ),
    )
    parser.add_argument(
        "--note", default="", help="a line for the header (e.g. the engine's commit)"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    summaries, listings = [], []
    for run in args.runs:
        name, dtype = run.split(":")
        case = FULL[name]
        summary, raw = profile_case(case, np.dtype(dtype), EPOCHS[name], args.repeats)
        summaries.append(summary)
        listings.append(raw)
    explanation = textwrap.fill(
        "Time per batch; matmul = BLAS products inside our loop; floor = the same "
        "products alone (bench_training.py). line_profiler adds a fixed cost to "
        "every line executed, so its 'Python overhead' is an upper bound: compare "
        "its total with the unprofiled figure.",
        88,
    )
    header = (
        "Profile of ScratchMLPClassifier's mini-batch loop (Adam), made by "
        f"benchmarks/profile_training.py\n{args.note + chr(10) if args.note else ''}"
        f"{environment()}\n{explanation}\n\n"
    )
    text = (
        header
        + "\n".join(summaries)
        + "\n\nRaw line_profiler listings\n\n"
        + "\n".join(listings)
    )
    args.output.write_text(text)
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
