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
]

# No network at build time: no intersphinx, no remote images.
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

html_theme = "alabaster"
html_title = f"skcross {release}"
html_static_path = []
