"""load_kernel tells ELF from bzImage by magic and refuses anything else."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from linux_loader import UnknownImageFormatError, load_kernel
from linux_loader.testing import elf_image
from vm_memory import GuestMemoryMmap


def test_elf_is_loaded_as_elf(memory: GuestMemoryMmap, vmlinux: Path) -> None:
    result = load_kernel(memory, vmlinux)
    assert result.pvh_entry is not None
    assert result.setup_header is None


def test_bzimage_is_loaded_as_bzimage(memory: GuestMemoryMmap, guest_bzimage: Path) -> None:
    result = load_kernel(memory, guest_bzimage)
    assert result.setup_header is not None
    assert result.entry == result.kernel_load + 0x200


def test_highmem_start_reaches_the_elf_loader(memory: GuestMemoryMmap) -> None:
    image = elf_image([(0x8000, b"fw", 2)])
    assert load_kernel(memory, io.BytesIO(image), highmem_start=0).kernel_load == 0x8000


@pytest.mark.parametrize("data", [b"", b"MZ", bytes(4096), b"\x7fELG" + bytes(100)])
def test_anything_else_is_refused(memory: GuestMemoryMmap, data: bytes) -> None:
    with pytest.raises(UnknownImageFormatError, match="neither ELF nor bzImage"):
        load_kernel(memory, io.BytesIO(data))
