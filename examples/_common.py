"""Command-line and plotting helpers shared by the example scripts.

Not an example itself: the scripts next to it import it (``from _common import
...``). Every example takes ``--quick`` (a smaller run, for the tests) and most
take ``--plot [PATH]`` (save a PNG; needs matplotlib, which the package itself
does not).
"""

import argparse
import importlib.util
import sys
from pathlib import Path

NO_MATPLOTLIB = (
    '--plot needs matplotlib: pip install "sknn-scratch[examples]" '
    "(or pip install matplotlib)"
)


def example_parser(
    description: str, *, quick_help: str, plot_help: str | None = None
) -> argparse.ArgumentParser:
    """An ArgumentParser with ``--quick`` and, given ``plot_help``, ``--plot [PATH]``.

    ``plot_help`` says what the PNG shows ("save a PNG of the fit"); the
    default path, ``<script name>.png`` in the working directory, is added to
    it. Add the script's own options to the parser returned.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if plot_help is not None:
        parser.add_argument(
            "--plot",
            nargs="?",
            # prog is the script's file name, as in the usage line
            const=f"{Path(parser.prog).stem}.png",
            metavar="PATH",
            help=f"{plot_help} (default: %(const)s)",
        )
    return parser


def parse_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line; with ``--plot`` but no matplotlib, exit at once.

    The exit comes before any training, with a one-line install hint on stderr
    and status 1.
    """
    args = parser.parse_args()
    if getattr(args, "plot", None) and importlib.util.find_spec("matplotlib") is None:
        sys.exit(NO_MATPLOTLIB)
    return args


def pyplot():
    """``matplotlib.pyplot``, drawing off screen (the Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str) -> None:
    """Lay out, save at 80 dpi and close the figure; say where it went."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"plot saved to {path}")
