"""Fixtures shared by the vm-memory tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vm_memory import GuestMemoryMmap

PAGE = 0x1000


@pytest.fixture
def memory() -> Iterator[GuestMemoryMmap]:
    """Three regions: [0, 0x4000) and [0x4000, 0x6000) are contiguous, then a gap
    up to [0x10000, 0x11000)."""
    with GuestMemoryMmap.from_ranges([(0, 4 * PAGE), (4 * PAGE, 2 * PAGE), (0x10000, PAGE)]) as mem:
        yield mem
