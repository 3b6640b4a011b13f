"""Sphinx configuration of the sknn_scratch documentation.

Build it (warnings are errors) with::

    pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html

``SKNN_DOCS_QUICK=1`` makes the quick build that the test suite runs
(tests/test_docs.py): the gallery's scripts run with ``--quick``, and its
grid searches are shown without being run (see ``_ext/sknn_gallery.py``).

The build needs no network: nothing is fetched (no intersphinx), and the
references into scikit-learn's documentation that the estimators' inherited
methods carry are left as plain text (``nitpick_ignore_regex`` below).
"""

import sys
from pathlib import Path

import sknn_scratch

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import sknn_gallery  # found through the path just set

project = "sknn_scratch"
author = "The sknn_scratch developers"
copyright = "the sknn_scratch developers"
release = version = sknn_scratch.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax is copied into the site, so that it reads offline too
    "sphinx-mathjax-offline",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_ext", "_templates"]
templates_path = ["_templates"]

# Every reference must resolve, but for those into the documentation of
# scikit-learn and the libraries around it, which an offline build cannot
# reach: they stay plain text. The methods the estimators inherit from
# scikit-learn (get_params, score, set_fit_request, ...) also refer to its user
# guide and glossary (:ref:, :term:); our own pages and docstrings use neither
# role, and link with MyST's links and the py roles, which are checked.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|numpy|scipy|matplotlib)(\..*)?"),
    (r"std:(ref|term)", r".*"),
]

# -- MyST (the guide's pages are Markdown, readable on GitHub as they are) --
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- API reference ---------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_xref_param_type = False
# A docstring that leaves out a parameter, or documents one that does not
# exist, fails the build.
numpydoc_validation_checks = {"PR01", "PR02", "PR03", "PR10", "RT03"}

# -- Gallery ---------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": sknn_gallery.filename_pattern(),
    "reset_argv": "sknn_gallery.reset_argv",
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    # run every time: outputs of a quick build must never pass for a full one
    "run_stale_examples": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1e9,  # no per-script times: they vary between runs
    "write_computation_times": False,
    # "Examples in the gallery" on each API page
    "doc_module": ("sknn_scratch",),
    "backreferences_dir": "generated/backreferences",
}

# -- HTML ------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "sknn_scratch"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
html_sidebars = {"**": []}  # the pages are flat: no section navigation


def setup(app):
    app.connect("source-read", sknn_gallery.say_why_not_run)
    app.connect("doctree-resolved", sknn_gallery.link_scripts_to_gallery)
