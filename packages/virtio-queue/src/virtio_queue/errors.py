"""Errors of the virtio-queue package: data about what the driver (or the
device code) got wrong.

Everything derives from :class:`VirtioQueueError`. A malformed descriptor
chain raises a subclass of :class:`InvalidChainError`, which always carries
``head``: the device returns that chain with ``add_used(head, 0)`` (or marks
the request failed) and carries on with the next one. The errors that make
the whole queue unusable (:class:`InvalidAvailIndexError`,
:class:`QueueMemoryError`) mean the device should ask for a reset
(``DEVICE_NEEDS_RESET``). Guest memory errors never escape: they come out as
one of these, with the :class:`vm_memory.GuestMemoryError` as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "ChainLengthOverflowError",
    "ChainLoopError",
    "ChainTooShortError",
    "DescriptorIndexError",
    "DescriptorMemoryError",
    "DescriptorOrderError",
    "IndirectDescriptorError",
    "InvalidAvailIndexError",
    "InvalidChainError",
    "InvalidHeadIndexError",
    "InvalidQueueConfigError",
    "InvalidUsedElementError",
    "QueueMemoryError",
    "QueueNotReadyError",
    "UnexpectedEofError",
    "VirtioQueueError",
]


class VirtioQueueError(Exception):
    """Base class of every error raised by virtio-queue."""


# Queue configuration and state --------------------------------------------------


class InvalidQueueConfigError(VirtioQueueError, ValueError):
    """A queue setting (size, ring address, saved state) that the spec forbids.

    ``field`` names the setting, ``value`` is the rejected value.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = f"{value:#x}" if isinstance(value, int) and not isinstance(value, bool) else value
        super().__init__(f"invalid queue {field} {shown}: {reason}")


class QueueNotReadyError(VirtioQueueError):
    """The driver has not set the queue ready (or reset it)."""

    def __init__(self) -> None:
        super().__init__("the queue is not ready")


class QueueMemoryError(VirtioQueueError):
    """A ring area (``"descriptor table"``, ``"available ring"``, ``"used
    ring"``) at ``[addr, addr + length)`` is not guest memory."""

    def __init__(self, area: str, addr: int, length: int) -> None:
        self.area = area
        self.addr = addr
        self.length = length
        super().__init__(f"{area} access [{addr:#x}, +{length:#x}) is outside guest memory")


class InvalidAvailIndexError(VirtioQueueError):
    """The driver's ``avail->idx`` claims more new entries than the queue holds.

    ``pending = (avail_idx - next_avail) mod 2**16`` exceeds ``size``: the ring
    is corrupt (or the index went backwards). Nothing is consumed; the queue is
    broken until the driver resets it.
    """

    def __init__(self, avail_idx: int, next_avail: int, size: int) -> None:
        self.avail_idx = avail_idx
        self.next_avail = next_avail
        self.size = size
        pending = (avail_idx - next_avail) & 0xFFFF
        super().__init__(
            f"available index {avail_idx} is {pending} entries past {next_avail}, "
            f"more than the queue size {size}"
        )


class InvalidHeadIndexError(VirtioQueueError):
    """The available ring named a chain head that is not a descriptor index.

    The entry is consumed (``next_avail`` moved past it) so the device can go on
    popping; there is no chain to return to the driver.
    """

    def __init__(self, head: int, size: int) -> None:
        self.head = head
        self.size = size
        super().__init__(f"available ring names head {head}, queue size is {size}")


class InvalidUsedElementError(VirtioQueueError, ValueError):
    """Device code passed ``add_used`` a head or length the used ring cannot hold."""

    def __init__(self, head: int, length: int, reason: str) -> None:
        self.head = head
        self.length = length
        self.reason = reason
        super().__init__(f"cannot add used element (head {head}, length {length}): {reason}")


# Descriptor chains --------------------------------------------------------------


class InvalidChainError(VirtioQueueError):
    """A malformed descriptor chain; ``head`` is its head index, ``reason`` says
    what is wrong. Return it to the driver with ``add_used(head, 0)``."""

    def __init__(self, head: int, reason: str) -> None:
        self.head = head
        self.reason = reason
        super().__init__(f"descriptor chain {head}: {reason}")


class DescriptorIndexError(InvalidChainError):
    """A ``next`` field names index ``index``, but the table (the queue's, or the
    indirect table when ``indirect``) has only ``limit`` entries."""

    def __init__(self, head: int, index: int, limit: int, indirect: bool) -> None:
        self.index = index
        self.limit = limit
        self.indirect = indirect
        table = "indirect table" if indirect else "descriptor table"
        super().__init__(head, f"next index {index} is outside the {table} of {limit} entries")


class ChainLoopError(InvalidChainError):
    """The chain is longer than ``limit`` descriptors, so it loops (or is longer
    than the spec allows: the queue size, or the indirect table's entries)."""

    def __init__(self, head: int, limit: int) -> None:
        self.limit = limit
        super().__init__(head, f"more than {limit} descriptors: the chain loops")


class ChainLengthOverflowError(InvalidChainError):
    """The buffers of the chain add up to ``total`` bytes, more than 2**32 - 1
    (2.7.5.2: a chain is at most 2**32 bytes in total, and used lengths are u32)."""

    def __init__(self, head: int, total: int) -> None:
        self.total = total
        super().__init__(head, f"buffers total {total:#x} bytes, more than a u32 can hold")


class IndirectDescriptorError(InvalidChainError):
    """A descriptor with ``INDIRECT`` set that breaks 2.7.5.3.1: inside an indirect
    table, together with ``NEXT``, or a table length that is zero, not a multiple
    of 16, or more than 2**16 entries."""

    def __init__(self, head: int, index: int, length: int, reason: str) -> None:
        self.index = index
        self.length = length
        super().__init__(head, f"indirect descriptor {index} (length {length:#x}) {reason}")


class DescriptorOrderError(InvalidChainError):
    """A device-readable descriptor after a device-writable one (2.7.4.2: the
    driver MUST place writable descriptors after readable ones)."""

    def __init__(self, head: int, position: int) -> None:
        self.position = position
        super().__init__(
            head, f"descriptor {position} of the chain is readable after a writable one"
        )


class DescriptorMemoryError(InvalidChainError):
    """A buffer (or indirect table) ``[addr, addr + length)`` that is not guest memory."""

    def __init__(self, head: int, addr: int, length: int, what: str = "buffer") -> None:
        self.addr = addr
        self.length = length
        self.what = what
        super().__init__(head, f"{what} [{addr:#x}, +{length:#x}) is outside guest memory")


class ChainTooShortError(InvalidChainError):
    """A request needs ``wanted`` more bytes in one direction (``"readable"`` or
    ``"writable"``) but the chain has only ``available`` left. Nothing moved."""

    def __init__(self, head: int, direction: str, wanted: int, available: int) -> None:
        self.direction = direction
        self.wanted = wanted
        self.available = available
        super().__init__(head, f"needs {wanted} {direction} bytes, has {available}")


class UnexpectedEofError(VirtioQueueError, EOFError):
    """A file or socket ended after ``done`` of the ``wanted`` bytes were moved."""

    def __init__(self, wanted: int, done: int) -> None:
        self.wanted = wanted
        self.done = done
        super().__init__(f"end of file after {done} of {wanted} bytes")
