"""Memory ordering between device and driver (2.7.13, 2.7.7.2, 2.7.10).

The device's loads and stores of the rings are recorded in program order, with
the full barriers between them: each spec rule is a statement about that order.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from virtio_queue import STRONGLY_ORDERED, MockSplitQueue
from virtio_queue import chain as chain_module
from virtio_queue import queue as queue_module
from virtio_queue.descriptor import DESCRIPTOR
from virtio_queue.views import QueueViews
from vm_memory import GuestMemory, GuestMemoryMmap

Log = list[tuple[str, int]]


class RecordingMemory:
    """Guest memory that logs each ring access as ``(operation, address)``."""

    def __init__(self, memory: GuestMemoryMmap, log: Log) -> None:
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


class RecordingRing:
    """A ring view (u16s or u32s) that logs each element access as
    ``(operation, guest address)``."""

    def __init__(self, view: memoryview, base: int, log: Log) -> None:
        self._view = view
        self._base = base
        self._log = log

    def _address(self, index: int) -> int:
        return self._base + self._view.itemsize * index

    def __getitem__(self, index: int) -> int:
        self._log.append(("load", self._address(index)))
        value: int = self._view[index]
        return value

    def __setitem__(self, index: int, value: int) -> None:
        self._log.append(("store", self._address(index)))
        self._view[index] = value

    def release(self) -> None:
        self._view.release()


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Log:
    entries: Log = []
    monkeypatch.setattr(queue_module, "full_barrier", lambda: entries.append(("fence", 0)))
    return entries


@pytest.fixture(params=["views", "memory"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, log: Log) -> str:
    """Where the queue's ring accesses go, recorded either way: its views of the
    rings (the normal case), or the memory map (rings across two regions)."""
    tables: dict[int, int] = {}  # id of a table view -> its guest address

    class Recording(QueueViews):
        def __init__(
            self,
            memory: GuestMemory,
            desc_table: int,
            size: int,
            avail_ring: int = 0,
            used_ring: int = 0,
            *,
            views: bool = True,
        ) -> None:
            super().__init__(memory, desc_table, size, avail_ring, used_ring, views=views)
            if request.param == "memory":
                self.table = self.avail = self.used = self.used_elements = None
                return
            assert self.table is not None
            assert self.avail is not None
            assert self.used is not None
            assert self.used_elements is not None
            tables[id(self.table)] = desc_table
            self.avail = cast(memoryview, RecordingRing(self.avail, avail_ring, log))
            self.used = cast(memoryview, RecordingRing(self.used, used_ring, log))
            elements = RecordingRing(self.used_elements, used_ring + 4, log)
            self.used_elements = cast(memoryview, elements)

    def load_descriptor(table: memoryview, offset: int) -> tuple[Any, ...]:
        log.append(("load", tables[id(table)] + offset))
        return DESCRIPTOR.unpack_from(table, offset)

    monkeypatch.setattr(queue_module, "QueueViews", Recording)
    monkeypatch.setattr(chain_module, "_load_descriptor", load_descriptor)
    return str(request.param)


def recorded(memory: GuestMemoryMmap, log: Log) -> GuestMemory:
    return cast(GuestMemory, RecordingMemory(memory, log))


def position(log: Log, entry: tuple[str, int]) -> int:
    return log.index(entry)


@pytest.mark.parametrize("event_idx", [False, True])
def test_a_full_barrier_separates_publishing_used_idx_from_reading_the_driver_wish(
    memory: GuestMemoryMmap, log: Log, path: str, event_idx: bool
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
    memory: GuestMemoryMmap, log: Log, path: str, event_idx: bool
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
    memory: GuestMemoryMmap, driver: MockSplitQueue, log: Log, path: str
) -> None:
    queue = driver.create_queue()
    queue.add_used(recorded(memory, log), 0, 0)
    element = [
        at
        for at, (operation, addr) in enumerate(log)
        if operation == "store" and driver.used_ring + 4 <= addr < driver.used_ring + 12
    ]
    index = position(log, ("store", driver.used_ring + 2))
    assert element
    assert max(element) < index
    if not STRONGLY_ORDERED:
        assert ("fence", 0) in log[max(element) + 1 : index]


def test_avail_idx_is_loaded_before_the_entry_and_descriptor_it_covers(
    memory: GuestMemoryMmap, driver: MockSplitQueue, log: Log, path: str
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
