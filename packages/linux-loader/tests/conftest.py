"""Fixtures shared by the linux-loader tests: real kernels, guest memory, tiny ELFs."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from vm_memory import GuestMemoryMmap

REPO = Path(__file__).resolve().parents[3]
SHARED_GUEST = REPO.parent / "shared" / "guest"
DEBIAN_KERNEL = REPO / "build" / "debian-kernel" / "vmlinuz"
MEMORY_SIZE = 512 << 20

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD = 1
PT_NOTE = 4


def guest_dirs() -> list[Path]:
    """Where the test guest may be, in order: $CH_GUEST_DIR, the project's own
    build, the shared reference guest."""
    dirs = [REPO / "build" / "guest", SHARED_GUEST]
    if os.environ.get("CH_GUEST_DIR"):
        dirs.insert(0, Path(os.environ["CH_GUEST_DIR"]))
    return dirs


def find_guest_file(name: str) -> Path | None:
    for folder in guest_dirs():
        if (folder / name).is_file():
            return folder / name
    return None


def _require(path: Path | None, what: str) -> Path:
    if path is None:
        where = ", ".join(str(folder) for folder in guest_dirs())
        pytest.skip(f"no {what} in {where} (build the guest: scripts/dev_cli.sh build-guest)")
    return path


@pytest.fixture(scope="session")
def vmlinux() -> Path:
    return _require(find_guest_file("vmlinux"), "vmlinux")


@pytest.fixture(scope="session")
def guest_bzimage() -> Path:
    return _require(find_guest_file("bzImage"), "bzImage")


@pytest.fixture(scope="session")
def initramfs() -> Path:
    return _require(find_guest_file("initramfs.cpio"), "initramfs.cpio")


@pytest.fixture(scope="session")
def debian_kernel() -> Path:
    if not DEBIAN_KERNEL.is_file():
        pytest.skip(
            f"{DEBIAN_KERNEL} is missing: run scripts/fetch-debian-kernel.sh {DEBIAN_KERNEL.parent}"
        )
    return DEBIAN_KERNEL


@pytest.fixture
def memory() -> Iterator[GuestMemoryMmap]:
    """512 MiB of guest RAM from address 0."""
    with GuestMemoryMmap.from_ranges([(0, MEMORY_SIZE)]) as mem:
        yield mem


def elf_note(name: bytes, note_type: int, desc: bytes) -> bytes:
    """One ELF note, name and desc padded to 4 bytes."""

    def pad(data: bytes) -> bytes:
        return data + bytes(-len(data) % 4)

    return struct.pack("<III", len(name), len(desc), note_type) + pad(name) + pad(desc)


def build_elf(
    segments: Sequence[tuple[int, bytes, int]],
    *,
    entry: int = 0x100_0000,
    notes: bytes = b"",
    e_type: int = 2,
    machine: int = 62,
) -> bytes:
    """A little-endian ELF64 executable: ``segments`` are ``(paddr, data, memsz)``
    PT_LOADs (data at 4 KiB-aligned file offsets), ``notes`` one PT_NOTE."""
    phnum = len(segments) + (1 if notes else 0)
    image = bytearray(EHDR.size + PHDR.size * phnum)
    headers = []
    if notes:
        headers.append(PHDR.pack(PT_NOTE, 4, len(image), 0, 0, len(notes), len(notes), 4))
        image += notes
    for paddr, data, memsz in segments:
        image += bytes(-len(image) % 4096)
        vaddr = (0xFFFF_FFFF_8000_0000 + paddr) % (1 << 64)
        headers.append(PHDR.pack(PT_LOAD, 7, len(image), vaddr, paddr, len(data), memsz, 4096))
        image += data
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    image[: EHDR.size] = EHDR.pack(
        ident, e_type, machine, 1, entry, EHDR.size, 0, 0, EHDR.size, PHDR.size, phnum, 64, 0, 0
    )
    image[EHDR.size : EHDR.size + PHDR.size * phnum] = b"".join(headers)
    return bytes(image)


@pytest.fixture
def make_elf() -> Callable[..., bytes]:
    return build_elf


@pytest.fixture
def make_note() -> Callable[[bytes, int, bytes], bytes]:
    return elf_note


def read_program_headers(path: Path) -> list[tuple[int, ...]]:
    """The program headers of an ELF64 file, parsed independently of the loader."""
    with path.open("rb") as file:
        header = EHDR.unpack(file.read(EHDR.size))
        file.seek(header[5])
        table = file.read(header[10] * PHDR.size)
    return list(PHDR.iter_unpack(table))


@pytest.fixture
def program_headers() -> Callable[[Path], list[tuple[int, ...]]]:
    return read_program_headers
