"""The host side of virtio-blk: opening, locking and moving data in a raw image."""

from __future__ import annotations

import errno
import logging
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from vm_devices.virtio.devices import DiskImage, DiskLockedError, DiskOpenError

SHM = Path("/dev/shm")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(64 << 10))
    return path


@pytest.fixture
def tmpfs_image() -> Iterator[Path]:
    """An image on tmpfs, which cannot zero a range in place (no FALLOC_FL_ZERO_RANGE)."""
    if not SHM.is_dir():
        pytest.skip("no tmpfs at /dev/shm")
    path = SHM / f"vm-devices-test-{os.getpid()}.img"
    path.write_bytes(os.urandom(64 << 10))
    yield path
    path.unlink()


def test_capacity_counts_whole_sectors_and_warns_about_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "odd.img"
    path.write_bytes(bytes(1000))
    with caplog.at_level(logging.WARNING):
        disk = DiskImage(path)
    assert (disk.size, disk.capacity) == (1000, 1)
    assert "488 bytes past the last whole sector" in caplog.text
    disk.close()


def test_missing_image_is_a_disk_open_error_with_errno(tmp_path: Path) -> None:
    with pytest.raises(DiskOpenError) as caught:
        DiskImage(tmp_path / "nothing.img")
    assert caught.value.errno == errno.ENOENT
    assert caught.value.path == str(tmp_path / "nothing.img")


def test_directory_is_not_a_disk(tmp_path: Path) -> None:
    with pytest.raises(DiskOpenError, match="not a regular file or a block device"):
        DiskImage(tmp_path, readonly=True)


def test_second_writer_is_refused(image: Path) -> None:
    first = DiskImage(image)
    with pytest.raises(DiskLockedError) as caught:
        DiskImage(image)
    assert caught.value.readonly is False
    with pytest.raises(DiskLockedError):
        DiskImage(image, readonly=True)
    first.close()
    DiskImage(image).close()  # the lock went with the first image


def test_readers_share_an_image(image: Path) -> None:
    first = DiskImage(image, readonly=True)
    second = DiskImage(image, readonly=True)
    with pytest.raises(DiskLockedError):
        DiskImage(image)
    first.close()
    second.close()


def test_lock_can_be_left_off(image: Path) -> None:
    first = DiskImage(image)
    second = DiskImage(image, lock=False)
    first.close()
    second.close()


def test_direct_image_reads_and_writes_page_cache_free(image: Path) -> None:
    disk = DiskImage(image, direct=True)
    assert disk.block_size in (512, 4096)
    with mmap.mmap(-1, 8192) as buffer:
        view = memoryview(buffer)
        disk.read([view[:4096]], 4096, 4096)
        assert bytes(view[:4096]) == image.read_bytes()[4096:8192]
        view[4096:] = os.urandom(4096)
        disk.write([view[4096:]], 4096, 0)
        assert image.read_bytes()[:4096] == bytes(view[4096:])
        view.release()
    disk.close()


def test_bounce_buffer_moves_unaligned_guest_buffers(image: Path) -> None:
    """The path for buffers O_DIRECT refuses (EINVAL); this kernel accepts
    unaligned buffers on its own, so the path is called directly."""
    disk = DiskImage(image, direct=True)
    with mmap.mmap(-1, 8192) as buffer:
        view = memoryview(buffer)
        pieces = [view[1:301], view[400:612]]  # 512 bytes at odd addresses
        disk._bounce(pieces, 512, 1024, write=False)
        assert bytes(pieces[0]) + bytes(pieces[1]) == image.read_bytes()[1024:1536]
        pieces[0][:] = b"\x11" * 300
        pieces[1][:] = b"\x22" * 212
        disk._bounce(pieces, 512, 0, write=True)
        assert image.read_bytes()[:512] == b"\x11" * 300 + b"\x22" * 212
        del pieces
        view.release()
    disk.close()


def test_read_of_more_buffers_than_iov_max_is_split(image: Path) -> None:
    disk = DiskImage(image)
    with mmap.mmap(-1, 32 << 10) as buffer:
        view = memoryview(buffer)
        pieces = [view[i * 16 : i * 16 + 16] for i in range(2048)]  # 2048 views of 16 bytes
        disk.read(pieces, 32 << 10, 0)
        assert bytes(view) == image.read_bytes()[: 32 << 10]
        del pieces
        view.release()
    disk.close()


def test_read_past_the_end_of_a_shrunken_image_is_eio(image: Path) -> None:
    disk = DiskImage(image)
    os.truncate(image, 4096)
    with mmap.mmap(-1, 4096) as buffer:
        view = memoryview(buffer)
        with pytest.raises(OSError, match="end of the image") as caught:
            disk.read([view], 4096, 8192)
        assert caught.value.errno == errno.EIO
        view.release()
    disk.close()


def test_write_zeroes_without_zero_range_support_writes_zeros(tmpfs_image: Path) -> None:
    disk = DiskImage(tmpfs_image)
    disk.write_zeroes(4096, 8192, unmap=False)
    data = tmpfs_image.read_bytes()
    assert data[4096:12288] == bytes(8192)
    assert data[:4096] != bytes(4096)
    disk.close()


def test_write_zeroes_with_unmap_punches_a_hole(tmpfs_image: Path) -> None:
    disk = DiskImage(tmpfs_image)
    before = tmpfs_image.stat().st_blocks
    disk.write_zeroes(0, 32768, unmap=True)
    assert tmpfs_image.read_bytes()[:32768] == bytes(32768)
    assert tmpfs_image.stat().st_blocks < before
    disk.close()
