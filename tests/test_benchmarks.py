"""Smoke tests of the benchmark and the profiler: their quick modes run and print.

No timing is asserted: CI machines are shared and noisy. This only guards the
scripts against rotting as the engine changes.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sknn_scratch import _engine

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPT = BENCHMARKS / "bench_training.py"
PROFILER = BENCHMARKS / "tools" / "profile_training.py"


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


@pytest.mark.slow
def test_quick_profile_runs_and_names_the_stages_of_the_engine() -> None:
    # on the engine this install runs (SKNN_SCRATCH_ENGINE=numpy: the reference)
    out = run_quick(PROFILER)
    engine = _engine.preferred()
    assert f"one fit on the {'NumPy' if engine == 'numpy' else engine} engine" in out
    if "perf: not profiled:" in out:  # where perf cannot run, it says why
        assert "wall time of the fit" in out
        return
    assert "per batch, by stage:" in out
    # a row per function of the engine that ran, by its module path
    package = "_reference" if engine == "numpy" else "_compiled"
    stages = re.findall(r"^  (_\w+)\.\S+\s+\d+\.\d\s", out, re.MULTILINE)
    assert stages and set(stages) == {package}, out
