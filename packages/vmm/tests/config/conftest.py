"""Fixtures for the configuration tests: real files for the kernel, initramfs and disks."""

from __future__ import annotations

from pathlib import Path

import pytest
from linux_loader.testing import elf_image, pvh_note


@pytest.fixture
def elf_kernel(tmp_path: Path) -> str:
    """A tiny x86-64 ELF vmlinux with a PVH entry (one HLT at 16 MiB)."""
    path = tmp_path / "vmlinux"
    path.write_bytes(elf_image([(0x100_0000, b"\xf4", 0x1000)], notes=pvh_note(0x100_0000)))
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
