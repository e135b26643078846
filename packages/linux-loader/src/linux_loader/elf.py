"""ELF kernel loader: an uncompressed ``vmlinux`` or an ELF firmware.

Every ``PT_LOAD`` segment goes to its physical address ``p_paddr`` (a vmlinux's
``p_vaddr`` is a kernel virtual address, and its per-CPU segment has
``p_vaddr`` 0). The PVH entry comes from the ``Xen`` note of type
``XEN_ELFNOTE_PHYS32_ENTRY``, which a stripped vmlinux keeps in a ``PT_NOTE``
segment. The whole file is validated before a byte of guest memory is written.
"""

from __future__ import annotations

import ctypes
import operator
import struct
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Final, SupportsIndex

from linux_loader.errors import InvalidElfError, SegmentOutsideMemoryError, SegmentOverlapError
from linux_loader.image import ImageFile, ImageSource
from linux_loader.result import KernelLoaderResult

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = [
    "ELF_MAGIC",
    "HIGHMEM_START",
    "XEN_ELFNOTE_PHYS32_ENTRY",
    "ElfSegment",
    "load_elf",
]

ELF_MAGIC: Final = b"\x7fELF"
HIGHMEM_START: Final = 0x10_0000
"""Default floor for segments: the legacy low megabyte holds boot data and BIOS areas."""

XEN_ELFNOTE_PHYS32_ENTRY: Final = 18

_EHDR: Final = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR: Final = struct.Struct("<IIQQQQQQ")
_NOTE: Final = struct.Struct("<III")
_ELFCLASS64: Final = 2
_ELFDATA2LSB: Final = 1
_EV_CURRENT: Final = 1
_ET_EXEC: Final = 2
_ET_DYN: Final = 3
_EM_X86_64: Final = 62
_PT_LOAD: Final = 1
_PT_NOTE: Final = 4
_PN_XNUM: Final = 0xFFFF
_MAX_PROGRAM_HEADERS: Final = 1024
_MAX_NOTE_SEGMENT: Final = 1 << 20
_XEN_NOTE_NAME: Final = b"Xen\0"
_ADDRESS_LIMIT: Final = 1 << 64


@dataclass(frozen=True)
class ElfSegment:
    """One ``PT_LOAD`` segment: ``filesz`` bytes from ``offset`` in the file to
    guest ``paddr``, then ``memsz - filesz`` zero bytes (bss)."""

    index: int
    offset: int
    paddr: int
    filesz: int
    memsz: int

    @property
    def end(self) -> int:
        return self.paddr + self.memsz


@dataclass(frozen=True)
class _ElfPlan:
    segments: list[ElfSegment]
    entry: int
    pvh_entry: int | None


def load_elf(
    memory: GuestMemory,
    image: ImageSource,
    *,
    highmem_start: SupportsIndex = HIGHMEM_START,
) -> KernelLoaderResult:
    """Load an x86-64 ELF executable into guest memory at its physical addresses.

    Raises :class:`~linux_loader.errors.LoaderError` (having written nothing)
    for a malformed file, a segment outside guest memory or below
    ``highmem_start``, or overlapping segments.
    """
    floor = operator.index(highmem_start)
    with ImageFile(image) as file:
        plan = _plan(memory, file, floor)
        for segment in plan.segments:
            if segment.filesz:
                file.read_into_memory(memory, segment.paddr, segment.offset, segment.filesz)
            if segment.memsz > segment.filesz:
                zero_memory(memory, segment.paddr + segment.filesz, segment.memsz - segment.filesz)
    return KernelLoaderResult(
        kernel_load=min(segment.paddr for segment in plan.segments),
        kernel_end=max(segment.end for segment in plan.segments),
        entry=plan.entry,
        pvh_entry=plan.pvh_entry,
    )


def zero_memory(memory: GuestMemory, addr: int, length: int) -> None:
    """Fill ``[addr, addr + length)`` of guest memory with zeros, in place."""
    for view in memory.get_slices(addr, length):
        ctypes.memset((ctypes.c_char * view.nbytes).from_buffer(view), 0, view.nbytes)
        view.release()


def _plan(memory: GuestMemory, file: ImageFile, floor: int) -> _ElfPlan:
    """Validate the whole file against ``memory``; what to load and where to start."""
    if file.size < _EHDR.size:
        raise InvalidElfError("file size", file.size, f"shorter than the {_EHDR.size}-byte header")
    (ident, e_type, machine, version, entry, phoff, _, _, ehsize, phentsize, phnum, *_) = (
        _EHDR.unpack(file.read(0, _EHDR.size))
    )
    _check_header(
        ident=ident,
        e_type=e_type,
        machine=machine,
        version=version,
        ehsize=ehsize,
        phentsize=phentsize,
        phnum=phnum,
    )
    if phoff < _EHDR.size or phoff + phnum * _PHDR.size > file.size:
        raise InvalidElfError(
            "e_phoff", phoff, f"{phnum} program headers do not fit in the {file.size:#x}-byte file"
        )
    table = file.read(phoff, phnum * _PHDR.size)
    segments: list[ElfSegment] = []
    notes: list[tuple[int, int, int]] = []
    for index, (p_type, _, offset, _, paddr, filesz, memsz, align) in enumerate(
        _PHDR.iter_unpack(table)
    ):
        if p_type == _PT_LOAD:
            segment = ElfSegment(index, offset, paddr, filesz, memsz)
            _check_segment(memory, segment, file.size, floor)
            if memsz:
                segments.append(segment)
        elif p_type == _PT_NOTE:
            if offset + filesz > file.size:
                raise InvalidElfError(
                    f"program header {index} p_offset", offset, "PT_NOTE runs past the file's end"
                )
            if filesz > _MAX_NOTE_SEGMENT:
                raise InvalidElfError(
                    f"program header {index} p_filesz", filesz, "PT_NOTE larger than 1 MiB"
                )
            notes.append((offset, filesz, align))
    if not segments:
        raise InvalidElfError("e_phnum", phnum, "no PT_LOAD segment with memory to load")
    ordered = sorted(segments, key=lambda segment: segment.paddr)
    for low, high in pairwise(ordered):
        if high.paddr < low.end:
            raise SegmentOverlapError((low.paddr, low.memsz), (high.paddr, high.memsz))
    pvh_entry = None
    for offset, filesz, align in notes:
        pvh_entry = _find_pvh_entry(file.read(offset, filesz), align)
        if pvh_entry is not None:
            break
    if pvh_entry is not None and not any(s.paddr <= pvh_entry < s.end for s in segments):
        raise InvalidElfError(
            "XEN_ELFNOTE_PHYS32_ENTRY", pvh_entry, "is not inside a loaded segment"
        )
    return _ElfPlan(segments, entry, pvh_entry)


def _check_header(
    *,
    ident: bytes,
    e_type: int,
    machine: int,
    version: int,
    ehsize: int,
    phentsize: int,
    phnum: int,
) -> None:
    if ident[:4] != ELF_MAGIC:
        raise InvalidElfError("e_ident magic", ident[:4], "not an ELF file")
    if ident[4] != _ELFCLASS64:
        raise InvalidElfError("EI_CLASS", ident[4], "not ELFCLASS64 (2): a 64-bit kernel is needed")
    if ident[5] != _ELFDATA2LSB:
        raise InvalidElfError("EI_DATA", ident[5], "not ELFDATA2LSB (1): x86 is little endian")
    if ident[6] != _EV_CURRENT:
        raise InvalidElfError("EI_VERSION", ident[6], "must be EV_CURRENT (1)")
    if version != _EV_CURRENT:
        raise InvalidElfError("e_version", version, "must be EV_CURRENT (1)")
    if e_type == _ET_DYN:
        raise InvalidElfError("e_type", e_type, "ET_DYN (relocatable) images are not supported")
    if e_type != _ET_EXEC:
        raise InvalidElfError("e_type", e_type, "not an ET_EXEC (2) executable")
    if machine != _EM_X86_64:
        raise InvalidElfError("e_machine", machine, "not EM_X86_64 (62)")
    if ehsize != _EHDR.size:
        raise InvalidElfError("e_ehsize", ehsize, f"must be {_EHDR.size} for ELF64")
    if phentsize != _PHDR.size:
        raise InvalidElfError("e_phentsize", phentsize, f"must be {_PHDR.size} for ELF64")
    if phnum == _PN_XNUM:
        raise InvalidElfError("e_phnum", phnum, "extended program header numbering is unsupported")
    if not 0 < phnum <= _MAX_PROGRAM_HEADERS:
        raise InvalidElfError("e_phnum", phnum, f"must be 1..{_MAX_PROGRAM_HEADERS}")


def _check_segment(memory: GuestMemory, segment: ElfSegment, file_size: int, floor: int) -> None:
    name = f"PT_LOAD segment {segment.index}"
    if segment.filesz > segment.memsz:
        raise InvalidElfError(
            f"{name} p_filesz", segment.filesz, f"larger than p_memsz {segment.memsz:#x}"
        )
    if segment.offset + segment.filesz > file_size:
        raise InvalidElfError(
            f"{name} p_offset",
            segment.offset,
            f"+ p_filesz {segment.filesz:#x} runs past the file's end at {file_size:#x}",
        )
    if segment.memsz == 0:
        return
    if segment.paddr < floor:
        raise SegmentOutsideMemoryError(
            name, segment.paddr, segment.memsz, f"starts below highmem_start {floor:#x}"
        )
    if segment.end > _ADDRESS_LIMIT or not memory.check_range(segment.paddr, segment.memsz):
        raise SegmentOutsideMemoryError(name, segment.paddr, segment.memsz)


def _find_pvh_entry(notes: bytes, align: int) -> int | None:
    """The value of the first ``Xen`` PHYS32_ENTRY note in a note segment."""
    step = 8 if align == 8 else 4
    position = 0
    while position + _NOTE.size <= len(notes):
        namesz, descsz, note_type = _NOTE.unpack_from(notes, position)
        name_start = position + _NOTE.size
        desc_start = name_start + _round_up(namesz, step)
        if desc_start + descsz > len(notes):
            raise InvalidElfError(
                "note", position, f"name size {namesz:#x} / desc size {descsz:#x} overrun"
            )
        name = notes[name_start : name_start + namesz]
        if name == _XEN_NOTE_NAME and note_type == XEN_ELFNOTE_PHYS32_ENTRY:
            if descsz not in (4, 8):
                raise InvalidElfError(
                    "XEN_ELFNOTE_PHYS32_ENTRY size", descsz, "must be 4 or 8 bytes"
                )
            value = int.from_bytes(notes[desc_start : desc_start + descsz], "little")
            if value >= 1 << 32:
                raise InvalidElfError(
                    "XEN_ELFNOTE_PHYS32_ENTRY", value, "a 32-bit entry must be below 4 GiB"
                )
            return value
        position = desc_start + _round_up(descsz, step)
    return None


def _round_up(value: int, step: int) -> int:
    return (value + step - 1) // step * step
