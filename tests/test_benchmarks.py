"""Smoke tests of the benchmark and the profiler: their quick modes run and print.

No timing is asserted: CI machines are shared and noisy. This only guards the
script against rotting as the engine changes.
"""

import subprocess
import sys
from pathlib import Path

from sknn_scratch import _engine

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training.py"
PROFILER = SCRIPT.with_name("profile_training.py")


def run_quick(script: Path, *arguments: str) -> str:
    """What ``script --quick arguments`` prints, once it has succeeded."""
    completed = subprocess.run(
        [sys.executable, str(script), "--quick", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_quick_benchmark_runs_and_prints_the_tables() -> None:
    out = run_quick(SCRIPT, "--dtypes", "float32")
    header = (
        "| case | dtype | unit | floor | ours | NumPy engine | scikit-learn | PyTorch "
    )
    assert header in out
    for case in ("small", "deep", "mid", "wide", "lbfgs", "predict"):
        assert f"\n| {case} |" in out, f"no table row for the {case} case"
    assert "| engine | dtype | one after the other | two threads at once " in out
    for engine in ("ours", "NumPy engine", "scikit-learn"):
        assert f"\n| {engine} | float32 |" in out, f"no threads row for {engine}"


def test_quick_profile_runs_and_groups_the_samples() -> None:
    # on the engine this install runs (SKNN_SCRATCH_ENGINE=numpy: the reference)
    out = run_quick(
        PROFILER, "--runs", "small:float64", "--engine", _engine.preferred()
    )
    assert "unprofiled, µs per batch" in out
    # Where perf cannot run, the script says why instead of profiling.
    assert "CPU time by group" in out or "perf: not profiled:" in out, out
