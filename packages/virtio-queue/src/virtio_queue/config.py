"""What the transport configures in a split virtqueue, and where the device is.

:class:`QueueConfig` holds the settings the driver writes through the
transport (size, ring addresses, ready, EVENT_IDX as negotiated), checks each
as it arrives, checks the whole (:meth:`QueueConfig.check`), and saves and
restores it with the device's position (``next_avail``, ``next_used``) as a
:class:`~virtio_queue.state.QueueState`. :class:`~virtio_queue.queue.Queue`
adds the ring operations on top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtio_queue.defs import (
    AVAIL_ALIGN,
    DESC_TABLE_ALIGN,
    MAX_QUEUE_SIZE,
    USED_ALIGN,
    avail_ring_size,
    desc_table_size,
    used_ring_size,
)
from virtio_queue.errors import (
    InvalidQueueConfigError,
    QueueMemoryError,
    QueueNotReadyError,
    VirtioQueueError,
)
from virtio_queue.state import QueueState, check_address, check_size, check_u16, merge_halves

if TYPE_CHECKING:
    from typing import Self

    from vm_memory import GuestMemory

__all__ = ["QueueConfig"]


class QueueConfig:
    """A split virtqueue's configuration and position. ``max_size`` is what
    the device offers; the driver may lower ``size`` to any smaller power of
    two. Every change of size, a ring address or ``ready`` (and
    :meth:`reset`) calls :meth:`_reconfigured`."""

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
        self._reconfigured()
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
        self._reconfigured()
        self._size = size
        self._mask = size - 1
        self._avail_idx = self._next_avail

    @property
    def ready(self) -> bool:
        return self._ready

    @ready.setter
    def ready(self, ready: bool) -> None:
        self._reconfigured()
        self._ready = bool(ready)
        self._avail_idx = self._next_avail

    @property
    def desc_table(self) -> int:
        """Guest address of the descriptor table."""
        return self._desc_table

    @desc_table.setter
    def desc_table(self, addr: int) -> None:
        self._desc_table = check_address("descriptor table address", addr)
        self._reconfigured()

    @property
    def avail_ring(self) -> int:
        """Guest address of the available (driver) ring."""
        return self._avail_ring

    @avail_ring.setter
    def avail_ring(self, addr: int) -> None:
        self._avail_ring = check_address("available ring address", addr)
        self._reconfigured()
        self._avail_idx = self._next_avail

    @property
    def used_ring(self) -> int:
        """Guest address of the used (device) ring."""
        return self._used_ring

    @used_ring.setter
    def used_ring(self, addr: int) -> None:
        self._used_ring = check_address("used ring address", addr)
        self._reconfigured()

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
            ("available ring", self._avail_ring, AVAIL_ALIGN, avail_ring_size(size)),
            ("used ring", self._used_ring, USED_ALIGN, used_ring_size(size)),
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

    def _reconfigured(self) -> None:
        """A setting the rings' location depends on changed (a hook)."""

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
    def from_state(cls, state: QueueState) -> Self:
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
            f"{type(self).__name__}(size={self._size}/{self._max_size}, ready={self._ready}, "
            f"desc={self._desc_table:#x}, avail={self._avail_ring:#x}, "
            f"used={self._used_ring:#x}, next_avail={self._next_avail}, "
            f"next_used={self._next_used})"
        )
