"""Format detection by magic, as Cloud Hypervisor autodetects, and open_image's choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from block_formats import (
    ImageFormat,
    ImageIOError,
    Qcow2Image,
    UnsupportedFormatError,
    detect_format,
    open_image,
)
from qemu_oracle import Qemu


def _detect(path: Path) -> ImageFormat:
    fd = os.open(path, os.O_RDONLY)
    try:
        return detect_format(fd)
    finally:
        os.close(fd)


def _vhd_footer() -> bytes:
    footer = bytearray(512)
    footer[0:8] = b"conectix"
    footer[60:64] = (2).to_bytes(4, "big")  # fixed disk
    checksum = ~sum(footer) & 0xFFFFFFFF
    footer[64:68] = checksum.to_bytes(4, "big")
    return bytes(footer)


def test_qcow2_by_magic(qemu: Qemu, tmp_path: Path) -> None:
    image = qemu.create(tmp_path / "a.qcow2", "1M")
    assert _detect(image) is ImageFormat.QCOW2
    with open_image(image, read_only=True) as opened:
        assert isinstance(opened, Qcow2Image)


def test_vhdx_by_signature(tmp_path: Path) -> None:
    path = tmp_path / "a.vhdx"
    path.write_bytes(b"vhdxfile" + bytes(4096))
    assert _detect(path) is ImageFormat.VHDX


def test_vhd_by_checksummed_footer(tmp_path: Path) -> None:
    path = tmp_path / "a.vhd"
    path.write_bytes(bytes(4096) + _vhd_footer())
    assert _detect(path) is ImageFormat.VHD
    bad = bytearray(_vhd_footer())
    bad[67] ^= 1
    path.write_bytes(bytes(4096) + bad)
    assert _detect(path) is ImageFormat.RAW


def test_anything_else_is_raw(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_bytes(b"QFI")
    assert _detect(short) is ImageFormat.RAW
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert _detect(empty) is ImageFormat.RAW


@pytest.mark.parametrize("name", ["vhd", "vhdx"])
def test_formats_not_built_are_refused_by_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"a.{name}"
    path.write_bytes(b"vhdxfile" + bytes(4096) if name == "vhdx" else bytes(512) + _vhd_footer())
    with pytest.raises(UnsupportedFormatError, match=name) as raised:
        open_image(path, read_only=True)
    assert raised.value.format_name == name


def test_format_names_are_cloud_hypervisors() -> None:
    assert ImageFormat.from_name("QCOW2") is ImageFormat.QCOW2
    with pytest.raises(UnsupportedFormatError, match="vmdk"):
        ImageFormat.from_name("vmdk")


def test_a_missing_file_is_an_image_io_error(tmp_path: Path) -> None:
    with pytest.raises(ImageIOError):
        open_image(tmp_path / "nope", read_only=True)
