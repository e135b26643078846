"""The x86-64 guest-physical memory map this VMM gives every guest.

RAM starts at 0 and runs up to the 32-bit device hole at 3 GiB; RAM beyond
that continues at 4 GiB. The first megabyte holds the boot structures, each
at a fixed address so the code that writes them and the e820 map agree.
"""

from __future__ import annotations

from linux_loader import E820Entry, E820Type

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

# Boot structures in low memory (all below the EBDA).
BOOT_GDT = 0x500
BOOT_IDT = 0x520
PVH_START_INFO = 0x6000
PVH_MODLIST = 0x6040
PVH_MEMMAP = 0x6100
PVH_MEMMAP_MAX_ENTRIES = 128
ZERO_PAGE = 0x7000
BOOT_STACK_POINTER = 0x8FF0
PML4 = 0x9000
PDPT = 0xA000
PAGE_DIRECTORIES = 0xB000  # four of them: the first 4 GiB, identity-mapped
CMDLINE = 0x20000
CMDLINE_MAX_SIZE = 0x10000
EBDA = 0x9FC00  # the MP table lives here, where Linux scans for it
RSDP_ADDRESS = 0xE0000  # in the BIOS area Linux scans; the other ACPI tables follow it
ACPI_TABLES_END = 0xF0000  # SMBIOS starts here
LOW_RESERVED_END = 0x100000  # EBDA, VGA and BIOS area: reserved in the e820 map
KERNEL_START = 0x100000

# The 32-bit device hole below 4 GiB.
MEM_32BIT_HOLE_START = 3 * GiB
PCI_MMCONFIG_START = 0xE800_0000
PCI_MMCONFIG_SIZE = 256 * MiB  # reserved in the e820 map: room for 256 buses
PCI_ECAM_SEGMENT_SIZE = 1 * MiB  # what segment 0 decodes: bus 0, as in Cloud Hypervisor
ACPI_GED_ADDRESS = 0xFEB0_0000  # the Generic Event Device's status byte
IOAPIC_START = 0xFEC0_0000
IOAPIC_SIZE = 0x1000
APIC_START = 0xFEE0_0000
RAM_64BIT_START = 4 * GiB


def ram_ranges(memory_size: int) -> list[tuple[int, int]]:
    """Guest RAM as (start, size) ranges: below the 3 GiB hole, then above 4 GiB."""
    low = min(memory_size, MEM_32BIT_HOLE_START)
    ranges = [(0, low)]
    if memory_size > low:
        ranges.append((RAM_64BIT_START, memory_size - low))
    return ranges


def mmio64_window(memory_size: int, phys_bits: int) -> tuple[int, int]:
    """The 64-bit PCI window, first and last address: from the first GiB boundary
    above RAM (and 4 GiB) to the top of the guest's physical address space."""
    last_start, last_size = ram_ranges(memory_size)[-1]
    ram_end = last_start + last_size
    first = max(RAM_64BIT_START, (ram_end + GiB - 1) & ~(GiB - 1))
    return first, (1 << phys_bits) - 1


def e820_map(memory_size: int) -> list[E820Entry]:
    """The memory map the guest kernel receives (PVH memmap or boot_params e820 table)."""
    low_end = min(memory_size, MEM_32BIT_HOLE_START)
    entries = [
        E820Entry(0, EBDA, E820Type.RAM),
        E820Entry(EBDA, LOW_RESERVED_END - EBDA, E820Type.RESERVED),
        E820Entry(LOW_RESERVED_END, low_end - LOW_RESERVED_END, E820Type.RAM),
    ]
    if memory_size > low_end:
        entries.append(E820Entry(RAM_64BIT_START, memory_size - low_end, E820Type.RAM))
    entries.append(E820Entry(PCI_MMCONFIG_START, PCI_MMCONFIG_SIZE, E820Type.RESERVED))
    return entries
