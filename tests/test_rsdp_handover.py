"""The RSDP's address reaches both kinds of kernel: PVH start info and the bzImage zero page."""

from __future__ import annotations

import struct

from harness import Guest
from vm_memory import GuestMemoryMmap
from vmm.arch import layout
from vmm.payload import EntryKind, Payload, load_payload

MEMORY = 128 << 20


def _load(kernel: str) -> tuple[EntryKind, GuestMemoryMmap]:
    memory = GuestMemoryMmap.from_ranges(layout.ram_ranges(MEMORY))
    entry = load_payload(memory, Payload(kernel), MEMORY, rsdp_address=layout.RSDP_ADDRESS)
    return entry.kind, memory


def test_the_bzimage_zero_page_and_the_pvh_start_info_carry_the_rsdp(guest: Guest) -> None:
    kind, memory = _load(str(guest.bzimage))
    with memory:
        assert kind is EntryKind.LINUX_64
        (acpi_rsdp_addr,) = struct.unpack("<Q", memory.read(layout.ZERO_PAGE + 0x70, 8))
    assert acpi_rsdp_addr == layout.RSDP_ADDRESS
    kind, memory = _load(str(guest.vmlinux))
    with memory:
        assert kind is EntryKind.PVH
        (rsdp_paddr,) = struct.unpack("<Q", memory.read(layout.PVH_START_INFO + 32, 8))
    assert rsdp_paddr == layout.RSDP_ADDRESS
