"""sphinx-gallery hooks: run the example scripts as they run from a shell.

The scripts in ``examples/`` draw only when asked (``--plot PATH`` saves a PNG
and closes the figure, see ``examples/_common.py``), and take ``--quick`` for a
smaller run. These hooks pass those options, and show the saved PNG on the
script's gallery page, so that the scripts themselves need nothing for the
gallery. conf.py names the hooks by their import path.
"""

import os
import re
import shutil
from pathlib import Path

# Set (to anything but "" or "0") for the quick build that the test suite runs.
QUICK_VARIABLE = "SKNN_DOCS_QUICK"

# The Dask examples start a cluster of worker processes (and out_of_core.py
# writes 122 MB of data): too much for a documentation build. Their tests run
# them (tests/test_examples_distributed.py).
NOT_RUN = {
    "distributed_grid_search": (
        "it starts a Dask cluster of worker processes, which a documentation "
        "build should not"
    ),
    "out_of_core": (
        "it writes 122 MB of data to disk and starts a Dask cluster of worker "
        "processes, which a documentation build should not"
    ),
}
# Skipped by the quick build: each runs a grid search, the slowest scripts.
SLOW = ("digits_grid_search", "regression_grid_search", "quickstart")


def quick() -> bool:
    """Whether this is the quick build."""
    return os.environ.get(QUICK_VARIABLE, "") not in ("", "0")


def not_run(quick_build: bool | None = None) -> dict[str, str]:
    """The scripts shown without being run, with the reason to say on the page,
    in the quick build or not (None: this build)."""
    skipped = dict(NOT_RUN)
    if quick() if quick_build is None else quick_build:
        for name in SLOW:
            skipped[name] = f"this is a quick build ({QUICK_VARIABLE} is set)"
    return skipped


def filename_pattern() -> str:
    """sphinx-gallery's pattern of the scripts to run: all but ``not_run()``."""
    names = "|".join(sorted(not_run()))
    return rf"[\\/](?!(?:{names})\.py$)[^\\/_][^\\/]*\.py$"


def draws(src_file: str) -> bool:
    """Whether the script takes ``--plot``: it gives ``example_parser`` a
    ``plot_help`` (see ``examples/_common.py``)."""
    return re.search(r"\bplot_help\s*=", Path(src_file).read_text("utf-8")) is not None


def _plot_path(src_file: str) -> Path:
    # sphinx-gallery runs a script in the script's own directory.
    return Path(src_file).with_suffix(".png")


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """The command-line options of a script: ``--plot`` for those that draw,
    ``--quick`` in the quick build."""
    src_file = script_vars["src_file"]
    # The scripts find their helper modules through __file__, which
    # sphinx-gallery leaves unset; its fresh __main__ namespace is ready here.
    script_vars["example_globals"]["__file__"] = src_file
    argv = ["--quick"] if quick() else []
    if draws(src_file):
        argv += ["--plot", _plot_path(src_file).name]
    return argv


def saved_plot_scraper(block, block_vars, gallery_conf) -> str:
    """The PNG a script saved with ``--plot``, moved into the gallery's images."""
    from sphinx_gallery.scrapers import figure_rst

    saved = _plot_path(block_vars["src_file"])
    if not saved.exists():
        return ""
    image = Path(next(block_vars["image_path_iterator"]))
    shutil.move(saved, image)
    return figure_rst([str(image)], gallery_conf["src_dir"])


def say_why_not_run(app, docname: str, source: list[str]) -> None:
    """On the page of a script that is shown without being run, say why."""
    gallery, _, name = docname.rpartition("/")
    why = not_run().get(name)
    if gallery != "auto_examples" or why is None:
        return
    text = source[0]
    # the title is the first line underlined with "="
    title = re.search(r"^[^\n]+\n=+\n", text, re.MULTILINE)
    if title is None:
        return
    note = f"\n.. note::\n\n   This script is shown without being run: {why}.\n\n"
    source[0] = text[: title.end()] + note + text[title.end() :]


def link_scripts_to_gallery(app, doctree, docname: str) -> None:
    """Point the guide's links to a script (``../examples/NAME.py``, which on
    GitHub opens the script) at the script's gallery page."""
    from docutils import nodes
    from sphinx import addnodes
    from sphinx.util import logging

    for node in list(doctree.findall(addnodes.download_reference)):
        script = re.fullmatch(r"(?:\.\./)*examples/(\w+)\.py", node["reftarget"])
        if script is None:
            continue
        page = f"auto_examples/{script.group(1)}"
        if page not in app.env.all_docs:
            logging.getLogger(__name__).warning(
                "%s links to %s, which has no gallery page", docname, node["reftarget"]
            )
            continue
        link = nodes.reference(
            "", "", internal=True, refuri=app.builder.get_relative_uri(docname, page)
        )
        link += node.children
        node.replace_self(link)
