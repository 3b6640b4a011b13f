"""The gallery's settings, and the Sphinx hooks around it.

The scripts in ``examples/`` draw with matplotlib, whose figures
sphinx-gallery's own scraper collects, and take ``--quick`` for a smaller run.
What this module adds goes through sphinx-gallery's configuration only
(``filename_pattern``, ``reset_argv``, named in conf.py), and through two Sphinx
events (the note on a script not run, the guide's links to the scripts).
"""

import os
import re

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
    return rf"[\\/](?!(?:{names})\.py$)[^\\/]*\.py$"


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """The command-line options a script runs with: ``--quick`` in the quick
    build, none otherwise."""
    return ["--quick"] if quick() else []


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
