"""The zero page: struct boot_params laid out as the kernel reads it, and filled
in with the command line, initramfs and E820 map."""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path

import pytest
from linux_loader import (
    BootE820Entry,
    BootParams,
    BootParamsError,
    E820Entry,
    E820Type,
    SetupHeader,
    default_setup_header,
    load_bzimage,
    read_setup_header,
    write_zero_page,
)
from vm_memory import GuestMemoryMmap

ZERO_PAGE = 0x7000
CMDLINE = 0x2_0000
E820 = [
    E820Entry(0, 0x9_FC00),
    E820Entry(0x9_FC00, 0x400, E820Type.RESERVED),
    E820Entry(0x10_0000, (512 << 20) - 0x10_0000),
]


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("acpi_rsdp_addr", 0x070),
        ("ext_ramdisk_image", 0x0C0),
        ("ext_ramdisk_size", 0x0C4),
        ("ext_cmd_line_ptr", 0x0C8),
        ("cc_blob_address", 0x13C),
        ("alt_mem_k", 0x1E0),
        ("e820_entries", 0x1E8),
        ("sentinel", 0x1EF),
        ("hdr", 0x1F1),
        ("edd_mbr_sig_buffer", 0x290),
        ("e820_table", 0x2D0),
        ("eddbuf", 0xD00),
    ],
)
def test_boot_params_field_offsets_match_bootparam_h(name: str, offset: int) -> None:
    assert getattr(BootParams, name).offset == offset


def test_boot_params_is_one_page_with_128_packed_e820_entries() -> None:
    assert ctypes.sizeof(BootParams) == 4096
    assert ctypes.sizeof(BootE820Entry) == 20
    assert BootParams.e820_table.size == 128 * 20


def write(memory: GuestMemoryMmap, header: SetupHeader | None, **changes: object) -> BootParams:
    arguments: dict[str, object] = {
        "cmdline_addr": CMDLINE,
        "cmdline_size": 16,
        "initramfs": None,
        "e820": E820,
    }
    arguments.update(changes)
    write_zero_page(memory, ZERO_PAGE, header, **arguments)  # type: ignore[arg-type]
    return memory.read_obj(ZERO_PAGE, BootParams)


def test_elf_kernel_gets_a_minimal_header(memory: GuestMemoryMmap) -> None:
    params = write(memory, None)
    assert params.hdr.boot_flag == 0xAA55
    assert params.hdr.header == 0x53726448
    assert params.hdr.type_of_loader == 0xFF
    assert params.hdr.kernel_alignment == 0x100_0000


def test_bzimage_header_is_copied_with_loader_fields_set(
    memory: GuestMemoryMmap, guest_bzimage: Path
) -> None:
    header = load_bzimage(memory, guest_bzimage).setup_header
    assert header is not None
    params = write(memory, header, initramfs=(0x600_0000, 0x1234))
    raw = memory.read(ZERO_PAGE + 0x1F1, ctypes.sizeof(SetupHeader))
    assert raw[:0x10] == bytes(header)[:0x10]  # setup_sects .. kernel_version as in the image
    assert params.hdr.version == header.version
    assert params.hdr.pref_address == header.pref_address
    assert params.hdr.type_of_loader == 0xFF
    assert (params.hdr.ramdisk_image, params.hdr.ramdisk_size) == (0x600_0000, 0x1234)
    assert header.type_of_loader != 0xFF or header.ramdisk_image == 0, "the input is not changed"


def test_command_line_pointer_and_size(memory: GuestMemoryMmap) -> None:
    params = write(memory, None, cmdline_size=100)
    assert params.hdr.cmd_line_ptr == CMDLINE
    assert params.ext_cmd_line_ptr == 0
    assert params.hdr.cmdline_size == 100


def test_addresses_above_4g_use_the_ext_fields() -> None:
    with GuestMemoryMmap.from_ranges([(0, 1 << 20), (1 << 32, 1 << 20)]) as memory:
        params = write(
            memory,
            None,
            cmdline_addr=(1 << 32) + 0x1000,
            initramfs=((1 << 32) + 0x2000, 0x100),
        )
    assert (params.ext_cmd_line_ptr, params.hdr.cmd_line_ptr) == (1, 0x1000)
    assert (params.ext_ramdisk_image, params.hdr.ramdisk_image) == (1, 0x2000)


def test_e820_table_in_order(memory: GuestMemoryMmap) -> None:
    params = write(memory, None)
    assert params.e820_entries == 3
    table = [(e.addr, e.size, e.type) for e in params.e820_table[:3]]
    assert table == [
        (0, 0x9_FC00, 1),
        (0x9_FC00, 0x400, 2),
        (0x10_0000, (512 << 20) - 0x10_0000, 1),
    ]
    raw = memory.read(ZERO_PAGE + 0x2D0 + 20, 20)
    assert struct.unpack("<QQI", raw) == (0x9_FC00, 0x400, 2)


def test_rsdp_address(memory: GuestMemoryMmap) -> None:
    assert write(memory, None, rsdp_addr=0xE_0000).acpi_rsdp_addr == 0xE_0000


def test_more_than_128_e820_entries_are_refused(memory: GuestMemoryMmap) -> None:
    entries = [E820Entry(0x10_0000 + i * 0x1000, 0x1000) for i in range(129)]
    with pytest.raises(BootParamsError, match="at most 128 entries"):
        write(memory, None, e820=entries)
    assert memory.read(ZERO_PAGE, 4096) == bytes(4096)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (E820Entry(0, 0), "e820[0].size"),
        (E820Entry(-1, 10), "e820[0].addr"),
        (E820Entry(0xFFFF_FFFF_FFFF_F000, 0x2000), "e820[0].size"),
    ],
)
def test_bad_e820_entry_is_named(memory: GuestMemoryMmap, entry: E820Entry, field: str) -> None:
    with pytest.raises(BootParamsError) as caught:
        write(memory, None, e820=[entry])
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cmdline_addr": 512 << 20}, "cmdline_addr"),
        ({"cmdline_addr": ZERO_PAGE + 8}, "cmdline_addr"),
        ({"cmdline_size": 0}, "cmdline_size"),
        ({"initramfs": ((512 << 20) - 8, 16)}, "initramfs address"),
        ({"initramfs": (0x10_0000, 0)}, "initramfs size"),
        ({"initramfs": (ZERO_PAGE - 8, 16)}, "zero page address"),
        ({"rsdp_addr": 512 << 20}, "rsdp_addr"),
    ],
)
def test_bad_placement_is_refused_before_writing(
    memory: GuestMemoryMmap, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(BootParamsError) as caught:
        write(memory, None, **changes)
    assert caught.value.field == field
    assert memory.read(ZERO_PAGE, 4096) == bytes(4096)


def test_zero_page_outside_memory(memory: GuestMemoryMmap) -> None:
    with pytest.raises(BootParamsError, match="zero page"):
        write_zero_page(
            memory, (512 << 20) - 100, None, cmdline_addr=CMDLINE, cmdline_size=1, e820=E820
        )


def test_command_line_longer_than_the_kernel_takes(
    memory: GuestMemoryMmap, guest_bzimage: Path
) -> None:
    header = read_setup_header(guest_bzimage)
    with pytest.raises(BootParamsError, match=f"at most {header.cmdline_size} bytes"):
        write(memory, header, cmdline_size=header.cmdline_size + 2)
    write(memory, header, cmdline_size=header.cmdline_size + 1)  # the NUL does not count


def test_initramfs_above_initrd_addr_max(memory: GuestMemoryMmap) -> None:
    header = default_setup_header()
    header.initrd_addr_max = 0x0FFF_FFFF
    with pytest.raises(BootParamsError, match="initrd_addr_max"):
        write(memory, header, initramfs=(0x0FFF_F000, 0x1001))
    write(memory, header, initramfs=(0x0FFF_F000, 0x1000))
