"""The guest-physical memory map and the e820 table derived from it."""

from __future__ import annotations

from linux_loader import E820Type
from vmm.arch import layout
from vmm.arch.layout import (
    EBDA,
    LOW_RESERVED_END,
    MEM_32BIT_HOLE_START,
    RAM_64BIT_START,
    GiB,
    MiB,
    e820_map,
    ram_ranges,
)


def test_small_memory_is_one_range_from_zero() -> None:
    assert ram_ranges(512 * MiB) == [(0, 512 * MiB)]


def test_memory_beyond_the_hole_continues_at_4_gib() -> None:
    assert ram_ranges(5 * GiB) == [(0, MEM_32BIT_HOLE_START), (RAM_64BIT_START, 2 * GiB)]


def test_e820_reserves_the_ebda_and_bios_area_and_lists_all_ram() -> None:
    entries = e820_map(5 * GiB)
    ram = [(e.addr, e.size) for e in entries if e.type == E820Type.RAM]
    assert ram == [
        (0, EBDA),
        (LOW_RESERVED_END, MEM_32BIT_HOLE_START - LOW_RESERVED_END),
        (RAM_64BIT_START, 2 * GiB),
    ]
    reserved = [(e.addr, e.size) for e in entries if e.type == E820Type.RESERVED]
    assert (EBDA, LOW_RESERVED_END - EBDA) in reserved
    assert sum(size for _, size in ram) == 5 * GiB - (LOW_RESERVED_END - EBDA)


def test_the_64_bit_pci_window_starts_above_ram_and_ends_at_the_address_width() -> None:
    assert layout.mmio64_window(128 << 20, 46) == (4 << 30, (1 << 46) - 1)
    # 5 GiB: 3 GiB below the hole, 2 GiB from 4 GiB; the window starts at 6 GiB.
    assert layout.mmio64_window(5 << 30, 40) == (6 << 30, (1 << 40) - 1)
    # RAM ending off a GiB boundary: the window starts at the next one.
    assert layout.mmio64_window((3 << 30) + (1 << 20), 46)[0] == 5 << 30


def test_the_acpi_tables_and_smbios_sit_in_the_reserved_bios_area() -> None:
    reserved = [e for e in layout.e820_map(128 << 20) if e.type is E820Type.RESERVED]
    assert any(
        e.addr <= layout.RSDP_ADDRESS and e.addr + e.size >= layout.ACPI_TABLES_END + 0x10000
        for e in reserved
    )
