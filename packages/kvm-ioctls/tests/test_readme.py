"""The README's VMM is the shipped example, and it runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello_guest.py"


def test_readme_shows_the_example_verbatim(readme_examples: Callable[[], list[str]]) -> None:
    assert EXAMPLE.read_text() in readme_examples()


@pytest.mark.kvm
def test_example_vmm_prints_the_guest_greeting() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout == "Hello from a KVM guest, run by Python!\n"
