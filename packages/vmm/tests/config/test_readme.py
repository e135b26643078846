"""The README's configuration example is real code: it must run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _configuration_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Configuration")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_readme_configuration_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _configuration_section(), re.DOTALL)
    assert blocks, "the README's configuration section has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
