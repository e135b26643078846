"""Checks on the guest ranges that boot data is written to, done before writing."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from linux_loader.errors import BootParamsError

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["check_disjoint", "check_in_memory"]

_ADDRESS_LIMIT = 1 << 64


def check_in_memory(memory: GuestMemory, field: str, addr: int, size: int) -> None:
    """Raise :class:`BootParamsError` unless ``[addr, addr + size)`` is guest memory."""
    if not 0 <= addr < _ADDRESS_LIMIT or addr + size > _ADDRESS_LIMIT:
        raise BootParamsError(field, addr, "is not a 64-bit guest address")
    if not memory.check_range(addr, size):
        raise BootParamsError(field, addr, f"[{addr:#x}, +{size:#x}) is not inside guest memory")


def check_disjoint(ranges: Sequence[tuple[str, int, int]]) -> None:
    """Raise :class:`BootParamsError` if two of the named ``(field, addr, size)``
    ranges share a byte (empty ranges share nothing)."""
    ordered = sorted((item for item in ranges if item[2] > 0), key=lambda item: item[1])
    for (low_field, low_addr, low_size), (field, addr, size) in pairwise(ordered):
        if addr < low_addr + low_size:
            raise BootParamsError(
                field, addr, f"[{addr:#x}, +{size:#x}) overlaps {low_field} at {low_addr:#x}"
            )
