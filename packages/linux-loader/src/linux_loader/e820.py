"""The guest's memory map, as the kernel reads it from the zero page or PVH start info."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from linux_loader.errors import BootParamsError

__all__ = ["E820Entry", "E820Type", "check_memory_map"]

_U64_LIMIT = 1 << 64


class E820Type(enum.IntEnum):
    """Kinds of address ranges in an E820 map (ACPI's address range types)."""

    RAM = 1
    RESERVED = 2
    ACPI = 3
    NVS = 4
    UNUSABLE = 5
    PMEM = 7


@dataclass(frozen=True)
class E820Entry:
    """One range ``[addr, addr + size)`` of the memory map and its type."""

    addr: int
    size: int
    type: E820Type = E820Type.RAM

    @property
    def end(self) -> int:
        return self.addr + self.size


def check_memory_map(entries: Sequence[E820Entry], *, limit: int, field: str) -> None:
    """Raise :class:`BootParamsError` for an entry the kernel could misread, or
    for more than ``limit`` entries."""
    if len(entries) > limit:
        raise BootParamsError(field, len(entries), f"at most {limit} entries fit")
    for index, entry in enumerate(entries):
        name = f"{field}[{index}]"
        if not 0 <= entry.addr < _U64_LIMIT:
            raise BootParamsError(f"{name}.addr", entry.addr, "is not a 64-bit address")
        if not 0 < entry.size <= _U64_LIMIT - entry.addr:
            raise BootParamsError(f"{name}.size", entry.size, "must be > 0 and end below 2**64")
        if not 0 <= int(entry.type) < 1 << 32:
            raise BootParamsError(f"{name}.type", int(entry.type), "is not a u32")
