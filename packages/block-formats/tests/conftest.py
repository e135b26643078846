"""Fixtures: QEMU's own image tools as the oracle, or a skip that says how to get them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# The tests share a helper module (qemu_oracle.py) that sits beside them.
sys.path.insert(0, str(Path(__file__).parent))

from qemu_oracle import MISSING, Qemu


@pytest.fixture(scope="session")
def qemu() -> Qemu:
    img = shutil.which("qemu-img")
    if img is None:
        pytest.skip(MISSING.format("qemu-img"))
    return Qemu(img, shutil.which("qemu-io"))
