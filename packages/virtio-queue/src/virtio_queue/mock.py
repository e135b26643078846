"""The driver side of a split virtqueue, for tests and benchmarks.

:class:`MockSplitQueue` lays a descriptor table and both rings out in a real
:class:`vm_memory.GuestMemoryMmap` and plays the guest driver: it allocates
buffers, writes descriptors (direct or through an indirect table), publishes
chains in the available ring, collects the used ring and can decide whether to
kick the device. Its raw methods (``write_descriptor``, ``publish``,
``set_avail_idx``) write anything at all, which is how the tests play a
hostile driver.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from virtio_queue.barrier import STRONGLY_ORDERED, full_barrier
from virtio_queue.defs import (
    AVAIL_F_NO_INTERRUPT,
    DESCRIPTOR_SIZE,
    F_INDIRECT,
    F_NEXT,
    F_WRITE,
    RING_HEADER,
    USED_F_NO_NOTIFY,
    avail_ring_size,
    desc_table_size,
    used_ring_size,
)
from virtio_queue.descriptor import DESCRIPTOR, Descriptor
from virtio_queue.queue import Queue

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["MockChain", "MockSplitQueue", "UsedElement"]


class UsedElement(NamedTuple):
    """One entry of the used ring: the chain's head and the bytes written."""

    id: int
    len: int


@dataclass(frozen=True, slots=True)
class MockChain:
    """A chain the mock driver published: its head and its buffers as
    ``(address, length)`` pairs."""

    head: int
    readable: tuple[tuple[int, int], ...]
    writable: tuple[tuple[int, int], ...]


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & -alignment


class MockSplitQueue:
    """A driver's split virtqueue of ``size`` entries at ``base`` in ``memory``:
    descriptor table, then the available ring, then the used ring; memory after
    :attr:`end` is handed out by :meth:`alloc`. ``event_idx`` says whether
    VIRTIO_F_EVENT_IDX was negotiated."""

    def __init__(
        self, memory: GuestMemory, size: int, base: int = 0, *, event_idx: bool = False
    ) -> None:
        if size <= 0 or size & (size - 1) or size > 32768:
            raise ValueError(f"queue size {size} is not a power of two up to 32768")
        self._memory = memory
        self._size = size
        self._event_idx = event_idx
        self._desc_table = _align(base, 16)
        self._avail_ring = self._desc_table + desc_table_size(size)
        self._used_ring = _align(self._avail_ring + avail_ring_size(size), 4)
        self._end = self._used_ring + used_ring_size(size)
        memory.write(self._desc_table, bytes(self._end - self._desc_table))
        self._heap = _align(self._end, 16)
        self._free: deque[int] = deque(range(size))
        self._chains: dict[int, list[int]] = {}
        self._avail_idx = 0  # the driver's shadow of avail->idx
        self._last_used = 0  # the next used entry the driver will collect
        self._kick_checked = 0  # avail->idx at the last kick decision

    # Layout -------------------------------------------------------------------

    @property
    def memory(self) -> GuestMemory:
        return self._memory

    @property
    def size(self) -> int:
        return self._size

    @property
    def desc_table(self) -> int:
        return self._desc_table

    @property
    def avail_ring(self) -> int:
        return self._avail_ring

    @property
    def used_ring(self) -> int:
        return self._used_ring

    @property
    def end(self) -> int:
        """First address past the used ring."""
        return self._end

    @property
    def event_idx(self) -> bool:
        return self._event_idx

    def create_queue(self, max_size: int | None = None) -> Queue:
        """A device-side :class:`Queue` set up as a transport would for this
        driver: size, addresses, EVENT_IDX as negotiated, ready."""
        queue = Queue(max_size or self._size)
        queue.size = self._size
        queue.desc_table = self._desc_table
        queue.avail_ring = self._avail_ring
        queue.used_ring = self._used_ring
        queue.event_idx_enabled = self._event_idx
        queue.ready = True
        return queue

    def alloc(self, length: int, align: int = 16) -> int:
        """Guest memory for a buffer or an indirect table (never reused)."""
        addr = _align(self._heap, align)
        if not self._memory.check_range(addr, max(length, 1)):
            raise ValueError(f"no guest memory left for {length} bytes at {addr:#x}")
        self._heap = addr + length
        return addr

    # Raw access (a hostile driver writes anything) --------------------------------

    def write_descriptor(
        self, index: int, descriptor: Descriptor, table: int | None = None
    ) -> None:
        """Store ``descriptor`` as entry ``index`` of the queue's table (or of the
        table at ``table``)."""
        base = self._desc_table if table is None else table
        self._memory.write_struct(base + DESCRIPTOR_SIZE * index, DESCRIPTOR, *descriptor)

    def read_descriptor(self, index: int, table: int | None = None) -> Descriptor:
        base = self._desc_table if table is None else table
        return Descriptor._make(
            self._memory.read_struct(base + DESCRIPTOR_SIZE * index, DESCRIPTOR)
        )

    def publish(self, head: int) -> None:
        """Put ``head`` in the next available ring slot and advance ``avail->idx``."""
        slot = self._avail_ring + RING_HEADER + 2 * (self._avail_idx % self._size)
        self._memory.write_u16(slot, head)
        if not STRONGLY_ORDERED:
            full_barrier()  # the entry before the index
        self.set_avail_idx((self._avail_idx + 1) & 0xFFFF)

    @property
    def avail_idx(self) -> int:
        return self._avail_idx

    def set_avail_idx(self, value: int) -> None:
        """Store ``avail->idx`` (any value: a hostile driver may lie)."""
        self._avail_idx = value & 0xFFFF
        self._memory.write_u16(self._avail_ring + 2, self._avail_idx)

    def set_avail_flags(self, flags: int) -> None:
        self._memory.write_u16(self._avail_ring, flags)

    def set_no_interrupt(self, suppress: bool) -> None:
        """Set or clear ``VIRTQ_AVAIL_F_NO_INTERRUPT``."""
        self.set_avail_flags(AVAIL_F_NO_INTERRUPT if suppress else 0)

    def set_used_event(self, value: int) -> None:
        """Store ``used_event``: interrupt me once ``used->idx`` passes it."""
        self._memory.write_u16(self._avail_ring + RING_HEADER + 2 * self._size, value & 0xFFFF)

    def used_idx(self) -> int:
        return self._memory.read_u16(self._used_ring + 2)

    def used_flags(self) -> int:
        return self._memory.read_u16(self._used_ring)

    def avail_event(self) -> int:
        return self._memory.read_u16(self._used_ring + RING_HEADER + 8 * self._size)

    def used_element(self, position: int) -> UsedElement:
        """The used ring entry for used index ``position`` (mod size)."""
        addr = self._used_ring + RING_HEADER + 8 * (position % self._size)
        return UsedElement(self._memory.read_u32(addr), self._memory.read_u32(addr + 4))

    # A well-behaved driver ------------------------------------------------------------

    @property
    def free_descriptors(self) -> int:
        return len(self._free)

    def add_chain(
        self,
        readable: Sequence[tuple[int, int]] = (),
        writable: Sequence[tuple[int, int]] = (),
        *,
        indirect: bool = False,
    ) -> int:
        """Chain the ``(address, length)`` buffers, readable ones first, and
        publish the chain; its head index. ``indirect`` puts them in a new
        indirect table that one descriptor of the queue points to."""
        buffers = [(addr, length, 0) for addr, length in readable]
        buffers += [(addr, length, F_WRITE) for addr, length in writable]
        if not buffers:
            raise ValueError("a chain needs at least one buffer")
        needed = 1 if indirect else len(buffers)
        if needed > len(self._free):
            raise ValueError(f"{needed} descriptors needed, {len(self._free)} free")
        if indirect:
            table = self.alloc(DESCRIPTOR_SIZE * len(buffers))
            for position, (addr, length, flags) in enumerate(buffers):
                more = position + 1 < len(buffers)
                entry = Descriptor(addr, length, flags | (F_NEXT if more else 0), position + 1)
                self.write_descriptor(position, entry if more else entry._replace(next=0), table)
            indices = [self._free.popleft()]
            self.write_descriptor(
                indices[0], Descriptor(table, DESCRIPTOR_SIZE * len(buffers), F_INDIRECT, 0)
            )
        else:
            indices = [self._free.popleft() for _ in buffers]
            for position, (addr, length, flags) in enumerate(buffers):
                more = position + 1 < len(buffers)
                following = indices[position + 1] if more else 0
                entry = Descriptor(addr, length, flags | (F_NEXT if more else 0), following)
                self.write_descriptor(indices[position], entry)
        self._chains[indices[0]] = indices
        self.publish(indices[0])
        return indices[0]

    def add_request(
        self,
        readable: Sequence[bytes] = (),
        writable: Sequence[int] = (),
        *,
        indirect: bool = False,
    ) -> MockChain:
        """Allocate buffers holding the ``readable`` data and of the ``writable``
        sizes, and publish them as one chain."""
        read_buffers = []
        for data in readable:
            addr = self.alloc(len(data))
            self._memory.write(addr, data)
            read_buffers.append((addr, len(data)))
        write_buffers = [(self.alloc(length), length) for length in writable]
        head = self.add_chain(read_buffers, write_buffers, indirect=indirect)
        return MockChain(head, tuple(read_buffers), tuple(write_buffers))

    def read_written(self, chain: MockChain, length: int) -> bytes:
        """The first ``length`` bytes the device wrote into ``chain``'s buffers."""
        out = bytearray()
        for addr, size in chain.writable:
            take = min(size, length - len(out))
            out += self._memory.read(addr, take)
        return bytes(out)

    def collect_used(self) -> list[UsedElement]:
        """Used entries the device added since the last call; the descriptors
        of chains this driver built become free again."""
        used_idx = self.used_idx()
        out = []
        while self._last_used != used_idx:
            element = self.used_element(self._last_used)
            out.append(element)
            self._free.extend(self._chains.pop(element.id, ()))
            self._last_used = (self._last_used + 1) & 0xFFFF
        return out

    def kick_needed(self) -> bool:
        """Whether the driver must notify the device about the chains published
        since the last call: ``avail_event`` with EVENT_IDX, else ``NO_NOTIFY``."""
        full_barrier()  # avail->idx stored before avail_event/flags are loaded
        old, new = self._kick_checked, self._avail_idx
        self._kick_checked = new
        if self._event_idx:
            return (new - self.avail_event() - 1) & 0xFFFF < (new - old) & 0xFFFF
        return not self.used_flags() & USED_F_NO_NOTIFY
