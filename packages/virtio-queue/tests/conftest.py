"""Shared fixtures: real guest memory, a mock driver and the device's queue."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from virtio_queue import MockSplitQueue, Queue
from vm_memory import GuestMemoryMmap, RegionInUseError

# The tests share helper modules (hostile.py) that sit beside them.
sys.path.insert(0, str(Path(__file__).parent))

MEMORY_SIZE = 1 << 20
QUEUE_SIZE = 16


@pytest.fixture
def memory() -> Iterator[GuestMemoryMmap]:
    """1 MiB of guest RAM at 0, then a hole, then 64 KiB at 2 MiB."""
    guest = GuestMemoryMmap.from_ranges([(0, MEMORY_SIZE), (2 << 20, 64 << 10)])
    yield guest
    try:
        guest.close()
    except RegionInUseError:
        # pytest.raises keeps exceptions in reference cycles (exception ->
        # traceback -> test frame) whose frames may hold views of guest memory.
        gc.collect()
        guest.close()


@pytest.fixture
def driver(memory: GuestMemoryMmap) -> MockSplitQueue:
    return MockSplitQueue(memory, QUEUE_SIZE)


@pytest.fixture
def queue(driver: MockSplitQueue) -> Iterator[Queue]:
    """The device's queue; released afterwards, so guest memory can close."""
    device_queue = driver.create_queue()
    yield device_queue
    device_queue.release()
