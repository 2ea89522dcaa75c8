"""The README's example must run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    import skcross

    if not hasattr(skcross, "SDML"):
        pytest.skip("SDML is not available")
    text = README.read_text()
    block = re.search(r"<!-- the block below runs as a test.*?-->\n```python\n(.*?)```", text, re.S)
    assert block, "README lost its tested example"
    code = block.group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 15
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
