"""Errors of the vm-memory package.

Every error carries the offending values as attributes so callers (a virtio
device rejecting a descriptor, the VMM rejecting a memory configuration) can
report or handle them without parsing messages. All derive from
:class:`VmMemoryError`; the ones that are plainly bad values also derive from
the matching built-in (``ValueError``, ``OverflowError``, ``OSError``).
"""

from __future__ import annotations

__all__ = [
    "AlignmentError",
    "DirtyBitmapError",
    "GuestAddressOverflow",
    "GuestMemoryError",
    "HugePagesUnavailableError",
    "InvalidRegionError",
    "NoRegionsError",
    "RegionInUseError",
    "RegionMappingError",
    "RegionNotFoundError",
    "RegionOverlapError",
    "VmMemoryError",
]


class VmMemoryError(Exception):
    """Base class of every error raised by vm-memory."""


class GuestAddressOverflow(VmMemoryError, OverflowError):  # noqa: N818 (rust-vmm name)
    """An address computation left the 64-bit guest physical address space.

    ``value`` is the exact (out of range) result, ``operation`` says how it was
    reached, e.g. ``"0xfffffffffffff000 + 0x2000"``.
    """

    def __init__(self, value: int, operation: str) -> None:
        self.value = value
        self.operation = operation
        super().__init__(f"guest address {operation} = {value:#x} is outside [0, 2**64)")


class AlignmentError(VmMemoryError, ValueError):
    """An alignment that is not a positive power of two."""

    def __init__(self, alignment: int) -> None:
        self.alignment = alignment
        super().__init__(f"alignment {alignment:#x} is not a positive power of two")


class GuestMemoryError(VmMemoryError):
    """An access to ``[addr, addr + length)`` that guest memory cannot satisfy.

    Raised before anything is read or written: a failing access has no effect.
    """

    def __init__(self, addr: int, length: int, reason: str = "is outside guest memory") -> None:
        self.addr = addr
        self.length = length
        self.reason = reason
        super().__init__(f"guest memory access [{addr:#x}, +{length:#x}) {reason}")


class InvalidRegionError(VmMemoryError, ValueError):
    """A memory region that cannot be created or used as described."""

    def __init__(self, start: int, size: int, reason: str) -> None:
        self.start = start
        self.size = size
        self.reason = reason
        super().__init__(f"invalid guest memory region [{start:#x}, +{size:#x}): {reason}")


class RegionOverlapError(InvalidRegionError):
    """Two regions of one memory map share guest addresses.

    ``start``/``size`` name the region being added, ``other_start``/``other_size``
    the one it collides with.
    """

    def __init__(self, start: int, size: int, other_start: int, other_size: int) -> None:
        self.other_start = other_start
        self.other_size = other_size
        super().__init__(start, size, f"overlaps [{other_start:#x}, +{other_size:#x})")


class NoRegionsError(VmMemoryError, ValueError):
    """A memory map needs at least one region."""

    def __init__(self) -> None:
        super().__init__("guest memory needs at least one region")


class RegionNotFoundError(VmMemoryError, LookupError):
    """No region of the memory map has exactly this start and size."""

    def __init__(self, start: int, size: int) -> None:
        self.start = start
        self.size = size
        super().__init__(f"no guest memory region [{start:#x}, +{size:#x})")


class RegionMappingError(VmMemoryError, OSError):
    """The host refused to create the mapping behind a region (mmap, memfd, file).

    It is an ``OSError`` whose ``errno`` is the host's; ``start``/``size`` name
    the region.
    """

    def __init__(self, start: int, size: int, errno: int, reason: str) -> None:
        super().__init__(errno, f"cannot map guest memory [{start:#x}, +{size:#x}): {reason}")
        self.start = start
        self.size = size
        self.reason = reason


class HugePagesUnavailableError(RegionMappingError):
    """Huge pages were requested but the host has too few free ones reserved."""


class RegionInUseError(VmMemoryError):
    """A region cannot be closed while views of its memory are still alive."""

    def __init__(self, start: int, size: int) -> None:
        self.start = start
        self.size = size
        super().__init__(
            f"guest memory region [{start:#x}, +{size:#x}) is still exported "
            "(release the memoryviews and ctypes objects taken from it first)"
        )


class DirtyBitmapError(VmMemoryError, ValueError):
    """A dirty bitmap that does not fit the memory it describes."""

    def __init__(self, start: int, size: int, reason: str) -> None:
        self.start = start
        self.size = size
        self.reason = reason
        super().__init__(f"dirty bitmap of [{start:#x}, +{size:#x}): {reason}")
