"""Guest-physical address allocation for BARs: a 32-bit and a 64-bit MMIO window.

A BAR must be naturally aligned (its base a multiple of its power-of-two
size), so each window hands out the lowest free aligned range: first fit over
a sorted list of allocations, as rust-vmm's ``vm-allocator`` does. Running
out of room is an :class:`AddressSpaceExhaustedError` carrying the request and
the window, never a partial allocation.
"""

from __future__ import annotations

import threading
from bisect import insort

from vm_devices.errors import DeviceConfigError
from vm_devices.pci.config import BarKind
from vm_devices.pci.errors import AddressSpaceExhaustedError

__all__ = ["AddressAllocator", "BarAllocator"]


class AddressAllocator:
    """Aligned ranges out of ``[base, base + length)``; thread-safe."""

    __slots__ = ("_base", "_length", "_lock", "_used")

    def __init__(self, base: int, length: int) -> None:
        if base < 0 or length <= 0 or base + length > 1 << 64:
            raise DeviceConfigError(
                "AddressAllocator", "window", (base, length), "is not a non-empty 64-bit range"
            )
        self._base = base
        self._length = length
        self._used: list[tuple[int, int]] = []  # sorted (start, end)
        self._lock = threading.Lock()

    @property
    def base(self) -> int:
        return self._base

    @property
    def length(self) -> int:
        return self._length

    def allocate(self, size: int, alignment: int | None = None) -> int:
        """The lowest free base aligned to ``alignment`` (default: ``size``) with
        ``size`` bytes free after it."""
        alignment = size if alignment is None else alignment
        if size <= 0 or alignment <= 0 or alignment & (alignment - 1):
            raise DeviceConfigError(
                "AddressAllocator", "request", (size, alignment), "needs size > 0, power-of-2 align"
            )
        end_of_window = self._base + self._length
        with self._lock:
            candidate = self._align(self._base, alignment)
            for start, end in self._used:
                if candidate + size <= start:
                    break
                candidate = max(candidate, self._align(end, alignment))
            if candidate + size > end_of_window:
                raise AddressSpaceExhaustedError(size, alignment, self._base, self._length)
            insort(self._used, (candidate, candidate + size))
            return candidate

    def free(self, base: int) -> bool:
        """Release the range that starts at ``base``; False if none does."""
        with self._lock:
            for position, (start, _end) in enumerate(self._used):
                if start == base:
                    del self._used[position]
                    return True
        return False

    @staticmethod
    def _align(value: int, alignment: int) -> int:
        return (value + alignment - 1) & -alignment


class BarAllocator:
    """Where BARs go: 32-bit BARs in ``mmio32``; 64-bit BARs in ``mmio64`` when
    there is one and it has room, else in ``mmio32`` (a 64-bit BAR may sit below
    4 GiB)."""

    __slots__ = ("mmio32", "mmio64")

    def __init__(self, mmio32: AddressAllocator, mmio64: AddressAllocator | None = None) -> None:
        if mmio32.base + mmio32.length > 1 << 32:
            raise DeviceConfigError(
                "BarAllocator", "mmio32", (mmio32.base, mmio32.length), "ends above 4 GiB"
            )
        self.mmio32 = mmio32
        self.mmio64 = mmio64

    def allocate(self, size: int, kind: BarKind) -> int:
        """A size-aligned base for a BAR of ``size`` bytes."""
        if kind is BarKind.MEMORY64 and self.mmio64 is not None:
            try:
                return self.mmio64.allocate(size)
            except AddressSpaceExhaustedError:
                pass
        return self.mmio32.allocate(size)

    def free(self, base: int) -> None:
        """Release the BAR range at ``base``, whichever window holds it."""
        if not self.mmio32.free(base) and self.mmio64 is not None:
            self.mmio64.free(base)
