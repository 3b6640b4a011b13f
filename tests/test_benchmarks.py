"""Smoke tests of the benchmark and the profiler: their quick modes run and print.

No timing is asserted: CI machines are shared and noisy. This only guards the
script against rotting as the engine changes.
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training.py"


def test_quick_benchmark_runs_and_prints_the_tables() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--dtypes", "float32"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    header = (
        "| case | dtype | unit | floor | ours | NumPy engine | scikit-learn | PyTorch "
    )
    assert header in out
    for case in ("small", "deep", "mid", "wide", "lbfgs", "predict"):
        assert f"\n| {case} |" in out, f"no table row for the {case} case"
    assert "| engine | dtype | one after the other | two threads at once " in out
    for engine in ("ours", "NumPy engine", "scikit-learn"):
        assert f"\n| {engine} | float32 |" in out, f"no threads row for {engine}"


PROFILER = SCRIPT.with_name("profile_training.py")


def test_quick_profile_runs_and_groups_the_samples() -> None:
    completed = subprocess.run(
        [sys.executable, str(PROFILER), "--quick", "--runs", "small:float64"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    assert "unprofiled, µs per batch" in out
    # Where perf cannot run, the script says why instead of profiling.
    assert "CPU time by group" in out or "perf: not profiled:" in out, out
