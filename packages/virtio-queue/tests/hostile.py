"""A hostile driver for the property tests and the fuzz target: arbitrary
descriptor tables, indirect tables and rings, and a device that serves them.

``serve`` plays a device doing what device code in this project does with the
package (pop, parse, read everything readable, fill everything writable,
add_used, notification checks) and returns what it observed, so tests can
check the guarantees: only the package's own errors, no access outside guest
memory, writes only where the driver allowed them, and bounded work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast
from unittest import mock

from virtio_queue import (
    DESCRIPTOR_SIZE,
    Descriptor,
    InvalidAvailIndexError,
    InvalidChainError,
    InvalidHeadIndexError,
    MockSplitQueue,
    Queue,
    used_ring_size,
)
from virtio_queue import chain as chain_module
from virtio_queue.descriptor import DESCRIPTOR
from vm_memory import GuestMemory, GuestMemoryMmap

# Guest memory: two contiguous regions, a hole, a third region.
LAYOUT = [(0, 0x1_0000), (0x1_0000, 0x1_0000), (0x4_0000, 0x1_0000)]
INDIRECT_BASE = 0x1000  # where the hostile driver keeps its indirect tables
INDIRECT_ENTRIES = 8


@dataclass
class Observation:
    """What the device did while serving a hostile driver."""

    chains: int = 0
    errors: list[str] = field(default_factory=list)  # names only: errors hold frames
    writable: list[tuple[int, int]] = field(default_factory=list)  # allowed writes
    max_descriptor_reads: int = 0
    out_of_memory_accesses: list[tuple[int, int]] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)  # with reference_parse


class CheckedMemory:
    """Guest memory that counts descriptor reads and records any access that
    succeeded although it was not inside guest memory (there must be none).

    Descriptors read from the queue's own view of its table are counted by
    :meth:`counting_table_reads`; that view is guest memory by construction
    (the queue checked it once), and every buffer a chain accepts is checked
    against the reference parse and the chain's views.
    """

    def __init__(self, memory: GuestMemoryMmap, seen: Observation) -> None:
        self._memory = memory
        self._seen = seen
        self.descriptor_reads = 0

    def _note(self, addr: int, length: int) -> None:
        if length and not self._memory.check_range(addr, length):
            self._seen.out_of_memory_accesses.append((addr, length))

    def read_struct(self, addr: int, fmt: Any) -> tuple[Any, ...]:
        values = self._memory.read_struct(addr, fmt)
        self.descriptor_reads += 1
        self._note(addr, fmt.size)
        return values

    def read_u16(self, addr: int) -> int:
        value = self._memory.read_u16(addr)
        self._note(addr, 2)
        return value

    def write_u16(self, addr: int, value: int) -> None:
        self._memory.write_u16(addr, value)
        self._note(addr, 2)

    def write_u64(self, addr: int, value: int) -> None:
        self._memory.write_u64(addr, value)
        self._note(addr, 8)

    def get_slice(self, addr: int, length: int) -> memoryview:
        view = self._memory.get_slice(addr, length)
        self._note(addr, length)
        return view

    def get_slices(self, addr: int, length: int) -> list[memoryview]:
        views = self._memory.get_slices(addr, length)
        self._note(addr, length)
        return views

    def __getattr__(self, name: str) -> Any:
        return getattr(self._memory, name)

    @contextmanager
    def counting_table_reads(self) -> Iterator[None]:
        """Count the descriptor loads from the queue's view of its table too."""

        def load(table: memoryview, offset: int) -> tuple[Any, ...]:
            self.descriptor_reads += 1
            return DESCRIPTOR.unpack_from(table, offset)

        with mock.patch.object(chain_module, "_load_descriptor", load):
            yield


@dataclass(frozen=True)
class HostileDriver:
    """Everything a driver controls, written into guest memory by :meth:`install`."""

    size: int
    table: list[Descriptor]
    indirect: list[Descriptor]
    ring: list[int]
    avail_idx: int
    used_event: int
    avail_flags: int

    def install(self, memory: GuestMemoryMmap, event_idx: bool) -> tuple[MockSplitQueue, Queue]:
        driver = MockSplitQueue(memory, self.size, event_idx=event_idx)
        for index, descriptor in enumerate(self.table):
            driver.write_descriptor(index, descriptor)
        for index, descriptor in enumerate(self.indirect):
            driver.write_descriptor(index, descriptor, table=INDIRECT_BASE)
        for slot, head in enumerate(self.ring):
            memory.write_u16(driver.avail_ring + 4 + 2 * slot, head)
        driver.set_avail_idx(self.avail_idx)
        driver.set_used_event(self.used_event)
        driver.set_avail_flags(self.avail_flags)
        return driver, driver.create_queue()


Buffer = tuple[int, int, bool]  # address, length, device-writable


def reference_parse(
    memory: GuestMemoryMmap, table: int, size: int, head: int
) -> list[Buffer] | None:
    """The chain at ``head`` read straight from the spec's rules (2.7.4.2,
    2.7.5.2, 2.7.5.3.1), independently of the package; None if malformed."""
    if head >= size:
        return None
    buffers: list[Buffer] = []
    total = 0
    limit, index, count, nested = size, head, 0, False
    while True:
        count += 1
        if count > limit:  # longer than its table allows: a loop
            return None
        where = table + DESCRIPTOR_SIZE * index
        if not memory.check_range(where, DESCRIPTOR_SIZE):
            return None
        descriptor = Descriptor.unpack(memory.read(where, DESCRIPTOR_SIZE))
        if descriptor.is_indirect:
            entries, rest = divmod(descriptor.len, DESCRIPTOR_SIZE)
            if nested or descriptor.has_next or rest or not 0 < entries <= 1 << 16:
                return None
            if not memory.check_range(descriptor.addr, descriptor.len):
                return None
            table, limit, index, count, nested = descriptor.addr, entries, 0, 0, True
            continue
        if buffers and buffers[-1][2] and not descriptor.is_write_only:
            return None  # readable after writable
        total += descriptor.len
        if total >= 1 << 32:
            return None
        if descriptor.len and not memory.check_range(descriptor.addr, descriptor.len):
            return None
        buffers.append((descriptor.addr, descriptor.len, descriptor.is_write_only))
        if not descriptor.has_next:
            return buffers
        if descriptor.next >= limit:
            return None
        index = descriptor.next


def serve(memory: GuestMemoryMmap, queue: Queue, driver: MockSplitQueue) -> Observation:
    """Serve every chain the driver published, the way a device would."""
    seen = Observation()
    checked = CheckedMemory(memory, seen)
    device_memory = cast(GuestMemory, checked)
    seen.writable.append((driver.used_ring, used_ring_size(driver.size)))
    with checked.counting_table_reads():
        _serve_chains(queue, driver, checked, seen)
    queue.needs_notification(device_memory)
    queue.enable_notification(device_memory)
    queue.disable_notification(device_memory)
    return seen


def _serve_chains(
    queue: Queue, driver: MockSplitQueue, checked: CheckedMemory, seen: Observation
) -> None:
    memory = checked._memory
    device_memory = cast(GuestMemory, checked)
    for _ in range(2 * driver.size + 2):  # more pops than a valid driver could publish
        checked.descriptor_reads = 0
        try:
            chain = queue.pop_descriptor_chain(device_memory)
        except InvalidAvailIndexError as error:
            seen.errors.append(type(error).__name__)
            break
        except InvalidHeadIndexError as error:
            seen.errors.append(type(error).__name__)
            continue
        if chain is None:
            break
        seen.chains += 1
        expected = reference_parse(memory, queue.desc_table, queue.size, chain.head_index)
        try:
            parsed = [(d.addr, d.len, d.is_write_only) for d in chain.descriptors()]
            if parsed != expected:
                seen.disagreements.append(f"chain {chain.head_index}: {parsed} != {expected}")
            views = (chain.readable_views(), chain.writable_views())
            if [sum(map(len, part)) for part in views] != [
                chain.readable_len,
                chain.writable_len,
            ]:
                seen.disagreements.append(f"chain {chain.head_index}: views != lengths")
            del views
            seen.writable += [(d.addr, d.len) for d in chain.writable()]
            reader, writer = chain.reader(), chain.writer()
            reader.read()
            writer.write(b"\xa5" * writer.available_bytes)
            used = writer.bytes_written
        except InvalidChainError as error:
            seen.errors.append(type(error).__name__)
            if expected is not None:
                seen.disagreements.append(f"chain {chain.head_index}: {error} but {expected}")
            used = 0
        seen.max_descriptor_reads = max(seen.max_descriptor_reads, checked.descriptor_reads)
        queue.add_used(device_memory, chain.head_index, used)
        del chain


def changed_outside(
    before: list[bytes], memory: GuestMemoryMmap, allowed: list[tuple[int, int]]
) -> list[int]:
    """Addresses whose bytes changed although no allowed range covers them."""

    def covered(addr: int, length: int) -> bool:
        return any(a <= addr and addr + length <= a + n for a, n in allowed)

    bad = []
    for (start, size), old in zip(LAYOUT, before, strict=True):
        new = memory.read(start, size)
        for chunk in range(0, size, 256):
            if new[chunk : chunk + 256] == old[chunk : chunk + 256] or covered(start + chunk, 256):
                continue
            bad += [
                start + offset
                for offset in range(chunk, chunk + 256)
                if new[offset] != old[offset] and not covered(start + offset, 1)
            ]
    return bad


def snapshot(memory: GuestMemoryMmap) -> list[bytes]:
    return [memory.read(start, size) for start, size in LAYOUT]


__all__ = [
    "DESCRIPTOR_SIZE",
    "INDIRECT_BASE",
    "INDIRECT_ENTRIES",
    "LAYOUT",
    "CheckedMemory",
    "HostileDriver",
    "Observation",
    "changed_outside",
    "reference_parse",
    "serve",
    "snapshot",
]
