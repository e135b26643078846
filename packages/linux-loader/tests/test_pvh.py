"""PVH start info: hvm_start_info, its memory map and module list, as the kernel's
pvh_start_xen reads them."""

from __future__ import annotations

import ctypes
import struct

import pytest
from linux_loader import (
    BootParamsError,
    E820Entry,
    E820Type,
    HvmMemmapTableEntry,
    HvmModlistEntry,
    HvmStartInfo,
    write_pvh_start_info,
)
from vm_memory import GuestMemoryMmap

START_INFO = 0x6000
MEMMAP = 0x7000
MODLIST = 0x6040
CMDLINE = 0x2_0000
E820 = [E820Entry(0, 0xA_0000), E820Entry(0x10_0000, 0x1000_0000, E820Type.RAM)]


def test_struct_sizes_match_start_info_h() -> None:
    assert ctypes.sizeof(HvmStartInfo) == 56
    assert ctypes.sizeof(HvmMemmapTableEntry) == 24
    assert ctypes.sizeof(HvmModlistEntry) == 32
    assert HvmStartInfo.memmap_paddr.offset == 40
    assert HvmStartInfo.memmap_entries.offset == 48


def write(memory: GuestMemoryMmap, **changes: object) -> None:
    arguments: dict[str, object] = {
        "cmdline_addr": CMDLINE,
        "memmap": E820,
        "memmap_addr": MEMMAP,
        "modules": [(0x800_0000, 0x1234)],
        "modlist_addr": MODLIST,
    }
    arguments.update(changes)
    write_pvh_start_info(memory, START_INFO, **arguments)  # type: ignore[arg-type]


def test_start_info_fields(memory: GuestMemoryMmap) -> None:
    write(memory, rsdp_addr=0xE_0000)
    raw = memory.read(START_INFO, 56)
    assert struct.unpack("<IIIIQQQQII", raw) == (
        0x336EC578, 1, 0, 1, MODLIST, CMDLINE, 0xE_0000, MEMMAP, 2, 0,
    )  # fmt: skip


def test_memory_map_entries(memory: GuestMemoryMmap) -> None:
    write(memory)
    raw = memory.read(MEMMAP, 48)
    assert list(struct.iter_unpack("<QQII", raw)) == [
        (0, 0xA_0000, 1, 0),
        (0x10_0000, 0x1000_0000, 1, 0),
    ]


def test_initramfs_is_module_zero(memory: GuestMemoryMmap) -> None:
    write(memory)
    assert struct.unpack("<QQQQ", memory.read(MODLIST, 32)) == (0x800_0000, 0x1234, 0, 0)


def test_no_modules_means_no_module_list(memory: GuestMemoryMmap) -> None:
    write(memory, modules=[], modlist_addr=0)
    info = memory.read_obj(START_INFO, HvmStartInfo)
    assert (info.nr_modules, info.modlist_paddr) == (0, 0)


def test_a_memory_map_is_required(memory: GuestMemoryMmap) -> None:
    with pytest.raises(BootParamsError, match="needs a memory map"):
        write(memory, memmap=[])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"memmap_addr": START_INFO + 0x30}, "memmap_addr"),
        ({"modlist_addr": START_INFO + 0x20}, "modlist_addr"),
        ({"memmap_addr": (512 << 20) - 24}, "memmap_addr"),
        ({"modules": [(0x800_0000, 0)]}, "modules[0] size"),
        ({"modules": [(512 << 20, 16)]}, "modules[0] address"),
        ({"cmdline_addr": 1 << 40}, "cmdline_addr"),
        ({"memmap": [E820Entry(0, 0x1000)] * 129}, "memmap"),
    ],
)
def test_bad_layout_is_refused_before_writing(
    memory: GuestMemoryMmap, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(BootParamsError) as caught:
        write(memory, **changes)
    assert caught.value.field == field
    assert memory.read(0, 0x8000) == bytes(0x8000)
