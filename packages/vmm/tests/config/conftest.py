"""Fixtures for the configuration tests: real files for the kernel, initramfs and disks."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest


@pytest.fixture
def elf_kernel(tmp_path: Path) -> str:
    """A file that starts like an x86-64 ELF vmlinux (what the validator sniffs)."""
    path = tmp_path / "vmlinux"
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1)
    path.write_bytes(header + bytes(4096 - len(header)))
    return str(path)


@pytest.fixture
def bzimage_kernel(tmp_path: Path) -> str:
    """A file with the bzImage setup header magic "HdrS" at offset 0x202."""
    path = tmp_path / "bzImage"
    image = bytearray(8192)
    image[0x1FE:0x200] = b"\x55\xaa"
    image[0x202:0x206] = b"HdrS"
    path.write_bytes(bytes(image))
    return str(path)


@pytest.fixture
def initramfs(tmp_path: Path) -> str:
    path = tmp_path / "initramfs.cpio"
    path.write_bytes(b"070701" + bytes(506))
    return str(path)


@pytest.fixture
def disk_image(tmp_path: Path) -> str:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(1 << 16))
    return str(path)
