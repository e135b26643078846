"""The README's "Running a VM from Python" example is real code: it boots a guest on /dev/kvm."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.kvm

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_boot_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Running a VM from Python")
    section = text[start : text.index("\n## ", start + 1)]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["StopReason.SIGNAL 0", "pmem: not supported by this VMM yet"]
