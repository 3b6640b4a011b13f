"""Before and after: bench_training.py of two checkouts, interleaved in one run.

Each checkout runs its own ``benchmarks/bench_training.py`` with its own
interpreter (a virtual environment where that checkout is installed; the
script runs outside the checkout, so that the installed package is the one
timed), case by case and in alternating order, so that both see the same
load; the table compares each engine's time as a multiple of the floor that
its own run measured, which is what carries across a shared machine's
moods::

    python benchmarks/tools/compare_builds.py \\
        --before /path/to/old/venv/bin/python:/path/to/old/checkout \\
        --after .venv/bin/python:. --cases small deep lbfgs --rounds 2

``--keep DIR`` saves each run's whole output (the other contenders' figures
too). Columns: the best ×floor of each checkout's ``ours`` and ``NumPy engine`` over
the rounds (for ``lbfgs``, which has no floor, seconds per fit), and
after / before of ``ours`` (below 1: faster).
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CONTENDERS = ("ours", "NumPy engine")
# The cases whose figures go into bench_training.py's summary table; threads
# and members print tables of their own, ratios within one build's run.
COMPARABLE = ("small", "deep", "mid", "wide", "lbfgs", "predict")


def parse_summary(output: str) -> dict[tuple[str, str], dict[str, float]]:
    """The summary table of bench_training.py: for each (case, dtype), each
    contender's ×floor (or its time, for a case without a floor)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| case |"))
    table = []
    for line in lines[start:]:  # the summary table: up to its first other line
        if not line.startswith("|"):
            break
        if not line.startswith("|-"):  # not the separator row
            table.append(line)
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = {}
    for line in table[1:]:
        values = [cell.strip() for cell in line.strip("|").split("|")]
        cells = dict(zip(header, values, strict=True))
        figures = {}
        for name in CONTENDERS:
            cell = cells.get(name, "-")
            if cell == "-":
                continue
            if "(" in cell:  # "14.5 (1.36×)"
                figures[name] = float(cell.split("(")[1].rstrip("×)"))
            else:
                figures[name] = float(cell)
        rows[(cells["case"], cells["dtype"])] = figures
    return rows


def run(python: str, checkout: Path, case: str, extra: list[str]) -> str:
    """What the checkout's bench_training.py prints for one case."""
    script = checkout / "benchmarks" / "bench_training.py"
    command = [python, str(script), "--cases", case, *extra]
    # run outside the checkout, whose unbuilt sources would shadow the package
    # installed in the interpreter's environment
    with tempfile.TemporaryDirectory() as elsewhere:
        result = subprocess.run(
            command, cwd=elsewhere, capture_output=True, text=True, check=True
        )
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="PYTHON:CHECKOUT")
    parser.add_argument("--after", required=True, help="PYTHON:CHECKOUT")
    parser.add_argument(
        "--cases", nargs="+", choices=COMPARABLE, default=["small", "deep", "mid"]
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, help="passed to bench_training.py")
    parser.add_argument(
        "--quick", action="store_true", help="bench_training.py --quick (a smoke test)"
    )
    parser.add_argument(
        "--torch", action="store_true", help="keep PyTorch in (where it imports)"
    )
    parser.add_argument(
        "--keep", type=Path, help="a folder for each run's whole output"
    )
    args = parser.parse_args(argv)
    builds = {}
    for label in ("before", "after"):
        python, _, checkout = getattr(args, label).partition(":")
        builds[label] = (python, Path(checkout or ".").resolve())
    extra = ["--repeats", str(args.repeats)] if args.repeats else []
    extra += ["--quick"] if args.quick else []
    extra += [] if args.torch else ["--no-torch"]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    best: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for case in args.cases:
        for round_ in range(args.rounds):
            order = list(builds) if round_ % 2 == 0 else list(builds)[::-1]
            for label in order:
                output = run(*builds[label], case, extra)
                if args.keep:
                    name = f"{label}-{case}-{round_ + 1}.txt"
                    (args.keep / name).write_text(output, "utf-8")
                for key, figures in parse_summary(output).items():
                    kept = best.setdefault(key, {}).setdefault(label, {})
                    for name, value in figures.items():
                        kept[name] = min(value, kept.get(name, float("inf")))
                print(f"{case}: round {round_ + 1} done", file=sys.stderr, flush=True)
    print(
        "| case | dtype | ours, before | ours, after | after / before "
        "| NumPy engine, before | NumPy engine, after |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for (case, dtype), by_build in best.items():
        before, after = by_build.get("before", {}), by_build.get("after", {})

        def cell(figures, name):
            return f"{figures[name]:.3g}" if name in figures else "-"

        ratio = (
            f"{after['ours'] / before['ours']:.2f}"
            if "ours" in before and "ours" in after
            else "-"
        )
        print(
            f"| {case} | {dtype} | {cell(before, 'ours')} | {cell(after, 'ours')} "
            f"| {ratio} | {cell(before, 'NumPy engine')} "
            f"| {cell(after, 'NumPy engine')} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
