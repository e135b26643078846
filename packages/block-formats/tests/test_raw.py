"""RawImage: the file's bytes are the disk's bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from block_formats import (
    ImageClosedError,
    ImageFormat,
    OutOfRangeError,
    RawImage,
    ReadOnlyImageError,
    open_image,
)


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "disk.raw"
    path.write_bytes(bytes(range(256)) * 1024)  # 256 KiB
    return path


def test_reads_the_file_bytes(raw: Path) -> None:
    with open_image(raw, read_only=True) as image:
        assert isinstance(image, RawImage)
        assert image.virtual_size == 256 * 1024
        buffer = bytearray(300)
        image.read_into(1000, buffer)
        assert bytes(buffer) == raw.read_bytes()[1000:1300]


def test_writes_land_in_the_file(raw: Path) -> None:
    with open_image(raw, read_only=False) as image:
        image.write(4095, b"hello")
        image.flush()
    assert raw.read_bytes()[4095:4100] == b"hello"


def test_discard_and_write_zeroes_read_zeros(raw: Path) -> None:
    with open_image(raw, read_only=False, image_type=ImageFormat.RAW) as image:
        image.discard(8192, 8192)
        image.write_zeroes(100, 50)
        assert image.read(8192, 8192) == bytes(8192)
        assert image.read(100, 50) == bytes(50)
        assert image.read(150, 1) == bytes([150])


def test_read_only_refuses_changes(raw: Path) -> None:
    with open_image(raw, read_only=True) as image:
        with pytest.raises(ReadOnlyImageError):
            image.write(0, b"x")
        with pytest.raises(ReadOnlyImageError):
            image.discard(0, 512)
        with pytest.raises(ReadOnlyImageError):
            image.write_zeroes(0, 512)


def test_access_past_the_end_is_refused(raw: Path) -> None:
    with open_image(raw, read_only=False) as image:
        with pytest.raises(OutOfRangeError):
            image.read(256 * 1024 - 1, 2)
        with pytest.raises(OutOfRangeError):
            image.write(-1, b"x")
    assert raw.stat().st_size == 256 * 1024


def test_closed_image_refuses_io(raw: Path) -> None:
    image = open_image(raw, read_only=True)
    image.close()
    image.close()
    with pytest.raises(ImageClosedError):
        image.read(0, 1)


def test_raw_image_over_a_borrowed_fd_leaves_it_open(raw: Path) -> None:
    fd = os.open(raw, os.O_RDONLY)
    try:
        RawImage(fd, read_only=True, owned=False).close()
        assert os.read(fd, 2) == b"\x00\x01"
    finally:
        os.close(fd)
