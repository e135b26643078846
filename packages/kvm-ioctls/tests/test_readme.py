"""The README's VMM is the shipped example, and it runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]


def test_readme_shows_the_example_verbatim() -> None:
    readme = (PACKAGE / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert (PACKAGE / "examples" / "hello_guest.py").read_text() in blocks


@pytest.mark.kvm
def test_example_vmm_prints_the_guest_greeting() -> None:
    result = subprocess.run(
        [sys.executable, str(PACKAGE / "examples" / "hello_guest.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == "Hello from a KVM guest, run by Python!\n"
