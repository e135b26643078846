"""Errors of the PCI model: each carries the offending values as attributes."""

from __future__ import annotations

from vm_devices.errors import VmDevicesError

__all__ = [
    "AddressSpaceExhaustedError",
    "CapabilitySpaceFullError",
    "InvalidBarError",
    "PciError",
    "PciSlotError",
]


class PciError(VmDevicesError):
    """Base class of the PCI errors."""


class InvalidBarError(PciError, ValueError):
    """A BAR the configuration space cannot hold: bad index, size, address or a taken slot."""

    def __init__(self, index: int, name: str, value: int, reason: str) -> None:
        self.index = index
        self.name = name
        self.value = value
        self.reason = reason
        super().__init__(f"BAR {index}: {name}={value:#x} {reason}")


class CapabilitySpaceFullError(PciError, OverflowError):
    """A capability of ``length`` bytes does not fit below 0x100 after ``offset``."""

    def __init__(self, offset: int, length: int) -> None:
        self.offset = offset
        self.length = length
        super().__init__(
            f"a {length}-byte capability at {offset:#x} runs past the 256-byte config space"
        )


class PciSlotError(PciError, LookupError):
    """No device can be put at (or found at) ``slot`` of the bus."""

    def __init__(self, slot: int | None, reason: str) -> None:
        self.slot = slot
        self.reason = reason
        where = "any slot" if slot is None else f"slot {slot}"
        super().__init__(f"PCI {where}: {reason}")


class AddressSpaceExhaustedError(PciError):
    """No aligned free range of ``size`` bytes in the window ``[base, base + length)``."""

    def __init__(self, size: int, alignment: int, base: int, length: int) -> None:
        self.size = size
        self.alignment = alignment
        self.base = base
        self.length = length
        super().__init__(
            f"no free {size:#x}-byte range aligned to {alignment:#x} in "
            f"[{base:#x}, {base + length:#x})"
        )
