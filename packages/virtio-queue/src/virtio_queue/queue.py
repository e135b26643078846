"""The device side of one split virtqueue (VIRTIO 1.2, 2.7).

A :class:`Queue` holds what the transport configured (size, ring addresses,
ready) and where the device is (``next_avail``, ``next_used``), see
:mod:`virtio_queue.config`, and works the rings. It does not own guest
memory: every method that touches the rings takes the current
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
checked before the device sees a buffer of it (see :mod:`virtio_queue.chain`).
A queue is used by one thread at a time (its worker); it takes no lock of its
own.

The first ring access with a memory map checks the queue (:meth:`Queue.check`)
and makes zero-copy views of its three areas and of the memory regions
(:class:`~virtio_queue.views.QueueViews`); every later ring access is one
indexing operation on a view. The views pin the regions until the queue is
reset, reconfigured, set not ready or released (:meth:`Queue.release`), or
runs against another memory map. Touching the rings of a queue that is not
ready raises :class:`QueueNotReadyError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from vm_memory import GuestMemoryError

from virtio_queue.barrier import STRONGLY_ORDERED, full_barrier
from virtio_queue.chain import DescriptorChain, PoppedChain
from virtio_queue.config import QueueConfig
from virtio_queue.defs import AVAIL_F_NO_INTERRUPT, RING_HEADER, USED_F_NO_NOTIFY
from virtio_queue.errors import (
    InvalidAvailIndexError,
    InvalidHeadIndexError,
    InvalidUsedElementError,
    QueueMemoryError,
)
from virtio_queue.views import QueueViews

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["Queue"]

_AVAIL = "available ring"
_USED = "used ring"


class Queue(QueueConfig):
    """One split virtqueue, device side: the configuration and position of
    :class:`~virtio_queue.config.QueueConfig`, and the ring operations."""

    __slots__ = ("_attached", "_avail_view", "_used_elements", "_used_view", "_views")

    # The memory map the views were made for (None: none made), the views,
    # and the ring views the queue touches itself (None: the area spans two
    # regions, or the host is big-endian, and goes through the memory map).
    _attached: GuestMemory | None
    _views: QueueViews | None
    _avail_view: memoryview | None  # u16s
    _used_view: memoryview | None  # u16s
    _used_elements: memoryview | None  # u32 pairs

    def __init__(self, max_size: int) -> None:
        self._views = None
        super().__init__(max_size)

    # Views of the rings --------------------------------------------------------------

    def release(self) -> None:
        """Release the queue's views of guest memory, so the regions can be
        unmapped. Chains popped but not parsed yet fail with an
        ``InvalidChainError``; the next ring access makes new views.
        Changing the size, an address or ``ready``, and :meth:`reset`, do
        this too."""
        views = self._views
        self._attached = self._views = None
        self._avail_view = self._used_view = self._used_elements = None
        if views is not None:
            views.release()

    _reconfigured = release

    def _attach(self, memory: GuestMemory) -> None:
        """Check the queue against ``memory`` and make the views of its rings.
        The views made for another map are dropped, not released: chains
        popped from them may still be parsed (they pin that map meanwhile)."""
        self._attached = self._views = None
        self._avail_view = self._used_view = self._used_elements = None
        self.check(memory)
        views = QueueViews(memory, self._desc_table, self._size, self._avail_ring, self._used_ring)
        self._views = views
        self._avail_view = views.avail
        self._used_view = views.used
        self._used_elements = views.used_elements
        self._attached = memory

    def avail_idx(self, memory: GuestMemory) -> int:
        """The driver's ``avail->idx`` now."""
        return self._memory_load(memory, _AVAIL, self._avail_ring + 2)

    def used_idx(self, memory: GuestMemory) -> int:
        """``used->idx`` as stored in guest memory."""
        return self._memory_load(memory, _USED, self._used_ring + 2)

    # Device side: consuming available chains ------------------------------------------
    #
    # The hot paths below test the ring view for None at each access: None
    # means the area spans two memory regions and is reached through the
    # memory map instead (rare, but valid).

    def pop_descriptor_chain(self, memory: GuestMemory) -> DescriptorChain | None:
        """The next available chain, or None when the driver has published no more.

        Raises :class:`InvalidAvailIndexError` (nothing consumed) when
        ``avail->idx`` runs more than ``size`` entries ahead, and
        :class:`InvalidHeadIndexError` (entry consumed) for a head outside the
        table. A well-formed direct chain is parsed here; any other is parsed,
        and a malformed one raises its ``InvalidChainError``, when first used.
        """
        if memory is not self._attached:
            self._attach(memory)
        views = self._views
        assert views is not None
        avail = self._avail_view
        next_avail = self._next_avail
        if next_avail == self._avail_idx:
            # Caught up with the last read of avail->idx: read it again
            # (once per batch of chains, not once per chain).
            if avail is not None:
                avail_idx = avail[1]
            else:
                avail_idx = self._memory_load(memory, _AVAIL, self._avail_ring + 2)
            if avail_idx == next_avail:
                return None
            if (avail_idx - next_avail) & 0xFFFF > self._size:
                raise InvalidAvailIndexError(avail_idx, next_avail, self._size)
            self._avail_idx = avail_idx
            if not STRONGLY_ORDERED:
                full_barrier()  # read barrier: avail->idx before the entries it covers
        if avail is not None:
            head = avail[2 + (next_avail & self._mask)]
        else:
            entry = RING_HEADER + 2 * (next_avail & self._mask)
            head = self._memory_load(memory, _AVAIL, self._avail_ring + entry)
        self._next_avail = (next_avail + 1) & 0xFFFF
        if head >= self._size:
            raise InvalidHeadIndexError(head, self._size)
        chain: DescriptorChain = PoppedChain()
        chain._source = views
        chain._head = head
        chain._descriptors = chain._error = None
        chain._parse_fast()  # a malformed or indirect chain is parsed at first use
        return chain

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
        if memory is not self._attached:
            self._attach(memory)
        if not 0 <= head_index < self._size:
            raise InvalidUsedElementError(head_index, length, f"queue size is {self._size}")
        if not 0 <= length <= 0xFFFF_FFFF:
            raise InvalidUsedElementError(head_index, length, "length is not a u32")
        elements = self._used_elements
        next_used = self._next_used
        slot = next_used & self._mask
        next_used = (next_used + 1) & 0xFFFF
        if elements is not None:
            elements[2 * slot] = head_index
            elements[2 * slot + 1] = length
            if not STRONGLY_ORDERED:
                full_barrier()  # write barrier: the element before the index
            self._used_view[1] = next_used  # type: ignore[index]  # set with the elements
        else:
            used_ring = self._used_ring
            element = used_ring + RING_HEADER + 8 * slot
            try:
                memory.write_u64(element, head_index | length << 32)
                if not STRONGLY_ORDERED:
                    full_barrier()
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
        if memory is not self._attached:
            self._attach(memory)
        if not self._event_idx:
            self._used_store(memory, 0, USED_F_NO_NOTIFY)  # flags

    def enable_notification(self, memory: GuestMemory) -> bool:
        """Ask the driver to notify the device for new buffers. True when
        buffers arrived meanwhile: process them, or a notification may be lost."""
        if memory is not self._attached:
            self._attach(memory)
        if self._event_idx:
            self._used_store(memory, 2 + 4 * self._size, self._next_avail)  # avail_event
        else:
            self._used_store(memory, 0, 0)  # flags
        full_barrier()  # the store above before the load of avail->idx
        return self._avail_load(memory, 1) != self._next_avail

    def needs_notification(self, memory: GuestMemory) -> bool:
        """Whether the driver wants an interrupt for the used entries added since
        the last call: EVENT_IDX's ``used_event`` test (2.7.10), else the
        absence of ``VIRTQ_AVAIL_F_NO_INTERRUPT``."""
        if memory is not self._attached:
            self._attach(memory)
        full_barrier()  # used->idx stored before used_event/flags are loaded
        added = self._num_added
        self._num_added = 0
        if not self._event_idx:
            flags = self._avail_load(memory, 0)  # flags
            return not flags & AVAIL_F_NO_INTERRUPT
        if added >= 0x10000:  # every used_event value was passed
            return True
        used_event = self._avail_load(memory, 2 + self._size)
        new = self._next_used
        # vring_need_event(used_event, new, old): did used->idx move past
        # used_event in this batch, 16-bit wrap-around included?
        return (new - used_event - 1) & 0xFFFF < added

    # Ring access ----------------------------------------------------------------------

    def _avail_load(self, memory: GuestMemory, index: int) -> int:
        """The ``index``-th u16 of the available ring (the queue is attached)."""
        view = self._avail_view
        if view is not None:
            value: int = view[index]
            return value
        return self._memory_load(memory, _AVAIL, self._avail_ring + 2 * index)

    def _used_store(self, memory: GuestMemory, index: int, value: int) -> None:
        """Store ``value`` as the ``index``-th u16 of the used ring (the queue is attached)."""
        view = self._used_view
        if view is not None:
            view[index] = value
        else:
            self._memory_store(memory, _USED, self._used_ring + 2 * index, value)

    @staticmethod
    def _memory_load(memory: GuestMemory, area: str, addr: int) -> int:
        try:
            return memory.read_u16(addr)
        except GuestMemoryError as error:
            raise QueueMemoryError(area, addr, 2) from error

    @staticmethod
    def _memory_store(memory: GuestMemory, area: str, addr: int, value: int) -> None:
        try:
            memory.write_u16(addr, value)
        except GuestMemoryError as error:
            raise QueueMemoryError(area, addr, 2) from error
