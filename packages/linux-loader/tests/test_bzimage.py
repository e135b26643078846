"""bzImage loading for the 64-bit boot protocol: the setup header read field for
field, the protected-mode kernel at its load address, and a typed error for
every header the protocol does not allow."""

from __future__ import annotations

import ctypes
import hashlib
import io
import struct
from pathlib import Path

import pytest
from linux_loader import (
    InvalidBzImageError,
    LoadFlags,
    SegmentOutsideMemoryError,
    SetupHeader,
    XLoadFlags,
    load_bzimage,
    read_setup_header,
)
from vm_memory import GuestMemoryMmap

MiB = 1 << 20


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def field_offset(name: str) -> int:
    """Offset of a setup header field in the image (the header starts at 0x1f1)."""
    return 0x1F1 + int(getattr(SetupHeader, name).offset)


# Layout ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("setup_sects", 0x1F1),
        ("syssize", 0x1F4),
        ("boot_flag", 0x1FE),
        ("jump", 0x200),
        ("header", 0x202),
        ("version", 0x206),
        ("type_of_loader", 0x210),
        ("loadflags", 0x211),
        ("code32_start", 0x214),
        ("ramdisk_image", 0x218),
        ("ramdisk_size", 0x21C),
        ("cmd_line_ptr", 0x228),
        ("initrd_addr_max", 0x22C),
        ("kernel_alignment", 0x230),
        ("relocatable_kernel", 0x234),
        ("min_alignment", 0x235),
        ("xloadflags", 0x236),
        ("cmdline_size", 0x238),
        ("hardware_subarch_data", 0x240),
        ("payload_offset", 0x248),
        ("setup_data", 0x250),
        ("pref_address", 0x258),
        ("init_size", 0x260),
        ("handover_offset", 0x264),
        ("kernel_info_offset", 0x268),
    ],
)
def test_setup_header_field_offsets_match_boot_rst(name: str, offset: int) -> None:
    assert field_offset(name) == offset


def test_setup_header_is_packed_to_its_c_size() -> None:
    assert ctypes.sizeof(SetupHeader) == 0x26C - 0x1F1


# Real kernels ----------------------------------------------------------------------


def check_loaded(memory: GuestMemoryMmap, image: Path) -> None:
    """Load ``image`` and check the result against the raw header bytes."""
    data = image.read_bytes()
    setup_sects = data[0x1F1] or 4
    syssize, pref_address, init_size = (
        struct.unpack_from("<I", data, 0x1F4)[0],
        struct.unpack_from("<Q", data, 0x258)[0],
        struct.unpack_from("<I", data, 0x260)[0],
    )
    setup_size = (setup_sects + 1) * 512
    result = load_bzimage(memory, image)
    assert result.kernel_load == pref_address
    assert result.entry == pref_address + 0x200
    assert result.kernel_end == pref_address + max(init_size, syssize * 16)
    assert result.pvh_entry is None
    kernel = data[setup_size : setup_size + syssize * 16]
    assert digest(memory.read(pref_address, len(kernel))) == digest(kernel)
    header = result.setup_header
    assert header is not None
    assert bytes(header) == data[0x1F1:0x26C]


def test_guest_bzimage_loads_at_pref_address(memory: GuestMemoryMmap, guest_bzimage: Path) -> None:
    check_loaded(memory, guest_bzimage)


def test_debian_kernel_loads_at_pref_address(memory: GuestMemoryMmap, debian_kernel: Path) -> None:
    check_loaded(memory, debian_kernel)


def test_debian_kernel_header_is_a_relocatable_64bit_kernel(debian_kernel: Path) -> None:
    header = read_setup_header(debian_kernel)
    assert header.version >= 0x020C
    assert header.loadflags & LoadFlags.LOADED_HIGH
    assert header.xloadflags & XLoadFlags.KERNEL_64
    assert header.relocatable_kernel == 1
    assert header.kernel_alignment == 2 * MiB
    assert header.cmdline_size >= 255


def test_debian_kernel_trailing_signature_is_not_loaded(
    memory: GuestMemoryMmap, debian_kernel: Path
) -> None:
    # Debian's image carries a signature after syssize * 16 bytes of kernel.
    header = read_setup_header(debian_kernel)
    end = header.setup_size + header.kernel_size
    assert end <= debian_kernel.stat().st_size
    memory.write(0x0100_0000 + header.kernel_size, b"\xa5" * 4096)
    load_bzimage(memory, debian_kernel)
    assert memory.read(0x0100_0000 + header.kernel_size, 4096) == b"\xa5" * 4096


def test_relocatable_kernel_loads_at_an_aligned_kernel_offset(
    memory: GuestMemoryMmap, debian_kernel: Path
) -> None:
    result = load_bzimage(memory, debian_kernel, kernel_offset=0x0200_0000)
    assert (result.kernel_load, result.entry) == (0x0200_0000, 0x0200_0200)


def test_relocatable_kernel_refuses_a_misaligned_kernel_offset(
    memory: GuestMemoryMmap, debian_kernel: Path
) -> None:
    with pytest.raises(InvalidBzImageError, match="min_alignment"):
        load_bzimage(memory, debian_kernel, kernel_offset=0x0210_0000)


def test_fixed_kernel_refuses_another_kernel_offset(
    memory: GuestMemoryMmap, guest_bzimage: Path
) -> None:
    header = read_setup_header(guest_bzimage)
    if header.relocatable_kernel:
        pytest.skip("this guest bzImage is relocatable")
    with pytest.raises(InvalidBzImageError, match="must be loaded at pref_address"):
        load_bzimage(memory, guest_bzimage, kernel_offset=header.pref_address + 2 * MiB)


def test_kernel_must_fit_with_its_init_size(guest_bzimage: Path) -> None:
    header = read_setup_header(guest_bzimage)
    # Room for the file's kernel bytes, but not for init_size.
    size = (header.pref_address + header.kernel_size + 0xFFF) // 0x1000 * 0x1000
    assert size < header.pref_address + header.init_size
    with GuestMemoryMmap.from_ranges([(0, size)]) as small:
        with pytest.raises(SegmentOutsideMemoryError, match="init_size"):
            load_bzimage(small, guest_bzimage)
        assert small.read(header.pref_address, 4096) == bytes(4096)


# Malformed headers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def bzimage_bytes(guest_bzimage: Path) -> bytes:
    return guest_bzimage.read_bytes()


def with_field(image: bytes, name: str, value: int) -> io.BytesIO:
    data = bytearray(image)
    field = getattr(SetupHeader, name)
    data[field_offset(name) : field_offset(name) + field.size] = value.to_bytes(
        field.size, "little"
    )
    return io.BytesIO(bytes(data))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("boot_flag", 0x55AA, "must be 0xaa55"),
        ("header", 0x53726449, "HdrS"),
        ("version", 0x0205, "2.06"),
        ("version", 0x020B, "2.12"),
        ("loadflags", 0, "LOADED_HIGH"),
        ("xloadflags", 0x20, "XLF_KERNEL_64"),
        ("syssize", 0, "syssize"),
        ("syssize", 0xFFFF_FFFF, "do not fit"),
        ("init_size", 0, "init_size"),
        ("pref_address", 0x1000, "above 1 MiB"),
        ("pref_address", 0xFFFF_FFFF_FFFF_F000, "above 1 MiB"),
    ],
)
def test_bad_header_field_is_named(
    memory: GuestMemoryMmap, bzimage_bytes: bytes, name: str, value: int, message: str
) -> None:
    with pytest.raises(InvalidBzImageError, match=message) as caught:
        load_bzimage(memory, with_field(bzimage_bytes, name, value))
    assert caught.value.field == name
    assert memory.read(0x0100_0000, 4096) == bytes(4096)


def test_relocatable_kernel_needs_a_power_of_two_alignment(
    memory: GuestMemoryMmap, bzimage_bytes: bytes
) -> None:
    image = with_field(bzimage_bytes, "relocatable_kernel", 1)
    image = with_field(image.getvalue(), "kernel_alignment", 0x30_0000)
    with pytest.raises(InvalidBzImageError, match="power of two"):
        load_bzimage(memory, image)


def test_pref_address_outside_memory(memory: GuestMemoryMmap, bzimage_bytes: bytes) -> None:
    with pytest.raises(SegmentOutsideMemoryError):
        load_bzimage(memory, with_field(bzimage_bytes, "pref_address", 1 << 32))


@pytest.mark.parametrize("length", [0, 0x1F0, 0x26B, 0x1000])
def test_truncated_image(memory: GuestMemoryMmap, bzimage_bytes: bytes, length: int) -> None:
    with pytest.raises(InvalidBzImageError):
        load_bzimage(memory, io.BytesIO(bzimage_bytes[:length]))


def test_setup_code_filling_the_file(memory: GuestMemoryMmap, bzimage_bytes: bytes) -> None:
    image = with_field(bzimage_bytes[: 33 * 512], "setup_sects", 40)
    with pytest.raises(InvalidBzImageError, match="setup code fills") as caught:
        load_bzimage(memory, image)
    assert caught.value.field == "setup_sects"


def test_truncated_kernel_is_refused_before_loading(
    memory: GuestMemoryMmap, bzimage_bytes: bytes
) -> None:
    with pytest.raises(InvalidBzImageError, match="syssize"):
        load_bzimage(memory, io.BytesIO(bzimage_bytes[:-16]))
    assert memory.read(0x0100_0000, 4096) == bytes(4096)


def test_fields_past_the_header_end_are_zeroed(bzimage_bytes: bytes) -> None:
    # An older header ends at 0x202 + the jump's offset byte; later bytes are code.
    data = bytearray(bzimage_bytes)
    data[0x201] = 0x260 - 0x202  # ends right before init_size
    header = read_setup_header(io.BytesIO(bytes(data)))
    assert header.init_size == header.handover_offset == header.kernel_info_offset == 0
    assert header.pref_address == struct.unpack_from("<Q", bzimage_bytes, 0x258)[0]
