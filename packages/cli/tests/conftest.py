"""Fixtures for the command-line tests: real kernel-shaped files and a clean root logger."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def kernel(tmp_path: Path) -> str:
    """A file that starts like an x86-64 ELF vmlinux (what validation sniffs)."""
    path = tmp_path / "vmlinux"
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1)
    path.write_bytes(header + bytes(4096 - len(header)))
    return str(path)


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
