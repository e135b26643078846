"""ELF loading: segments at their physical addresses, bss zeroed, the PVH note,
and a clear error (with nothing written) for every malformed file."""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from linux_loader import (
    ImageReadError,
    InvalidElfError,
    LoaderError,
    SegmentOutsideMemoryError,
    SegmentOverlapError,
    load_elf,
)
from linux_loader.testing import elf_image, elf_note, pvh_note
from vm_memory import GuestMemoryMmap

SHARED_VMLINUX = Path(__file__).resolve().parents[3].parent / "shared" / "guest" / "vmlinux"
MiB = 1 << 20
XEN = b"Xen\0"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The test guest's vmlinux -----------------------------------------------------


def test_vmlinux_segments_land_at_their_physical_addresses(
    memory: GuestMemoryMmap,
    vmlinux: Path,
    program_headers: Callable[[Path], list[tuple[int, ...]]],
) -> None:
    load_elf(memory, vmlinux)
    data = vmlinux.read_bytes()
    loads = [ph for ph in program_headers(vmlinux) if ph[0] == 1]
    assert len(loads) >= 2
    for _, _, offset, _, paddr, filesz, _, _ in loads:
        assert digest(memory.read(paddr, filesz)) == digest(data[offset : offset + filesz])


def test_vmlinux_bss_is_zeroed_over_old_contents(
    memory: GuestMemoryMmap,
    vmlinux: Path,
    program_headers: Callable[[Path], list[tuple[int, ...]]],
) -> None:
    memory.write(16 * MiB, b"\xa5" * (32 * MiB))
    load_elf(memory, vmlinux)
    tails = [(ph[4] + ph[5], ph[6] - ph[5]) for ph in program_headers(vmlinux) if ph[0] == 1]
    assert any(size for _, size in tails), "the test kernel has a bss"
    for addr, size in tails:
        assert memory.read(addr, size) == bytes(size)


def test_vmlinux_result_spans_all_segments_and_gives_both_entries(
    memory: GuestMemoryMmap,
    vmlinux: Path,
    program_headers: Callable[[Path], list[tuple[int, ...]]],
) -> None:
    result = load_elf(memory, vmlinux)
    loads = [ph for ph in program_headers(vmlinux) if ph[0] == 1]
    assert result.kernel_load == min(ph[4] for ph in loads)
    assert result.kernel_end == max(ph[4] + ph[6] for ph in loads)
    assert result.entry == struct.unpack_from("<Q", vmlinux.read_bytes()[:64], 24)[0]
    assert result.pvh_entry is not None
    assert result.kernel_load <= result.pvh_entry < result.kernel_end
    assert result.setup_header is None


def test_shared_vmlinux_pvh_entry_is_pvh_start_xen(memory: GuestMemoryMmap) -> None:
    # `readelf -n vmlinux`: note "Xen", type 0x12, description data a0 04 00 01 00 00 00 00.
    if not SHARED_VMLINUX.is_file():
        pytest.skip(f"{SHARED_VMLINUX} is missing")
    result = load_elf(memory, SHARED_VMLINUX)
    assert result.pvh_entry == 0x010004A0
    assert result.entry == 0x0100_0000
    assert (result.kernel_load, result.kernel_end) == (0x0100_0000, 0x01C1_6000)


def test_an_open_file_loads_like_its_path(memory: GuestMemoryMmap, vmlinux: Path) -> None:
    with vmlinux.open("rb") as file:
        from_file = load_elf(memory, file)
        assert not file.closed, "the caller's file stays open"
    assert from_file == load_elf(memory, vmlinux)


# Tiny generated ELFs -------------------------------------------------------------


def test_tiny_elf_loads_segments_and_zeroes_bss(memory: GuestMemoryMmap) -> None:
    memory.write(0x20_0000, b"\xff" * 0x3000)
    image = elf_image([(0x10_0000, b"code" * 100, 400), (0x20_0000, b"data", 0x3000)])
    result = load_elf(memory, io.BytesIO(image))
    assert memory.read(0x10_0000, 400) == b"code" * 100
    assert memory.read(0x20_0000, 0x3000) == b"data" + bytes(0x3000 - 4)
    assert (result.kernel_load, result.kernel_end) == (0x10_0000, 0x20_3000)
    assert result.pvh_entry is None


def test_entry_is_e_entry(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x10_0000, b"\x90" * 16, 16)], entry=0x10_0008)
    assert load_elf(memory, io.BytesIO(image)).entry == 0x10_0008


@pytest.mark.parametrize("width", [4, 8])
def test_pvh_entry_note_of_four_or_eight_bytes(memory: GuestMemoryMmap, width: int) -> None:
    notes = elf_note(b"GNU\0", 3, bytes(20)) + pvh_note(0x10_0010, width=width)
    image = elf_image([(0x10_0000, bytes(64), 64)], notes=notes)
    assert load_elf(memory, io.BytesIO(image)).pvh_entry == 0x10_0010


def test_other_xen_notes_are_not_the_pvh_entry(memory: GuestMemoryMmap) -> None:
    notes = elf_note(XEN, 17, (0x10_0010).to_bytes(8, "little"))
    image = elf_image([(0x10_0000, bytes(64), 64)], notes=notes)
    assert load_elf(memory, io.BytesIO(image)).pvh_entry is None


def test_firmware_below_one_mib_loads_with_a_lower_highmem_start(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x8000, b"fw", 2)], entry=0x8000)
    with pytest.raises(SegmentOutsideMemoryError, match="below highmem_start 0x100000"):
        load_elf(memory, io.BytesIO(image))
    assert load_elf(memory, io.BytesIO(image), highmem_start=0x1000).kernel_load == 0x8000


def test_empty_segments_are_skipped(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0, b"", 0), (0x10_0000, b"x", 1)])
    assert load_elf(memory, io.BytesIO(image)).kernel_load == 0x10_0000


# Malformed files: a typed error, nothing written -------------------------------


def patched(image: bytes, offset: int, fmt: str, value: int) -> io.BytesIO:
    data = bytearray(image)
    struct.pack_into(fmt, data, offset, value)
    return io.BytesIO(bytes(data))


PHDR0 = 64  # first program header of a generated ELF without notes


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ((0, "<I", 0x464C457E), "e_ident magic"),
        ((4, "<B", 1), "EI_CLASS"),
        ((5, "<B", 2), "EI_DATA"),
        ((6, "<B", 0), "EI_VERSION"),
        ((16, "<H", 3), "e_type"),
        ((16, "<H", 1), "e_type"),
        ((18, "<H", 3), "e_machine"),
        ((20, "<I", 2), "e_version"),
        ((52, "<H", 52), "e_ehsize"),
        ((54, "<H", 32), "e_phentsize"),
        ((56, "<H", 0), "e_phnum"),
        ((56, "<H", 0xFFFF), "e_phnum"),
        ((56, "<H", 2000), "e_phnum"),
        ((32, "<Q", 1 << 40), "e_phoff"),
        ((PHDR0 + 32, "<Q", 0x11), "p_filesz"),  # filesz > memsz
        ((PHDR0 + 8, "<Q", 1 << 30), "p_offset"),
    ],
)
def test_bad_header_field_is_named(
    memory: GuestMemoryMmap, patch: tuple[int, str, int], field: str
) -> None:
    image = elf_image([(0x10_0000, b"\x11" * 16, 16)])
    with pytest.raises(InvalidElfError) as caught:
        load_elf(memory, patched(image, *patch))
    assert field in caught.value.field
    assert memory.read(0x10_0000, 16) == bytes(16)


def test_wrong_class_message_says_what_is_needed(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x10_0000, b"x", 1)])
    with pytest.raises(InvalidElfError, match=r"EI_CLASS = 0x1: not ELFCLASS64"):
        load_elf(memory, patched(image, 4, "<B", 1))


def test_segment_beyond_guest_memory(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x10_0000, b"a", 1), (511 * MiB, b"b", 2 * MiB)])
    with pytest.raises(SegmentOutsideMemoryError) as caught:
        load_elf(memory, io.BytesIO(image))
    assert (caught.value.addr, caught.value.size) == (511 * MiB, 2 * MiB)
    assert memory.read(0x10_0000, 1) == b"\0", "the valid first segment was not written either"


def test_segment_wrapping_the_address_space(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0xFFFF_FFFF_FFFF_F000, b"a", 0x2000)])
    with pytest.raises(SegmentOutsideMemoryError):
        load_elf(memory, io.BytesIO(image))


def test_overlapping_segments(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x20_0000, b"a", 0x1000), (0x10_0000, b"b", 0x10_0001)])
    with pytest.raises(SegmentOverlapError) as caught:
        load_elf(memory, io.BytesIO(image))
    assert caught.value.first == (0x10_0000, 0x10_0001)
    assert caught.value.second == (0x20_0000, 0x1000)
    assert memory.read(0x10_0000, 1) == b"\0"


def test_touching_segments_do_not_overlap(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x10_0000, b"a", 0x1000), (0x10_1000, b"b", 0x1000)])
    assert load_elf(memory, io.BytesIO(image)).kernel_end == 0x10_2000


def test_no_loadable_segment(memory: GuestMemoryMmap) -> None:
    with pytest.raises(InvalidElfError, match="no PT_LOAD"):
        load_elf(memory, io.BytesIO(elf_image([(0x10_0000, b"", 0)])))


@pytest.mark.parametrize("length", [0, 10, 63, 64, 100, 64 + 56 - 1])
def test_truncated_headers(memory: GuestMemoryMmap, length: int) -> None:
    image = elf_image([(0x10_0000, b"x" * 8, 8)])
    with pytest.raises(InvalidElfError):
        load_elf(memory, io.BytesIO(image[:length]))


def test_truncated_segment_data(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x10_0000, b"x" * 0x1000, 0x1000)])
    with pytest.raises(InvalidElfError, match="runs past the file's end"):
        load_elf(memory, io.BytesIO(image[:-1]))
    assert memory.read(0x10_0000, 0x1000) == bytes(0x1000)


def test_note_overrunning_its_segment(memory: GuestMemoryMmap) -> None:
    note = bytearray(elf_note(XEN, 18, bytes(8)))
    struct.pack_into("<I", note, 4, 0x1000)  # descsz
    image = elf_image([(0x10_0000, bytes(64), 64)], notes=bytes(note))
    with pytest.raises(InvalidElfError, match="overrun"):
        load_elf(memory, io.BytesIO(image))


def test_pvh_entry_of_odd_size(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x10_0000, bytes(64), 64)], notes=elf_note(XEN, 18, bytes(2)))
    with pytest.raises(InvalidElfError, match="must be 4 or 8 bytes"):
        load_elf(memory, io.BytesIO(image))


@pytest.mark.parametrize("entry", [1 << 32, 0x20_0000])
def test_pvh_entry_outside_the_loaded_kernel(memory: GuestMemoryMmap, entry: int) -> None:
    notes = pvh_note(entry, width=8)
    image = elf_image([(0x10_0000, bytes(64), 64)], notes=notes)
    with pytest.raises(InvalidElfError, match="XEN_ELFNOTE_PHYS32_ENTRY"):
        load_elf(memory, io.BytesIO(image))


def test_missing_file_is_a_loader_error(memory: GuestMemoryMmap, tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="cannot open"):
        load_elf(memory, tmp_path / "nope")


def test_a_pipe_is_refused(memory: GuestMemoryMmap) -> None:
    import os

    read_end, write_end = os.pipe()
    try:
        with open(read_end, "rb") as stream, pytest.raises(LoaderError, match="not a regular"):
            load_elf(memory, stream)
    finally:
        os.close(write_end)
