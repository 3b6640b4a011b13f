"""The documentation: what it shows runs, and it builds.

- The Python sessions (```pycon blocks) of the user guide's pages run as
  doctests; the worked example of "How the engine learns" on each engine.
- The guide's tables of activations, losses and learning-rate schedules are
  the engine's, and its snippets (```python blocks of "Deploying", "A
  drop-in" and "Controlling training") run as they are written.
- The API reference lists every public object, and each one's Examples
  section runs as a doctest.
- The README's usage example runs.
- The site builds in its quick mode with warnings as errors, as CI needs: a
  broken docstring, page or example fails here. Every public object gets its
  page, and every example its gallery page, with its figure where it draws.

(The example scripts' output: test_examples.py.)
"""

import doctest
import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from helpers import guide_python_blocks
from sklearn.exceptions import ConvergenceWarning

import sknn_scratch
import sknn_scratch.onnx
import sknn_scratch.utils
from sknn_scratch import _engine
from sknn_scratch._reference._activations import ACTIVATIONS
from sknn_scratch._reference._losses import LOSSES
from sknn_scratch._reference._optimizers import SCHEDULES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

# A Python session of a page: a ```pycon block.
SESSION = re.compile(r"^```pycon\n(.*?)^```$", re.DOTALL | re.MULTILINE)
GUIDE_PAGES = sorted(DOCS.glob("*.md"))
PAGES_WITH_SESSIONS = [
    page for page in GUIDE_PAGES if SESSION.search(page.read_text("utf-8"))
]
# The page whose worked example is checked against each engine.
WORKED_EXAMPLE = DOCS / "engine.md"
# The page that holds the tables of activations and losses.
TABLES_PAGE = DOCS / "beyond.md"
# The page that holds the table of learning-rate schedules.
SCHEDULES_PAGE = DOCS / "controlling_training.md"

# What some sessions and examples need beyond the test extra, by page or name.
NEEDS = {
    "beyond.md": ("matplotlib",),
    "controlling_training.md": ("sklearn.callback",),
    "LossCurveDisplay": ("matplotlib",),
    "register": ("skl2onnx", "onnxruntime"),
}
DOCS_EXTRA = 'needs the docs extra: pip install ".[docs]"'
# The tools of the docs extra that the build needs.
BUILD_NEEDS = (
    "sphinx",
    "sphinx_gallery",
    "numpydoc",
    "myst_parser",
    "pydata_sphinx_theme",
    "matplotlib",
)


def require(name: str) -> None:
    for module in NEEDS.get(name, ()):
        pytest.importorskip(module, reason=f"{name} needs {module}")


def run_doctest(test: doctest.DocTest) -> None:
    """Run one doctest; fail with doctest's report. Convergence warnings are
    errors: what the documentation shows must train properly."""
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.REPORT_NDIFF)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            runner.run(test, out=report.append)
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{test.name} has no examples"
    assert result.failed == 0, "".join(report)


def sessions_of(page: Path) -> str:
    """The page's sessions, everything else blanked out, so that doctest's line
    numbers are the page's."""
    text = page.read_text("utf-8")
    kept, end = [], 0
    for match in SESSION.finditer(text):
        kept.append("\n" * text.count("\n", end, match.start(1)))
        kept.append(match.group(1))
        end = match.end(1)
    return "".join(kept)


def page_doctest(page: Path) -> doctest.DocTest:
    return doctest.DocTestParser().get_doctest(
        sessions_of(page), {}, page.name, str(page), 0
    )


# -- the user guide ----------------------------------------------------------


def test_the_worked_example_is_a_session():
    assert WORKED_EXAMPLE in PAGES_WITH_SESSIONS


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [p for p in PAGES_WITH_SESSIONS if p != WORKED_EXAMPLE],
    ids=lambda page: page.name,
)
def test_guide_sessions(page):
    require(page.name)
    run_doctest(page_doctest(page))


@pytest.mark.parametrize("engine", _engine.ENGINES)
def test_worked_example_on_each_engine(engine):
    """The figures worked by hand are the engine's, on either engine."""
    if engine == "compiled" and _engine.UNAVAILABLE:
        pytest.skip(f"the compiled engine is not built: {_engine.UNAVAILABLE}")
    with _engine.using(engine):
        run_doctest(page_doctest(WORKED_EXAMPLE))


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub table; a "|" inside a cell is escaped, code spans included."""

    def line(cells):
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def activation_table() -> str:
    return markdown_table(
        ["`activation`", "f(z)", "f′(z)", "weights and biases drawn by"],
        [
            [
                f'`"{name}"`',
                f"`{a.formula}`",
                f"`{a.derivative_formula}`",
                a.init.description,
            ]
            for name, a in ACTIVATIONS.items()
        ],
    )


def loss_table() -> str:
    return markdown_table(
        ["loss", "ℓ(z, t)", "δ = ∂ℓ/∂z", "output", "estimator", "parameters"],
        [
            [
                f'`"{name}"`',
                f"`{loss.formula}`",
                f"`{loss.delta_formula}`",
                loss.output_activation,
                loss.estimator,
                ", ".join(f"`{setting}`" for setting in loss.settings) or "–",
            ]
            for name, loss in LOSSES.items()
        ],
    )


def schedule_table() -> str:
    return markdown_table(
        ["`learning_rate`", "followed by", "η of a step", "what it does"],
        [
            [
                f'`"{name}"`',
                ", ".join(schedule.solvers),
                f"`{schedule.formula}`",
                schedule.description,
            ]
            for name, schedule in SCHEDULES.items()
        ],
    )


@pytest.mark.parametrize(
    ("table", "page"),
    [
        (activation_table, TABLES_PAGE),
        (loss_table, TABLES_PAGE),
        (schedule_table, SCHEDULES_PAGE),
    ],
    ids=["activations", "losses", "schedules"],
)
def test_guide_tables_are_the_engines(table, page):
    expected = table()
    assert expected in page.read_text(encoding="utf-8"), (
        f"The table in {page.name} is not the engine's; it should read:\n\n{expected}\n"
    )


def run_snippet(snippet: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=cwd,  # not the repository's root: import the installed package
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_deploying_skops_snippet_runs(tmp_path):
    """The guide's skops example on the "Deploying" page runs as it is written."""
    pytest.importorskip("skops", reason='needs the test extra: pip install ".[test]"')
    (snippet,) = [b for b in guide_python_blocks("deploying") if "skops" in b]
    result = run_snippet(snippet, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_deploying_onnx_snippet_runs(tmp_path):
    """The guide's ONNX example on the "Deploying" page runs as it is written."""
    for module in ("skl2onnx", "onnxruntime"):
        pytest.importorskip(
            module, reason='needs the onnx extra: pip install ".[onnx]"'
        )
    (snippet,) = [b for b in guide_python_blocks("deploying") if "onnxruntime" in b]
    result = run_snippet(snippet, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"  # the same labels


def test_drop_in_checks_snippet_runs(tmp_path):
    """The guide's use of expected_failed_checks in a test module runs as it is
    written (its checks run in test_estimator_checks.py, on the same
    configurations)."""
    (snippet,) = guide_python_blocks("drop_in")
    result = run_snippet(snippet, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "expected_failed_checks" in snippet


@pytest.mark.slow
def test_controlling_training_routing_snippet_runs(tmp_path):
    """The guide's validation set routed through a pipeline and a grid search
    (the "Controlling training" page) runs as it is written, without a warning."""
    (snippet,) = guide_python_blocks("controlling_training")
    assert "set_fit_request(X_val=True, y_val=True)" in snippet
    result = run_snippet(snippet, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.startswith("{'mlp__alpha': ")  # the best parameters


@pytest.mark.slow
def test_readme_usage_runs(tmp_path):
    """The README's usage example runs as it is written."""
    readme = (ROOT / "README.md").read_text("utf-8")
    blocks = [block.split("```", 1)[0] for block in readme.split("```python\n")[1:]]
    assert blocks
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr, result.stderr


# -- the API reference -------------------------------------------------------


def documented_objects() -> list[str]:
    """The full names the API page lists in its autosummary tables."""
    names, module, in_table = [], None, False
    for line in (DOCS / "api.rst").read_text("utf-8").splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::")[1].strip()
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and re.fullmatch(r"   \w+", line):
            names.append(f"{module}.{line.strip()}")
        elif line and not line.startswith(" "):
            in_table = False
    return names


def public_objects() -> set[str]:
    return {
        f"sknn_scratch.{name}" for name in sknn_scratch.__all__ if name != "__version__"
    } | {
        f"{module.__name__}.{name}"
        for module in (sknn_scratch.onnx, sknn_scratch.utils)
        for name in module.__all__
    }


def resolve(full_name: str):
    module, _, name = full_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_api_page_lists_every_public_object():
    assert sorted(documented_objects()) == sorted(public_objects())


@pytest.mark.parametrize("full_name", sorted(public_objects()))
def test_public_examples_run(full_name):
    """Each public object's docstring has an Examples section, and it runs."""
    obj = resolve(full_name)
    assert re.search(r"^\s*Examples\n\s*--------\n", obj.__doc__, re.MULTILINE)
    require(full_name.rpartition(".")[2])
    (test,) = doctest.DocTestFinder(recurse=False).find(
        obj, full_name, module=inspect.getmodule(obj), globs={}
    )
    run_doctest(test)


# -- the site ----------------------------------------------------------------


def gallery_hooks():
    """docs/_ext/sknn_gallery.py, the gallery's settings (they say which
    scripts run), loaded without touching sys.path."""
    spec = importlib.util.spec_from_file_location(
        "sknn_gallery", DOCS / "_ext" / "sknn_gallery.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_scripts() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


def draws(script: Path) -> bool:
    """Whether the script draws: it imports matplotlib."""
    text = script.read_text("utf-8")
    return re.search(r"^import matplotlib", text, re.MULTILINE) is not None


@pytest.fixture(scope="module")
def quick_build(tmp_path_factory):
    """The quick build (warnings are errors) of a copy of the sources, so
    that the checkout gets no generated files; returns the HTML folder."""
    for module in BUILD_NEEDS:
        pytest.importorskip(module, reason=DOCS_EXTRA)
    hooks = gallery_hooks()
    root = tmp_path_factory.mktemp("docs_build")
    generated = shutil.ignore_patterns(
        "_build",
        "auto_examples",
        "generated",
        "sg_execution_times.rst",
        "*.png",
        "__pycache__",
    )
    shutil.copytree(DOCS, root / "docs", ignore=generated)
    shutil.copytree(EXAMPLES, root / "examples", ignore=generated)
    # the pages link to files of the checkout: README.md, a test file
    shutil.copytree(ROOT / "tests", root / "tests", ignore=generated)
    shutil.copy(ROOT / "README.md", root / "README.md")
    html = root / "html"
    command = ["-W", "--keep-going", "-q", "-b", "html", str(root / "docs"), str(html)]
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", *command],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, hooks.QUICK_VARIABLE: "1", "PYTHONIOENCODING": "utf-8"},
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-20000:]
    return html, hooks


@pytest.mark.slow
def test_every_public_object_has_its_page(quick_build):
    html, _ = quick_build
    for full_name in public_objects():
        assert (html / "generated" / f"{full_name}.html").exists(), full_name


@pytest.mark.slow
def test_gallery_shows_every_example(quick_build):
    """A page per script; the figure of each script that ran and draws; and,
    on the page of each script not run, why not."""
    html, hooks = quick_build
    not_run = hooks.not_run(quick_build=True)
    for script in example_scripts():
        page = html / "auto_examples" / f"{script.stem}.html"
        text = page.read_text("utf-8")
        if script.stem in not_run:
            assert "This script is shown without being run" in text, script.name
        elif draws(script):
            image = f"sphx_glr_{script.stem}_001.png"
            assert image in text, script.name
            assert (html / "_images" / image).exists(), script.name


def test_full_build_shows_ten_figures():
    """The full build runs every script but the Dask ones: at least ten of
    them draw a figure for the gallery."""
    hooks = gallery_hooks()
    drawn = [
        script
        for script in example_scripts()
        if script.stem not in hooks.NOT_RUN and draws(script)
    ]
    assert len(drawn) >= 10, drawn
