"""qcow2 disks: the block device serves the image's virtual disk, checked with qemu-img."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from vm_devices.virtio.devices.block import Block
from vm_devices.virtio.devices.disk import DiskImage
from vm_devices.virtio.devices.errors import DiskOpenError
from vm_devices.virtio.devices.formatted_disk import FormattedDisk, open_disk

MIB = 1 << 20
QEMU_IMG = shutil.which("qemu-img")
needs_qemu_img = pytest.mark.skipif(
    QEMU_IMG is None, reason="qemu-img is not installed (Debian package qemu-utils)"
)


def _qemu_img(*args: str) -> str:
    assert QEMU_IMG is not None
    done = subprocess.run([QEMU_IMG, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    """A raw file of random data and the same data as a qcow2 image (64 KiB clusters)."""
    raw, qcow2 = tmp_path / "disk.raw", tmp_path / "disk.qcow2"
    raw.write_bytes(random.Random(7).randbytes(3 * MIB) + bytes(MIB))
    _qemu_img("convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2))
    return raw, qcow2


@needs_qemu_img
def test_a_qcow2_image_is_detected_and_read_as_its_virtual_disk(
    images: tuple[Path, Path],
) -> None:
    raw, qcow2 = images
    disk = open_disk(qcow2, readonly=True)
    try:
        assert isinstance(disk, FormattedDisk)
        assert disk.size == raw.stat().st_size
        buffers = [bytearray(4096), bytearray(60000), bytearray(100)]
        disk.read([memoryview(b) for b in buffers], sum(map(len, buffers)), MIB - 4096)
        assert b"".join(buffers) == raw.read_bytes()[MIB - 4096 : MIB - 4096 + 64196]
    finally:
        disk.close()


@needs_qemu_img
def test_guest_writes_keep_the_image_consistent_for_qemu_img(images: tuple[Path, Path]) -> None:
    raw, qcow2 = images
    mirror = bytearray(raw.read_bytes())
    disk = open_disk(qcow2)
    rng = random.Random(11)
    try:
        for _ in range(40):
            offset = rng.randrange(0, len(mirror) - 200_000) & ~511
            data = [bytearray(rng.randbytes(rng.choice((512, 4096, 70_000)))) for _ in range(2)]
            length = sum(map(len, data))
            disk.write([memoryview(d) for d in data], length, offset)
            mirror[offset : offset + length] = b"".join(data)
        disk.write_zeroes(2 * MIB, 128 * 1024, unmap=True)
        mirror[2 * MIB : 2 * MIB + 128 * 1024] = bytes(128 * 1024)
        disk.flush()
    finally:
        disk.close()
    raw.write_bytes(mirror)
    _qemu_img("check", str(qcow2))
    assert "Images are identical" in _qemu_img("compare", str(qcow2), str(raw))


@needs_qemu_img
def test_image_type_raw_serves_the_file_bytes_and_options_qcow2_cannot_take_are_refused(
    images: tuple[Path, Path],
) -> None:
    _, qcow2 = images
    disk = open_disk(qcow2, readonly=True, image_type="raw")
    try:
        assert isinstance(disk, DiskImage)
        assert disk.size == qcow2.stat().st_size
    finally:
        disk.close()
    with pytest.raises(DiskOpenError, match=r"direct=on is not supported for qcow2"):
        open_disk(qcow2, direct=True)
    with pytest.raises(DiskOpenError, match="sparse=off preallocates raw images only"):
        open_disk(qcow2, sparse=False)


@needs_qemu_img
def test_the_block_device_shows_the_virtual_size_and_locks_the_image(
    images: tuple[Path, Path],
) -> None:
    raw, qcow2 = images
    block = Block(qcow2)
    try:
        assert block.capacity == raw.stat().st_size // 512
        with pytest.raises(DiskOpenError, match="lock"):
            Block(qcow2)
    finally:
        block.shutdown()


def test_a_corrupt_qcow2_header_is_a_clear_open_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"QFI\xfb" + bytes(60))  # the magic, then a version 0 header
    with pytest.raises(DiskOpenError, match=r"bad\.qcow2"):
        open_disk(bad)
    assert os.path.exists(bad)


def test_a_format_not_built_is_refused_by_name(tmp_path: Path) -> None:
    image = tmp_path / "disk.vhdx"
    image.write_bytes(b"vhdxfile" + bytes(4096))
    with pytest.raises(DiskOpenError, match=r"(?i)vhdx"):
        open_disk(image)
