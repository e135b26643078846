"""The Linux zero page (``struct boot_params``) for the 64-bit boot protocol.

The VMM writes it into guest memory and starts the kernel at its 64-bit entry
with RSI pointing at it. It carries the setup header (the bzImage's own, or a
minimal one for an ELF vmlinux), the command line and initramfs locations and
the E820 memory map.
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, SupportsIndex

from linux_loader.bzimage import BOOT_FLAG_MAGIC, HDRS_MAGIC, SetupHeader, XLoadFlags
from linux_loader.e820 import E820Entry, check_memory_map
from linux_loader.errors import BootParamsError
from linux_loader.ranges import check_disjoint, check_in_memory

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = [
    "E820_MAX_ENTRIES_ZEROPAGE",
    "LOADER_TYPE_UNDEFINED",
    "ZERO_PAGE_SIZE",
    "BootE820Entry",
    "BootParams",
    "default_setup_header",
    "write_zero_page",
]

ZERO_PAGE_SIZE: Final = 4096
E820_MAX_ENTRIES_ZEROPAGE: Final = 128
LOADER_TYPE_UNDEFINED: Final = 0xFF
"""``type_of_loader`` of a boot loader without an assigned ID."""
DEFAULT_KERNEL_ALIGNMENT: Final = 0x100_0000
RSDP_SIZE: Final = 36
"""Bytes of an ACPI 2.0+ RSDP, which must be guest memory when given."""

_u8 = ctypes.c_uint8
_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64


class BootE820Entry(ctypes.LittleEndianStructure):
    """``struct boot_e820_entry``: 20 packed bytes."""

    _pack_ = 1
    _fields_ = [("addr", _u64), ("size", _u64), ("type", _u32)]


class BootParams(ctypes.LittleEndianStructure):
    """``struct boot_params`` (arch/x86/include/uapi/asm/bootparam.h), 4096 bytes.

    Firmware-only parts (screen, APM, EDID, EFI, EDD) stay opaque byte arrays.
    """

    _pack_ = 1
    _fields_ = [
        ("screen_info", _u8 * 0x40),  # 0x000
        ("apm_bios_info", _u8 * 0x14),  # 0x040
        ("_pad2", _u8 * 4),
        ("tboot_addr", _u64),  # 0x058
        ("ist_info", _u8 * 0x10),  # 0x060
        ("acpi_rsdp_addr", _u64),  # 0x070
        ("_pad3", _u8 * 8),
        ("hd0_info", _u8 * 16),  # 0x080
        ("hd1_info", _u8 * 16),  # 0x090
        ("sys_desc_table", _u8 * 0x10),  # 0x0a0
        ("olpc_ofw_header", _u8 * 0x10),  # 0x0b0
        ("ext_ramdisk_image", _u32),  # 0x0c0
        ("ext_ramdisk_size", _u32),  # 0x0c4
        ("ext_cmd_line_ptr", _u32),  # 0x0c8
        ("_pad4", _u8 * 112),
        ("cc_blob_address", _u32),  # 0x13c
        ("edid_info", _u8 * 0x80),  # 0x140
        ("efi_info", _u8 * 0x20),  # 0x1c0
        ("alt_mem_k", _u32),  # 0x1e0
        ("scratch", _u32),  # 0x1e4
        ("e820_entries", _u8),  # 0x1e8
        ("eddbuf_entries", _u8),
        ("edd_mbr_sig_buf_entries", _u8),
        ("kbd_status", _u8),
        ("secure_boot", _u8),
        ("_pad5", _u8 * 2),
        ("sentinel", _u8),  # 0x1ef
        ("_pad6", _u8 * 1),
        ("hdr", SetupHeader),  # 0x1f1
        ("_pad7", _u8 * (0x290 - 0x1F1 - ctypes.sizeof(SetupHeader))),
        ("edd_mbr_sig_buffer", _u32 * 16),  # 0x290
        ("e820_table", BootE820Entry * E820_MAX_ENTRIES_ZEROPAGE),  # 0x2d0
        ("_pad8", _u8 * 48),
        ("eddbuf", _u8 * (6 * 82)),  # 0xd00
        ("_pad9", _u8 * 276),  # 0xeec
    ]


def default_setup_header() -> SetupHeader:
    """The header to boot an ELF vmlinux through its 64-bit entry, which has none
    of its own: just the magic numbers, the loader type and the alignment."""
    header = SetupHeader()
    header.boot_flag = BOOT_FLAG_MAGIC
    header.header = HDRS_MAGIC
    header.type_of_loader = LOADER_TYPE_UNDEFINED
    header.kernel_alignment = DEFAULT_KERNEL_ALIGNMENT
    return header


def write_zero_page(
    memory: GuestMemory,
    address: SupportsIndex,
    setup_header: SetupHeader | None,
    *,
    cmdline_addr: SupportsIndex,
    cmdline_size: int,
    initramfs: tuple[int, int] | None = None,
    e820: Sequence[E820Entry],
    rsdp_addr: SupportsIndex = 0,
) -> None:
    """Fill in and write the zero page at ``address``.

    ``setup_header`` is the bzImage's (``KernelLoaderResult.setup_header``),
    None for an ELF kernel. ``cmdline_size`` counts the bytes at
    ``cmdline_addr`` including the NUL (what ``write_cmdline`` returns);
    ``initramfs`` is ``(address, size)``. Everything is checked before the page
    is written: :class:`BootParamsError` otherwise.
    """
    page = operator.index(address)
    cmdline = operator.index(cmdline_addr)
    rsdp = operator.index(rsdp_addr)
    header = SetupHeader.from_buffer_copy(setup_header or default_setup_header())
    check_in_memory(memory, "zero page address", page, ZERO_PAGE_SIZE)
    if not 0 < cmdline_size < 1 << 32:
        raise BootParamsError("cmdline_size", cmdline_size, "must count the NUL and fit a u32")
    check_in_memory(memory, "cmdline_addr", cmdline, cmdline_size)
    if setup_header is not None and header.cmdline_size and cmdline_size - 1 > header.cmdline_size:
        raise BootParamsError(
            "cmdline_size", cmdline_size, f"the kernel takes at most {header.cmdline_size} bytes"
        )
    ranges = [("zero page address", page, ZERO_PAGE_SIZE), ("cmdline_addr", cmdline, cmdline_size)]
    if initramfs is not None:
        ramdisk, ramdisk_size = initramfs
        if not 0 < ramdisk_size < 1 << 32:
            raise BootParamsError("initramfs size", ramdisk_size, "must be 1 byte to 4 GiB")
        check_in_memory(memory, "initramfs address", ramdisk, ramdisk_size)
        limit = int(header.initrd_addr_max)
        if (
            setup_header is not None
            and limit
            and not header.xloadflags & XLoadFlags.CAN_BE_LOADED_ABOVE_4G
            and ramdisk + ramdisk_size - 1 > limit
        ):
            raise BootParamsError(
                "initramfs address", ramdisk, f"ends above initrd_addr_max {limit:#x}"
            )
        ranges.append(("initramfs address", ramdisk, ramdisk_size))
    if rsdp:
        check_in_memory(memory, "rsdp_addr", rsdp, RSDP_SIZE)
    check_disjoint(ranges)
    check_memory_map(e820, limit=E820_MAX_ENTRIES_ZEROPAGE, field="e820")

    params = BootParams()
    params.hdr = header
    header = params.hdr
    header.type_of_loader = LOADER_TYPE_UNDEFINED
    header.cmd_line_ptr = cmdline & 0xFFFF_FFFF
    params.ext_cmd_line_ptr = cmdline >> 32
    header.cmdline_size = cmdline_size
    if initramfs is not None:
        header.ramdisk_image = ramdisk & 0xFFFF_FFFF
        params.ext_ramdisk_image = ramdisk >> 32
        header.ramdisk_size = ramdisk_size
    params.acpi_rsdp_addr = rsdp
    for slot, entry in zip(params.e820_table, e820, strict=False):
        slot.addr, slot.size, slot.type = entry.addr, entry.size, int(entry.type)
    params.e820_entries = len(e820)
    memory.write_obj(page, params)
