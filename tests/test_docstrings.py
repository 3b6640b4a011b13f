"""The documentation: the examples in the public docstrings run and print what
they say, and the user guide's tables of activations and losses are the engine's."""

import doctest
from pathlib import Path

import pytest

import sknn_scratch
from sknn_scratch import _classifier, _display, _gradient_check, _regressor
from sknn_scratch._activations import ACTIVATIONS
from sknn_scratch._losses import LOSSES

MODULES = [_classifier, _regressor, _gradient_check, _display]
# the page of the user guide that holds the tables
GUIDE_PAGE = Path(__file__).parent.parent / "docs" / "beyond.md"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    if module is _display:  # LossCurveDisplay's example draws
        pytest.importorskip("matplotlib", reason="needs the examples extra")
    result = doctest.testmod(module, extraglobs={"sknn_scratch": sknn_scratch})
    assert result.attempted > 0
    assert result.failed == 0


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


@pytest.mark.parametrize("table", [activation_table, loss_table])
def test_guide_tables_are_the_engines(table):
    expected = table()
    assert expected in GUIDE_PAGE.read_text(encoding="utf-8"), (
        f"The table in {GUIDE_PAGE.name} is not the engine's; it should read:"
        f"\n\n{expected}\n"
    )
