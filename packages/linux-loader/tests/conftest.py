"""Fixtures shared by the linux-loader tests: real kernels and guest memory (tiny ELFs are
`linux_loader.testing`'s)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from linux_loader.testing import ELF64_HEADER, PROGRAM_HEADER
from vm_memory import GuestMemoryMmap

REPO = Path(__file__).resolve().parents[3]
SHARED_GUEST = REPO.parent / "shared" / "guest"
DEBIAN_KERNEL = REPO / "build" / "debian-kernel" / "vmlinuz"
MEMORY_SIZE = 512 << 20


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


def read_program_headers(path: Path) -> list[tuple[int, ...]]:
    """The program headers of an ELF64 file, parsed independently of the loader."""
    with path.open("rb") as file:
        header = ELF64_HEADER.unpack(file.read(ELF64_HEADER.size))
        file.seek(header[5])
        table = file.read(header[10] * PROGRAM_HEADER.size)
    return list(PROGRAM_HEADER.iter_unpack(table))


@pytest.fixture
def program_headers() -> Callable[[Path], list[tuple[int, ...]]]:
    return read_program_headers
