"""The device side of one split virtqueue (VIRTIO 1.2, 2.7).

A :class:`Queue` holds what the transport configured (size, ring addresses,
ready) and where the device is (``next_avail``, ``next_used``). It does not
own guest memory: every method that touches the rings takes the current
:class:`vm_memory.GuestMemory`, so a device worker can pass
``GuestMemoryAtomic.memory()`` per request and follow memory hotplug.

A device worker's loop, the way the spec's notification suppression wants it::

    while True:
        queue.disable_notification(memory)
        for chain in queue.iter(memory):
            used = handle(chain)  # Reader/Writer; InvalidChainError -> used = 0
            queue.add_used(memory, chain.head_index, used)
        if not queue.enable_notification(memory):
            break  # nothing arrived meanwhile: sleep until the next kick
    if queue.needs_notification(memory):
        interrupt()

The driver is hostile: ``avail->idx`` is read once per batch and trusted only
up to ``size`` entries ahead, head indices are checked, and every chain is
checked when first used (see :mod:`virtio_queue.chain`). A queue is used by one
thread at a time (its worker); it takes no lock of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from vm_memory import GuestMemoryError

from virtio_queue.barrier import STRONGLY_ORDERED, full_barrier
from virtio_queue.chain import DescriptorChain
from virtio_queue.defs import (
    AVAIL_ALIGN,
    AVAIL_F_NO_INTERRUPT,
    DESC_TABLE_ALIGN,
    MAX_QUEUE_SIZE,
    RING_HEADER,
    USED_ALIGN,
    USED_F_NO_NOTIFY,
    avail_ring_size,
    desc_table_size,
    used_ring_size,
)
from virtio_queue.errors import (
    InvalidAvailIndexError,
    InvalidHeadIndexError,
    InvalidQueueConfigError,
    InvalidUsedElementError,
    QueueMemoryError,
    QueueNotReadyError,
    VirtioQueueError,
)
from virtio_queue.state import QueueState, check_address, check_size, check_u16, merge_halves

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["Queue"]

_AVAIL = "available ring"
_USED = "used ring"


class Queue:
    """One split virtqueue, device side. ``max_size`` is what the device offers;
    the driver may lower ``size`` to any smaller power of two."""

    __slots__ = (
        "_avail_idx",
        "_avail_ring",
        "_desc_table",
        "_event_idx",
        "_mask",
        "_max_size",
        "_next_avail",
        "_next_used",
        "_num_added",
        "_ready",
        "_size",
        "_used_ring",
    )

    def __init__(self, max_size: int) -> None:
        check_size("max size", max_size, MAX_QUEUE_SIZE)
        self._max_size = max_size
        self.reset()

    def reset(self) -> None:
        """Back to the state after device reset: not ready, size ``max_size``,
        addresses and indices 0, EVENT_IDX off."""
        self._size = self._max_size
        self._mask = self._max_size - 1
        self._ready = False
        self._desc_table = 0
        self._avail_ring = 0
        self._used_ring = 0
        self._next_avail = 0
        self._next_used = 0
        self._event_idx = False
        self._avail_idx = 0  # the driver's avail->idx as last read
        self._num_added = 0  # used entries added since needs_notification

    # Configuration (written by the transport on the driver's behalf) --------------

    @property
    def max_size(self) -> int:
        return self._max_size

    @property
    def size(self) -> int:
        """Entries in each ring: a power of two no larger than ``max_size``."""
        return self._size

    @size.setter
    def size(self, size: int) -> None:
        check_size("size", size, self._max_size)
        self._size = size
        self._mask = size - 1
        self._avail_idx = self._next_avail

    @property
    def ready(self) -> bool:
        return self._ready

    @ready.setter
    def ready(self, ready: bool) -> None:
        self._ready = bool(ready)
        self._avail_idx = self._next_avail

    @property
    def desc_table(self) -> int:
        """Guest address of the descriptor table."""
        return self._desc_table

    @desc_table.setter
    def desc_table(self, addr: int) -> None:
        self._desc_table = check_address("descriptor table address", addr)

    @property
    def avail_ring(self) -> int:
        """Guest address of the available (driver) ring."""
        return self._avail_ring

    @avail_ring.setter
    def avail_ring(self, addr: int) -> None:
        self._avail_ring = check_address("available ring address", addr)
        self._avail_idx = self._next_avail

    @property
    def used_ring(self) -> int:
        """Guest address of the used (device) ring."""
        return self._used_ring

    @used_ring.setter
    def used_ring(self, addr: int) -> None:
        self._used_ring = check_address("used ring address", addr)

    def set_desc_table_address(self, low: int | None = None, high: int | None = None) -> None:
        """Replace the low and/or high 32 bits (virtio-pci writes them apart)."""
        self.desc_table = merge_halves(self._desc_table, low, high)

    def set_avail_ring_address(self, low: int | None = None, high: int | None = None) -> None:
        """Replace the low and/or high 32 bits of the available ring address."""
        self.avail_ring = merge_halves(self._avail_ring, low, high)

    def set_used_ring_address(self, low: int | None = None, high: int | None = None) -> None:
        """Replace the low and/or high 32 bits of the used ring address."""
        self.used_ring = merge_halves(self._used_ring, low, high)

    @property
    def event_idx_enabled(self) -> bool:
        """Whether VIRTIO_F_EVENT_IDX was negotiated (set by the device at
        FEATURES_OK): notifications then follow ``used_event``/``avail_event``."""
        return self._event_idx

    @event_idx_enabled.setter
    def event_idx_enabled(self, enabled: bool) -> None:
        self._event_idx = bool(enabled)

    def check(self, memory: GuestMemory) -> None:
        """Raise unless the queue can run: ready, areas aligned as 2.7 requires
        and entirely inside guest memory."""
        if not self._ready:
            raise QueueNotReadyError()
        size = self._size
        areas = (
            ("descriptor table", self._desc_table, DESC_TABLE_ALIGN, desc_table_size(size)),
            (_AVAIL, self._avail_ring, AVAIL_ALIGN, avail_ring_size(size)),
            (_USED, self._used_ring, USED_ALIGN, used_ring_size(size)),
        )
        for area, addr, align, length in areas:
            if addr % align:
                raise InvalidQueueConfigError(
                    f"{area} address", addr, f"is not aligned to {align} bytes"
                )
            if not memory.check_range(addr, length):
                raise QueueMemoryError(area, addr, length)

    def is_valid(self, memory: GuestMemory) -> bool:
        """Whether :meth:`check` passes."""
        try:
            self.check(memory)
        except VirtioQueueError:
            return False
        return True

    # Position ---------------------------------------------------------------------

    @property
    def next_avail(self) -> int:
        """Index (mod 2**16) of the next available ring entry to pop."""
        return self._next_avail

    @next_avail.setter
    def next_avail(self, value: int) -> None:
        self._next_avail = check_u16("next_avail", value)
        self._avail_idx = self._next_avail

    @property
    def next_used(self) -> int:
        """Index (mod 2**16) of the next used ring entry to fill."""
        return self._next_used

    @next_used.setter
    def next_used(self, value: int) -> None:
        self._next_used = check_u16("next_used", value)
        self._num_added = 0

    def avail_idx(self, memory: GuestMemory) -> int:
        """The driver's ``avail->idx`` now."""
        return self._load_u16(memory, _AVAIL, self._avail_ring + 2)

    def used_idx(self, memory: GuestMemory) -> int:
        """``used->idx`` as stored in guest memory."""
        return self._load_u16(memory, _USED, self._used_ring + 2)

    # Device side: consuming available chains ------------------------------------------

    def pop_descriptor_chain(self, memory: GuestMemory) -> DescriptorChain | None:
        """The next available chain, or None when the driver has published no more.

        Raises :class:`InvalidAvailIndexError` (nothing consumed) when
        ``avail->idx`` runs more than ``size`` entries ahead, and
        :class:`InvalidHeadIndexError` (entry consumed) for a head outside the
        table. The chain itself is checked when first used.
        """
        next_avail = self._next_avail
        avail_ring = self._avail_ring
        try:
            if next_avail == self._avail_idx:
                # Caught up with the last read of avail->idx: read it again
                # (once per batch of chains, not once per chain).
                if not self._ready:
                    raise QueueNotReadyError()
                avail_idx = memory.read_u16(avail_ring + 2)
                if avail_idx == next_avail:
                    return None
                if (avail_idx - next_avail) & 0xFFFF > self._size:
                    raise InvalidAvailIndexError(avail_idx, next_avail, self._size)
                self._avail_idx = avail_idx
                if not STRONGLY_ORDERED:
                    full_barrier()  # read barrier: avail->idx before the entries it covers
            head = memory.read_u16(avail_ring + RING_HEADER + 2 * (next_avail & self._mask))
        except GuestMemoryError as error:
            raise QueueMemoryError(_AVAIL, error.addr, error.length) from error
        self._next_avail = (next_avail + 1) & 0xFFFF
        size = self._size
        if head >= size:
            raise InvalidHeadIndexError(head, size)
        return DescriptorChain(memory, self._desc_table, size, head)

    def iter(self, memory: GuestMemory) -> Iterator[DescriptorChain]:
        """Pop chains until the driver has published no more."""
        pop = self.pop_descriptor_chain
        while (chain := pop(memory)) is not None:
            yield chain

    def undo_pop(self) -> None:
        """Put the last popped chain back (e.g. a network device that popped a
        receive buffer but has no packet for it after all)."""
        self._next_avail = (self._next_avail - 1) & 0xFFFF

    # Device side: returning used chains ------------------------------------------------

    def add_used(self, memory: GuestMemory, head_index: int, length: int) -> None:
        """Return chain ``head_index`` to the driver with ``length`` bytes written
        into its writable buffers, and publish it (``used->idx``)."""
        if not 0 <= head_index < self._size:
            raise InvalidUsedElementError(head_index, length, f"queue size is {self._size}")
        if not 0 <= length <= 0xFFFF_FFFF:
            raise InvalidUsedElementError(head_index, length, "length is not a u32")
        used_ring = self._used_ring
        next_used = self._next_used
        element = used_ring + RING_HEADER + 8 * (next_used & self._mask)
        next_used = (next_used + 1) & 0xFFFF
        try:
            memory.write_u64(element, head_index | length << 32)  # id, len
            if not STRONGLY_ORDERED:
                full_barrier()  # write barrier: the element before the index
            memory.write_u16(used_ring + 2, next_used)
        except GuestMemoryError as error:
            raise QueueMemoryError(_USED, error.addr, error.length) from error
        self._next_used = next_used
        self._num_added += 1

    # Notifications (2.7.7, 2.7.10) -------------------------------------------------

    def disable_notification(self, memory: GuestMemory) -> None:
        """Ask the driver not to notify (kick) the device for new buffers.

        Without EVENT_IDX this sets ``VIRTQ_USED_F_NO_NOTIFY``; with it nothing
        is written: ``avail_event`` stays where :meth:`enable_notification` put
        it, and once the driver passes it, it stops notifying.
        """
        if not self._event_idx:
            self._store_u16(memory, _USED, self._used_ring, USED_F_NO_NOTIFY)

    def enable_notification(self, memory: GuestMemory) -> bool:
        """Ask the driver to notify the device for new buffers. True when
        buffers arrived meanwhile: process them, or a notification may be lost."""
        if self._event_idx:
            avail_event = self._used_ring + RING_HEADER + 8 * self._size
            self._store_u16(memory, _USED, avail_event, self._next_avail)
        else:
            self._store_u16(memory, _USED, self._used_ring, 0)
        full_barrier()  # the store above before the load of avail->idx
        return self._load_u16(memory, _AVAIL, self._avail_ring + 2) != self._next_avail

    def needs_notification(self, memory: GuestMemory) -> bool:
        """Whether the driver wants an interrupt for the used entries added since
        the last call: EVENT_IDX's ``used_event`` test (2.7.10), else the
        absence of ``VIRTQ_AVAIL_F_NO_INTERRUPT``."""
        full_barrier()  # used->idx stored before used_event/flags are loaded
        added = self._num_added
        self._num_added = 0
        if not self._event_idx:
            flags = self._load_u16(memory, _AVAIL, self._avail_ring)
            return not flags & AVAIL_F_NO_INTERRUPT
        if added >= 0x10000:  # every used_event value was passed
            return True
        used_event = self._load_u16(memory, _AVAIL, self._avail_ring + RING_HEADER + 2 * self._size)
        new = self._next_used
        # vring_need_event(used_event, new, old): did used->idx move past
        # used_event in this batch, 16-bit wrap-around included?
        return (new - used_event - 1) & 0xFFFF < added

    # Snapshot -------------------------------------------------------------------------

    def state(self) -> QueueState:
        """The device-side state, for snapshot and migration."""
        return QueueState(
            max_size=self._max_size,
            size=self._size,
            ready=self._ready,
            desc_table=self._desc_table,
            avail_ring=self._avail_ring,
            used_ring=self._used_ring,
            next_avail=self._next_avail,
            next_used=self._next_used,
            event_idx_enabled=self._event_idx,
        )

    @classmethod
    def from_state(cls, state: QueueState) -> Queue:
        """A queue in ``state``; :class:`InvalidQueueConfigError` for any field out of range."""
        queue = cls(state.max_size)
        queue.size = state.size
        queue.desc_table = state.desc_table
        queue.avail_ring = state.avail_ring
        queue.used_ring = state.used_ring
        queue.next_avail = state.next_avail
        queue.next_used = state.next_used
        queue.event_idx_enabled = state.event_idx_enabled
        queue.ready = state.ready
        return queue

    def __repr__(self) -> str:
        return (
            f"Queue(size={self._size}/{self._max_size}, ready={self._ready}, "
            f"desc={self._desc_table:#x}, avail={self._avail_ring:#x}, "
            f"used={self._used_ring:#x}, next_avail={self._next_avail}, "
            f"next_used={self._next_used})"
        )

    # Ring access ----------------------------------------------------------------------

    @staticmethod
    def _load_u16(memory: GuestMemory, area: str, addr: int) -> int:
        try:
            return memory.read_u16(addr)
        except GuestMemoryError as error:
            raise QueueMemoryError(area, addr, 2) from error

    @staticmethod
    def _store_u16(memory: GuestMemory, area: str, addr: int, value: int) -> None:
        try:
            memory.write_u16(addr, value)
        except GuestMemoryError as error:
            raise QueueMemoryError(area, addr, 2) from error
