"""Run the scaling-out examples with --quick and check what they print.

``distributed_grid_search.py`` starts its own LocalCluster; ``out_of_core.py``
is pointed with ``--scheduler`` at a LocalCluster started here, so that both
ways of finding a cluster are exercised. Both need the ``distributed`` extra.
Without it, each example must say in one line how to install it and exit with
status 1; that is checked whether or not dask is installed, by shadowing
``distributed`` and ``dask_ml`` with modules that fail to import.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"
NAMES = ["distributed_grid_search", "out_of_core"]
INSTALL = 'needs the distributed extra: pip install ".[distributed]"'
HAVE_DASK = all(importlib.util.find_spec(name) for name in ("distributed", "dask_ml"))
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason=INSTALL)
NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


def run_example(
    name: str, args: list[str], cwd: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
        timeout=300,
    )


def succeeded(result: subprocess.CompletedProcess) -> str:
    """The stdout of a clean run: exit status 0 and no warning on stderr."""
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def find_all(pattern: str, text: str) -> list[tuple[str, ...]]:
    matches = [m.groups() for m in re.finditer(pattern, text, re.MULTILINE)]
    assert matches, f"{pattern!r} not found in output:\n{text}"
    return matches


def find(pattern: str, text: str) -> tuple[str, ...]:
    return find_all(pattern, text)[0]


@pytest.fixture(scope="module")
def scheduler_address(local_cluster):
    """The address of the session's LocalCluster of 2 worker processes."""
    return local_cluster.scheduler_address


@pytest.mark.slow
@needs_dask
def test_distributed_grid_search(tmp_path):
    out = succeeded(run_example("distributed_grid_search", ["--quick"], tmp_path))
    assert "a LocalCluster at tcp://127.0.0.1:" in out
    assert find(r"cluster: .*, (\d+) workers, (\d+) threads", out) == ("2", "2")
    rows = find_all(rf"^hidden=\S+ lr=\S+\s+{NUMBER}\s+{NUMBER}$", out)
    assert len(rows) == 4  # the quick grid: 2 x 2 settings
    for local, on_cluster in rows:
        assert local == on_cluster
    assert "same fold scores on the cluster as with n_jobs=1: yes" in out
    (best,) = find(rf"best cv score: {NUMBER}", out)
    assert float(best) == max(float(local) for local, _ in rows)
    assert float(best) > 0.9
    (held_out,) = find(rf"held-out accuracy: {NUMBER}", out)
    assert float(held_out) > 0.9
    times = find(rf"wall time: n_jobs=1 {NUMBER} s\s+dask {NUMBER} s", out)
    assert all(float(t) > 0 for t in times)


@pytest.mark.slow
@needs_dask
def test_out_of_core(tmp_path, scheduler_address):
    args = ["--quick", "--scheduler", scheduler_address, "--data-dir", str(tmp_path)]
    out = succeeded(run_example("out_of_core", args, tmp_path))
    # --data-dir given: the files are left there, at the size printed
    (size,) = find(rf"in {NUMBER} MB of \.npy files", out)
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("*.npy")) / 1e6
    assert float(size) == pytest.approx(on_disk, abs=0.06)

    memmap_part, dask_part = out.split("dask-ml Incremental")
    losses = [
        float(loss)
        for loss, _ in find_all(
            rf"^epoch \d/2: mean loss {NUMBER}\s+held-out accuracy {NUMBER}",
            memmap_part,
        )
    ]
    assert len(losses) == 2 and losses[1] < losses[0]
    peak, budget, data = map(
        float,
        find(
            rf"peak traced memory: {NUMBER} MB \(budget {NUMBER} MB, data files "
            rf"{NUMBER} MB\); within budget: yes",
            memmap_part,
        ),
    )
    assert peak <= budget < data

    accuracies = find_all(rf"^epoch \d/2: held-out accuracy {NUMBER}", dask_part)
    assert len(accuracies) == 2
    assert float(accuracies[-1][0]) > 0.75  # about 0.8 after two epochs
    held, budget_again, _ = map(
        float,
        find(
            rf"peak data held by the workers: {NUMBER} MB \(budget {NUMBER} MB, "
            rf"data files {NUMBER} MB\)",
            dask_part,
        ),
    )
    assert 0 < held <= budget_again == budget


@pytest.fixture
def without_dask(tmp_path) -> dict:
    """Environment in which ``import distributed`` and ``import dask_ml`` fail."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    for name in ("distributed", "dask_ml"):
        (shadow / f"{name}.py").write_text(
            f'raise ImportError("{name} is not installed (simulated)")\n'
        )
    return {
        "PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_missing_extra_gives_install_hint(tmp_path, without_dask, name):
    result = run_example(name, ["--quick"], tmp_path, env=without_dask)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert 'pip install ".[distributed]"' in lines[0]


def test_out_of_core_no_dask_runs_without_the_extra(tmp_path, without_dask):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**without_dask, "TMPDIR": str(temporary)}
    out = succeeded(run_example("out_of_core", ["--quick", "--no-dask"], tmp_path, env))
    assert "within budget: yes" in out
    assert "Incremental" not in out
    assert list(temporary.iterdir()) == []  # the data files were removed
