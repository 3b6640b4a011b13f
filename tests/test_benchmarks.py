"""Smoke test of the training benchmark: its quick mode runs and prints its tables.

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

