"""Seeds for fuzz_load_kernel from the real kernels on this machine, a few KiB each.

A real kernel is megabytes, but the loader only decides on its headers, so a
seed keeps what it reads and cuts the rest:

* an ELF vmlinux: its ELF header and program headers, its notes (the PVH
  entry) and the first 4 KiB of each PT_LOAD, laid out again with each
  segment at its real physical address but cut to those 4 KiB; and the
  first 4 KiB of the file as it is (segments past its end);
* a bzImage: its real-mode setup code and the first 4 KiB of the kernel
  after it, with `syssize` cut to those 4 KiB (it loads), and the same bytes
  with the real `syssize` (the kernel runs past the end of the file).

The kernels are the project's test guest (`vmlinux`, `vmlinux-acpi`,
`bzImage`, found where linux-loader's tests look: $CH_GUEST_DIR,
build/guest, the shared guest) and Debian's kernel
(`scripts/fetch-debian-kernel.sh build/debian-kernel`), or those named in
$CH_FUZZ_KERNELS (paths separated by ':'). Kernels that are not there are
skipped. fuzz_load_kernel derives its seeds from them at each start.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

from linux_loader.testing import ELF64_HEADER, PROGRAM_HEADER, PT_LOAD, PT_NOTE

REPO = Path(__file__).resolve().parents[3]
GUEST_FILES = ("vmlinux", "vmlinux-acpi", "bzImage")
KEEP = 4096  # bytes kept of each segment, and of a bzImage's kernel
SETUP_HEADER = 0x1F1
SYSSIZE = 0x1F4


def kernel_paths() -> list[Path]:
    """The real kernels to derive seeds from, those that exist."""
    if os.environ.get("CH_FUZZ_KERNELS"):
        candidates = [Path(p) for p in os.environ["CH_FUZZ_KERNELS"].split(":") if p]
    else:
        folders = [REPO / "build" / "guest", REPO.parent / "shared" / "guest"]
        if os.environ.get("CH_GUEST_DIR"):
            folders.insert(0, Path(os.environ["CH_GUEST_DIR"]))
        candidates = [folder / name for folder in folders for name in GUEST_FILES]
        candidates.append(REPO / "build" / "debian-kernel" / "vmlinuz")
    return [path for path in candidates if path.is_file()]


def elf_skeleton(path: Path) -> bytes:
    """The ELF file's headers and notes, each PT_LOAD cut to its first KEEP bytes."""
    with path.open("rb") as file:
        header = bytearray(file.read(ELF64_HEADER.size))
        fields = list(ELF64_HEADER.unpack(header))
        phoff, phnum = fields[5], fields[10]
        file.seek(phoff)
        table = file.read(phnum * PROGRAM_HEADER.size)
        headers = [list(entry) for entry in PROGRAM_HEADER.iter_unpack(table)]
        chunks: list[bytes] = []
        for entry in headers:
            p_type, offset, filesz = entry[0], entry[2], entry[5]
            keep = filesz if p_type == PT_NOTE else min(filesz, KEEP)
            file.seek(offset)
            chunks.append(file.read(keep) if p_type in (PT_LOAD, PT_NOTE) else b"")
    fields[5] = ELF64_HEADER.size  # program headers right after the ELF header
    fields[6] = 0  # no section headers
    fields[11:14] = [0, 0, 0]
    image = bytearray(ELF64_HEADER.pack(*fields) + bytes(phnum * PROGRAM_HEADER.size))
    for index, (entry, chunk) in enumerate(zip(headers, chunks, strict=True)):
        if entry[0] in (PT_LOAD, PT_NOTE):
            image += bytes(-len(image) % KEEP if entry[0] == PT_LOAD else -len(image) % 8)
            entry[2] = len(image)  # p_offset
            entry[5] = len(chunk)  # p_filesz
            if entry[0] == PT_LOAD:
                entry[6] = max(len(chunk), min(entry[6], 2 * KEEP))  # p_memsz
            image += chunk
        PROGRAM_HEADER.pack_into(image, ELF64_HEADER.size + index * PROGRAM_HEADER.size, *entry)
    return bytes(image)


def bzimage_prefixes(path: Path) -> Iterator[bytes]:
    """The setup code and KEEP kernel bytes: with syssize cut to them, and as they are."""
    with path.open("rb") as file:
        head = file.read(0x1000)
        setup_sects = head[SETUP_HEADER] or 4
        setup_size = (setup_sects + 1) * 512
        file.seek(0)
        prefix = bytearray(file.read(setup_size + KEEP))
    yield bytes(prefix)
    struct.pack_into("<I", prefix, SYSSIZE, (len(prefix) - setup_size) // 16)
    yield bytes(prefix)


def kernel_seeds(paths: list[Path] | None = None) -> Iterator[bytes]:
    """The seeds of each kernel in `paths` (default: `kernel_paths()`), unprefixed."""
    for path in kernel_paths() if paths is None else paths:
        with path.open("rb") as file:
            head = file.read(KEEP)
        if head[:4] == b"\x7fELF":
            yield elf_skeleton(path)
            yield head
        elif head[0x202:0x206] == b"HdrS":
            yield from bzimage_prefixes(path)
