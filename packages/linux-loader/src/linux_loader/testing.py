"""Tiny ELF kernels for tests: build the bytes the loader reads, one header at a time.

    from linux_loader.testing import elf_image, pvh_note

    image = elf_image([(0x10_0000, code, 0x2000)], entry=0x10_0000, notes=pvh_note(0x10_0000))

The tests of this package, its fuzz target and the packages above it (the
VMM's tiny guests, files its configuration checks accept as kernels) all build
their ELF files here. The images are laid out as a vmlinux is: the program
headers right after the ELF header, then the notes, then each PT_LOAD's data
at a 4 KiB-aligned file offset, with a kernel virtual address beside the
physical one the loader uses.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

__all__ = [
    "ELF64_HEADER",
    "EM_X86_64",
    "ET_EXEC",
    "KERNEL_VIRTUAL_BASE",
    "PROGRAM_HEADER",
    "PT_LOAD",
    "PT_NOTE",
    "elf_image",
    "elf_note",
    "pvh_note",
]

ELF64_HEADER: Final = struct.Struct("<16sHHIQQQIHHHHHH")
PROGRAM_HEADER: Final = struct.Struct("<IIQQQQQQ")
PT_LOAD: Final = 1
PT_NOTE: Final = 4
ET_EXEC: Final = 2
EM_X86_64: Final = 62
KERNEL_VIRTUAL_BASE: Final = 0xFFFF_FFFF_8000_0000
"""Where x86-64 Linux maps physical 0: a PT_LOAD's p_vaddr is its p_paddr plus this."""

_IDENT: Final = b"\x7fELF\x02\x01\x01" + bytes(9)  # ELFCLASS64, little-endian, EV_CURRENT
_XEN_ELFNOTE_PHYS32_ENTRY: Final = 18
_SEGMENT_ALIGN: Final = 0x1000


def elf_image(
    segments: Sequence[tuple[int, bytes, int]],
    *,
    entry: int = 0x100_0000,
    notes: bytes = b"",
    e_type: int = ET_EXEC,
    machine: int = EM_X86_64,
) -> bytes:
    """A little-endian ELF64 executable.

    `segments` are `(paddr, data, memsz)` PT_LOADs (memsz past the data is
    bss), in program-header order; `notes` (see `elf_note`) become one
    PT_NOTE, the first program header. `e_type` and `machine` may be set to
    what the loader must refuse.
    """
    phnum = len(segments) + (1 if notes else 0)
    image = bytearray(ELF64_HEADER.size + PROGRAM_HEADER.size * phnum)
    headers = []
    if notes:
        headers.append(PROGRAM_HEADER.pack(PT_NOTE, 4, len(image), 0, 0, len(notes), len(notes), 4))
        image += notes
    for paddr, data, memsz in segments:
        image += bytes(-len(image) % _SEGMENT_ALIGN)
        vaddr = (KERNEL_VIRTUAL_BASE + paddr) % (1 << 64)
        headers.append(
            PROGRAM_HEADER.pack(
                PT_LOAD, 7, len(image), vaddr, paddr, len(data), memsz, _SEGMENT_ALIGN
            )
        )
        image += data
    image[: ELF64_HEADER.size] = ELF64_HEADER.pack(
        _IDENT,
        e_type,
        machine,
        1,
        entry,
        ELF64_HEADER.size,  # e_phoff: the program headers follow
        0,
        0,
        ELF64_HEADER.size,
        PROGRAM_HEADER.size,
        phnum,
        64,
        0,
        0,
    )
    image[ELF64_HEADER.size : ELF64_HEADER.size + PROGRAM_HEADER.size * phnum] = b"".join(headers)
    return bytes(image)


def elf_note(name: bytes, note_type: int, desc: bytes) -> bytes:
    """One ELF note: its header, then name and desc each padded to 4 bytes."""

    def pad(data: bytes) -> bytes:
        return data + bytes(-len(data) % 4)

    return struct.pack("<III", len(name), len(desc), note_type) + pad(name) + pad(desc)


def pvh_note(entry: int, *, width: int = 4) -> bytes:
    """The Xen note (XEN_ELFNOTE_PHYS32_ENTRY) giving the 32-bit PVH entry point,
    `width` bytes wide (Linux writes 4, some kernels 8)."""
    return elf_note(b"Xen\0", _XEN_ELFNOTE_PHYS32_ENTRY, entry.to_bytes(width, "little"))
