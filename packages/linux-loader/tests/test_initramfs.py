"""Initramfs placement: the highest aligned address under the ceiling, above the
kernel, read straight into guest memory; nothing written when it does not fit."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from linux_loader import InitramfsError, initramfs_ceiling, load_initramfs, read_setup_header
from vm_memory import GuestMemoryMmap

MiB = 1 << 20


def test_real_initramfs_at_the_top_of_the_window(memory: GuestMemoryMmap, initramfs: Path) -> None:
    data = initramfs.read_bytes()
    address, size = load_initramfs(memory, initramfs, lowest=32 * MiB, highest=128 * MiB)
    assert size == len(data)
    assert address == (128 * MiB - size) // 4096 * 4096
    assert hashlib.sha256(memory.read(address, size)).digest() == hashlib.sha256(data).digest()


def test_exact_fit_at_the_ceiling(memory: GuestMemoryMmap) -> None:
    assert load_initramfs(memory, io.BytesIO(b"x" * 8192), lowest=0, highest=0x10_0000) == (
        0x10_0000 - 8192,
        8192,
    )


def test_alignment_rounds_down(memory: GuestMemoryMmap) -> None:
    address, _ = load_initramfs(
        memory, io.BytesIO(b"x" * 10), lowest=0, highest=0x10_0000, alignment=2 * MiB
    )
    assert address == 0


def test_too_big_for_the_window(memory: GuestMemoryMmap) -> None:
    memory.write(0x10_0000, b"\xa5" * 0x2000)
    with pytest.raises(InitramfsError, match="does not fit") as caught:
        load_initramfs(memory, io.BytesIO(b"x" * 0x2001), lowest=0x10_0000, highest=0x10_2000)
    assert caught.value.size == 0x2001
    assert memory.read(0x10_0000, 0x2000) == b"\xa5" * 0x2000


def test_window_beyond_guest_memory(memory: GuestMemoryMmap) -> None:
    with pytest.raises(InitramfsError, match="not guest memory"):
        load_initramfs(memory, io.BytesIO(b"x"), lowest=0, highest=1 << 40)


def test_empty_image(memory: GuestMemoryMmap) -> None:
    with pytest.raises(InitramfsError, match="empty"):
        load_initramfs(memory, io.BytesIO(b""), lowest=0, highest=MiB)


@pytest.mark.parametrize("alignment", [0, 3, -4096])
def test_alignment_must_be_a_power_of_two(memory: GuestMemoryMmap, alignment: int) -> None:
    with pytest.raises(InitramfsError, match="power of two"):
        load_initramfs(memory, io.BytesIO(b"x"), lowest=0, highest=MiB, alignment=alignment)


def test_ceiling_under_initrd_addr_max(guest_bzimage: Path) -> None:
    header = read_setup_header(guest_bzimage)
    assert initramfs_ceiling(header, low_memory_end=1 << 32) == header.initrd_addr_max + 1
    assert initramfs_ceiling(header, low_memory_end=128 * MiB) == 128 * MiB
    assert initramfs_ceiling(None, low_memory_end=3 << 30) == 3 << 30
