"""PVH boot: ``struct hvm_start_info`` and the tables it points to (Xen's
``arch-x86/hvm/start_info.h``).

The kernel starts at its PVH entry in 32-bit protected mode with EBX holding
the guest-physical address of the start info. A non-Xen guest learns its
memory map only from here, so version 1 with a memory map is required.
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, SupportsIndex

from linux_loader.e820 import E820Entry, check_memory_map
from linux_loader.errors import BootParamsError
from linux_loader.ranges import check_disjoint, check_in_memory

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = [
    "HVM_START_INFO_MAGIC",
    "HVM_START_INFO_VERSION",
    "PVH_MAX_MEMMAP_ENTRIES",
    "HvmMemmapTableEntry",
    "HvmModlistEntry",
    "HvmStartInfo",
    "write_pvh_start_info",
]

HVM_START_INFO_MAGIC: Final = 0x336EC578
HVM_START_INFO_VERSION: Final = 1
PVH_MAX_MEMMAP_ENTRIES: Final = 128
"""The kernel copies the PVH memory map into a 128-entry E820 table."""

_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64


class HvmStartInfo(ctypes.LittleEndianStructure):
    """``struct hvm_start_info``: 56 bytes."""

    _fields_ = [
        ("magic", _u32),
        ("version", _u32),
        ("flags", _u32),
        ("nr_modules", _u32),
        ("modlist_paddr", _u64),
        ("cmdline_paddr", _u64),
        ("rsdp_paddr", _u64),
        ("memmap_paddr", _u64),
        ("memmap_entries", _u32),
        ("reserved", _u32),
    ]


class HvmMemmapTableEntry(ctypes.LittleEndianStructure):
    """``struct hvm_memmap_table_entry``: one E820 range, 24 bytes."""

    _fields_ = [("addr", _u64), ("size", _u64), ("type", _u32), ("reserved", _u32)]


class HvmModlistEntry(ctypes.LittleEndianStructure):
    """``struct hvm_modlist_entry``: one module (module 0 is the initrd), 32 bytes."""

    _fields_ = [
        ("paddr", _u64),
        ("size", _u64),
        ("cmdline_paddr", _u64),
        ("reserved", _u64),
    ]


def write_pvh_start_info(
    memory: GuestMemory,
    start_info_addr: SupportsIndex,
    *,
    cmdline_addr: SupportsIndex,
    memmap: Sequence[E820Entry],
    memmap_addr: SupportsIndex,
    modules: Sequence[tuple[int, int]] = (),
    modlist_addr: SupportsIndex = 0,
    rsdp_addr: SupportsIndex = 0,
) -> None:
    """Write the start info, its memory map and its module list.

    ``modules`` are ``(address, size)`` pairs already in guest memory, the
    initramfs first. The three tables must be guest memory and must not
    overlap; every check runs before anything is written.
    """
    info_addr = operator.index(start_info_addr)
    cmdline = operator.index(cmdline_addr)
    table_addr = operator.index(memmap_addr)
    list_addr = operator.index(modlist_addr)
    rsdp = operator.index(rsdp_addr)
    if not memmap:
        raise BootParamsError("memmap", 0, "the kernel needs a memory map (it BUG()s without)")
    check_memory_map(memmap, limit=PVH_MAX_MEMMAP_ENTRIES, field="memmap")
    table_size = len(memmap) * ctypes.sizeof(HvmMemmapTableEntry)
    list_size = len(modules) * ctypes.sizeof(HvmModlistEntry)
    check_in_memory(memory, "start_info_addr", info_addr, ctypes.sizeof(HvmStartInfo))
    check_in_memory(memory, "memmap_addr", table_addr, table_size)
    if modules:
        check_in_memory(memory, "modlist_addr", list_addr, list_size)
    for index, (addr, size) in enumerate(modules):
        if size <= 0:
            raise BootParamsError(f"modules[{index}] size", size, "must be positive")
        check_in_memory(memory, f"modules[{index}] address", addr, size)
    if cmdline:
        check_in_memory(memory, "cmdline_addr", cmdline, 1)
    if rsdp:
        check_in_memory(memory, "rsdp_addr", rsdp, 36)
    check_disjoint(
        [
            ("start_info_addr", info_addr, ctypes.sizeof(HvmStartInfo)),
            ("memmap_addr", table_addr, table_size),
            ("modlist_addr", list_addr, list_size),
        ]
    )

    table = (HvmMemmapTableEntry * len(memmap))()
    for slot, entry in zip(table, memmap, strict=True):
        slot.addr, slot.size, slot.type = entry.addr, entry.size, int(entry.type)
    module_list = (HvmModlistEntry * len(modules))()
    for slot, (addr, size) in zip(module_list, modules, strict=True):
        slot.paddr, slot.size = addr, size
    info = HvmStartInfo(
        magic=HVM_START_INFO_MAGIC,
        version=HVM_START_INFO_VERSION,
        nr_modules=len(modules),
        modlist_paddr=list_addr if modules else 0,
        cmdline_paddr=cmdline,
        rsdp_paddr=rsdp,
        memmap_paddr=table_addr,
        memmap_entries=len(memmap),
    )
    memory.write_obj(table_addr, table)
    if modules:
        memory.write_obj(list_addr, module_list)
    memory.write_obj(info_addr, info)
