"""The documentation works offline: MathJax ships inside the built HTML.

The fast tests read ``doc/conf.py``; the ``slow`` test builds the documentation
(without executing the gallery) into a temporary folder with ``-W`` and checks
that the pages load their math renderer, scripts and styles from the build
folder, never from a URL.
"""

import importlib.util
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "doc"
OFFLINE_EXT = "sphinx-mathjax-offline"


@pytest.fixture(scope="module")
def conf():
    return runpy.run_path(str(DOC / "conf.py"))


def test_math_renderer_is_the_offline_one(conf):
    assert OFFLINE_EXT in conf["extensions"]
    assert "sphinx.ext.imgmath" not in conf["extensions"]
    path = conf["mathjax_path"]
    # A relative path is served from the build's _static/ folder; a URL would need the network.
    assert "://" not in path and not path.startswith("//"), path
    spec = importlib.util.find_spec(OFFLINE_EXT)
    if spec is None:
        pytest.skip(f"{OFFLINE_EXT} is not installed (pip install -e '.[docs]')")
    shipped = Path(spec.origin).parent / "static" / path
    assert shipped.is_file(), f"{path} is not shipped by {OFFLINE_EXT} ({shipped})"


def test_theme_and_gallery_configuration(conf):
    assert conf["html_theme"] == "pydata_sphinx_theme"
    assert "sphinx_gallery.gen_gallery" in conf["extensions"]
    gallery = conf["sphinx_gallery_conf"]
    assert (DOC / gallery["examples_dirs"]).resolve() == ROOT / "examples"
    # Every example is executed (not only plot_*), so the docs show every output.
    for script in (ROOT / "examples").glob("*.py"):
        assert re.search(gallery["filename_pattern"], str(script)), script.name
        assert not re.search(gallery["ignore_pattern"], str(script)), script.name
    assert not conf["html_theme_options"].get("icon_links")


def _missing_docs_extras():
    return [m for m in ("sphinx", "numpydoc", "pydata_sphinx_theme", "sphinx_gallery", OFFLINE_EXT)
            if importlib.util.find_spec(m) is None]


@pytest.mark.slow
def test_built_html_loads_nothing_from_a_url(tmp_path):
    missing = _missing_docs_extras()
    if missing:
        pytest.skip(f"the docs extras are not installed ({missing}): pip install -e '.[docs,plot]'")
    # A copy of doc/ and examples/, so the build writes its gallery sources there, not into the checkout.
    src = tmp_path / "doc"
    shutil.copytree(DOC, src, ignore=shutil.ignore_patterns("_build", "auto_examples", "sg_execution_times.rst"))
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("_out"))
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-D", "plot_gallery=0", str(src), str(out)],
        capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = list(out.rglob("*.html"))
    assert pages
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//", re.I)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        hits = [m.group(0) for m in remote.finditer(html)]
        assert not hits, f"{page.relative_to(out)} loads {hits[:3]}"
    # A page with equations loads MathJax from the build folder, and the file is there.
    method_pages = [p for p in (out / "methods").glob("*.html") if "tex-chtml.js" in p.read_text(encoding="utf-8")]
    assert method_pages, "no method page loads MathJax"
    html = method_pages[0].read_text(encoding="utf-8")
    src_attr = re.search(r"<script[^>]*src=\"([^\"]*tex-chtml\.js)\"", html).group(1)
    assert "://" not in src_attr
    assert (method_pages[0].parent / src_attr).resolve().is_file()
    fonts = list((out / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert fonts, "MathJax's fonts were not copied into the build"
