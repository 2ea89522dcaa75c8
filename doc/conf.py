"""Sphinx configuration of the skcross documentation (``make docs``)."""

import os
import sys
from pathlib import Path

# Build from the working tree even when skcross is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MPLBACKEND", "Agg")

import skcross  # noqa: E402

project = "skcross"
author = "the skcross developers"
copyright = "2026, the skcross developers"
version = release = skcross.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # MathJax 3 shipped inside the built HTML (_static/mathjax/), so equations
    # render without network access; it also loads sphinx.ext.mathjax.
    "sphinx-mathjax-offline",
]

# No network at build time nor when reading the pages: no intersphinx, no
# remote images, MathJax and the theme's fonts/icons from _static/.
mathjax_path = "mathjax/tex-chtml.js"  # relative: _static/mathjax/, copied by sphinx-mathjax-offline
autosummary_generate = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

templates_path = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext"}
master_doc = "index"
language = "en"
pygments_style = "sphinx"

html_theme = "pydata_sphinx_theme"
html_title = f"skcross {release}"
html_static_path = []
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # No icon links, version switcher or analytics: nothing to fetch from a URL.
    "icon_links": [],
}

# The examples/ scripts become a gallery: every script is executed (not only
# plot_*), its printed output and figures are shown. The scripts run in their
# default (short) mode; SKCROSS_EXAMPLES_FULL=1 would make the build take hours.
os.environ.pop("SKCROSS_EXAMPLES_FULL", None)
# The scripts' progress bars are for a terminal; in a page they would be noise.
os.environ["TQDM_DISABLE"] = "1"
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",
    "ignore_pattern": r"(__init__|/_[^/]*)\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    # Printed output and figures only, not the HTML repr of a fitted estimator.
    "capture_repr": (),
    # Its execution-times page loads DataTables and jQuery from CDNs: not written.
    "write_computation_times": False,
}
