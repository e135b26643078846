"""Errors of the vm-devices package.

Each error carries the offending values as attributes (the :class:`BusRange`
being inserted, the range it collides with, the bus's address limit...) so the
VMM can report or handle them without parsing messages. All derive from
:class:`VmDevicesError`; those that are plainly bad values also derive from
the matching built-in (``ValueError``, ``OverflowError``, ``LookupError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vm_devices.bus import BusRange

__all__ = [
    "BusAddressOverflowError",
    "BusError",
    "BusNotFoundError",
    "BusOverlapError",
    "BusZeroLengthError",
    "DeviceConfigError",
    "VmDevicesError",
]


class VmDevicesError(Exception):
    """Base class of every error raised by vm-devices."""


class BusError(VmDevicesError):
    """A bus refused to change its device map."""


class BusOverlapError(BusError, ValueError):
    """A device range shares addresses with a range already on the bus.

    ``range`` is the range being inserted, ``other`` the one it collides with.
    """

    def __init__(self, new: BusRange, other: BusRange) -> None:
        self.range = new
        self.other = other
        super().__init__(f"bus range {new} overlaps {other}")


class BusZeroLengthError(BusError, ValueError):
    """A device range of length zero (or less), which could never be addressed."""

    def __init__(self, new: BusRange) -> None:
        self.range = new
        super().__init__(f"bus range at {new.base:#x} has length {new.length}, not > 0")


class BusAddressOverflowError(BusError, OverflowError):
    """A device range that does not fit in the bus's address space ``[0, limit)``."""

    def __init__(self, new: BusRange, limit: int) -> None:
        self.range = new
        self.limit = limit
        super().__init__(f"bus range {new} is outside the bus's address space [0, {limit:#x})")


class BusNotFoundError(BusError, LookupError):
    """No device range starts at ``base``; ``ranges`` lists the ranges that do exist."""

    def __init__(self, base: int, ranges: tuple[BusRange, ...]) -> None:
        self.base = base
        self.ranges = ranges
        super().__init__(f"no device range starts at {base:#x}")


class DeviceConfigError(VmDevicesError, ValueError):
    """A device constructor argument that the device cannot work with."""

    def __init__(self, device: str, name: str, value: object, reason: str) -> None:
        self.device = device
        self.name = name
        self.value = value
        self.reason = reason
        super().__init__(f"{device}: {name}={value!r} {reason}")
