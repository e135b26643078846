"""The device-side state of a queue, as plain data (snapshot, migration), and
the range checks every field of it passes on its way into a queue."""

from __future__ import annotations

from dataclasses import dataclass

from virtio_queue.errors import InvalidQueueConfigError

__all__ = ["QueueState", "check_address", "check_size", "check_u16", "merge_halves"]

_ADDRESS_LIMIT = 1 << 64


@dataclass(frozen=True, slots=True)
class QueueState:
    """Everything needed to recreate a :class:`~virtio_queue.queue.Queue`.

    The rings themselves live in guest memory and travel with it; this is the
    device's side: configuration plus where the device stopped
    (``next_avail``: the next available entry to pop, ``next_used``: the next
    used entry to fill). ``Queue.from_state`` checks every field.
    """

    max_size: int
    size: int
    ready: bool
    desc_table: int
    avail_ring: int
    used_ring: int
    next_avail: int
    next_used: int
    event_idx_enabled: bool


def check_size(field: str, size: int, limit: int) -> None:
    """A queue size is a power of two no larger than ``limit``."""
    if not isinstance(size, int) or isinstance(size, bool):
        raise InvalidQueueConfigError(field, size, "is not an integer")
    if size <= 0 or size & (size - 1):
        raise InvalidQueueConfigError(field, size, "is not a power of two")
    if size > limit:
        raise InvalidQueueConfigError(field, size, f"is larger than {limit}")


def check_address(field: str, addr: int) -> int:
    """A guest address fits in 64 bits."""
    if not isinstance(addr, int) or isinstance(addr, bool) or not 0 <= addr < _ADDRESS_LIMIT:
        raise InvalidQueueConfigError(field, addr, "is not a 64-bit guest address")
    return addr


def check_u16(field: str, value: int) -> int:
    """A ring index is 16 bits."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFF:
        raise InvalidQueueConfigError(field, value, "is not a 16-bit index")
    return value


def merge_halves(current: int, low: int | None, high: int | None) -> int:
    """``current`` with its low and/or high 32 bits replaced."""
    for name, half in (("low", low), ("high", high)):
        if half is not None and not 0 <= half <= 0xFFFF_FFFF:
            raise InvalidQueueConfigError(f"address {name} half", half, "is not 32 bits")
    if low is not None:
        current = (current & ~0xFFFF_FFFF) | low
    if high is not None:
        current = (current & 0xFFFF_FFFF) | high << 32
    return current
