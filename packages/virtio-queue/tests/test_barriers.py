"""Memory ordering between device and driver (2.7.13, 2.7.7.2, 2.7.10).

The device's loads and stores of the rings are recorded in program order, with
the full barriers between them: each spec rule is a statement about that order.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from virtio_queue import STRONGLY_ORDERED, MockSplitQueue
from virtio_queue import queue as queue_module
from vm_memory import GuestMemory, GuestMemoryMmap


class RecordingMemory:
    """Guest memory that logs each ring access as ``(operation, address)``."""

    def __init__(self, memory: GuestMemoryMmap, log: list[tuple[str, int]]) -> None:
        self._memory = memory
        self._log = log

    def read_u16(self, addr: int) -> int:
        self._log.append(("load", addr))
        return self._memory.read_u16(addr)

    def write_u16(self, addr: int, value: int) -> None:
        self._log.append(("store", addr))
        self._memory.write_u16(addr, value)

    def write_u64(self, addr: int, value: int) -> None:
        self._log.append(("store", addr))
        self._memory.write_u64(addr, value)

    def read_struct(self, addr: int, fmt: Any) -> tuple[Any, ...]:
        self._log.append(("load", addr))
        return self._memory.read_struct(addr, fmt)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._memory, name)


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    entries: list[tuple[str, int]] = []
    monkeypatch.setattr(queue_module, "full_barrier", lambda: entries.append(("fence", 0)))
    return entries


def recorded(memory: GuestMemoryMmap, log: list[tuple[str, int]]) -> GuestMemory:
    return cast(GuestMemory, RecordingMemory(memory, log))


def position(log: list[tuple[str, int]], entry: tuple[str, int]) -> int:
    return log.index(entry)


@pytest.mark.parametrize("event_idx", [False, True])
def test_a_full_barrier_separates_publishing_used_idx_from_reading_the_driver_wish(
    memory: GuestMemoryMmap, log: list[tuple[str, int]], event_idx: bool
) -> None:
    driver = MockSplitQueue(memory, 16, event_idx=event_idx)
    queue = driver.create_queue()
    device_memory = recorded(memory, log)
    queue.add_used(device_memory, 0, 0)
    queue.needs_notification(device_memory)
    used_idx_store = position(log, ("store", driver.used_ring + 2))
    wish = driver.avail_ring + 4 + 2 * 16 if event_idx else driver.avail_ring
    wish_load = position(log, ("load", wish))
    assert ("fence", 0) in log[used_idx_store + 1 : wish_load]


@pytest.mark.parametrize("event_idx", [False, True])
def test_a_full_barrier_separates_re_enabling_notifications_from_rereading_avail_idx(
    memory: GuestMemoryMmap, log: list[tuple[str, int]], event_idx: bool
) -> None:
    driver = MockSplitQueue(memory, 16, event_idx=event_idx)
    queue = driver.create_queue()
    queue.enable_notification(recorded(memory, log))
    enable = driver.used_ring + 4 + 8 * 16 if event_idx else driver.used_ring
    store = position(log, ("store", enable))
    load = position(log, ("load", driver.avail_ring + 2))
    assert store < load
    assert ("fence", 0) in log[store + 1 : load]


def test_the_used_element_is_stored_before_used_idx(
    memory: GuestMemoryMmap, driver: MockSplitQueue, log: list[tuple[str, int]]
) -> None:
    queue = driver.create_queue()
    queue.add_used(recorded(memory, log), 0, 0)
    element = position(log, ("store", driver.used_ring + 4))
    index = position(log, ("store", driver.used_ring + 2))
    assert element < index
    if not STRONGLY_ORDERED:
        assert ("fence", 0) in log[element + 1 : index]


def test_avail_idx_is_loaded_before_the_entry_and_descriptor_it_covers(
    memory: GuestMemoryMmap, driver: MockSplitQueue, log: list[tuple[str, int]]
) -> None:
    queue = driver.create_queue()
    head = driver.add_request([b"x"]).head
    chain = queue.pop_descriptor_chain(recorded(memory, log))
    assert chain is not None
    chain.validate()
    index = position(log, ("load", driver.avail_ring + 2))
    entry = position(log, ("load", driver.avail_ring + 4))
    descriptor = position(log, ("load", driver.desc_table + 16 * head))
    assert index < entry < descriptor
    if not STRONGLY_ORDERED:
        assert ("fence", 0) in log[index + 1 : entry]
