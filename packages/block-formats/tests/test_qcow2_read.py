"""Qcow2Image reads what QEMU wrote: images made by qemu-img and qemu-io are the oracle."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from block_formats import Qcow2Image, open_image
from qemu_oracle import Qemu

SIZE = 3 << 20


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """3 MiB of random data, with a zero MiB in the middle."""
    data = bytearray(random.Random(15).randbytes(SIZE))
    data[1 << 20 : 2 << 20] = bytes(1 << 20)
    path = tmp_path / "data.raw"
    path.write_bytes(data)
    return path


def _whole(path: Path) -> bytes:
    with open_image(path, read_only=True) as image:
        return image.read(0, image.virtual_size)


@pytest.mark.parametrize(
    "options",
    [
        ["-o", "compat=0.10"],
        ["-o", "compat=1.1"],
        ["-o", "cluster_size=512"],
        ["-o", "cluster_size=2M"],
        ["-o", "refcount_bits=1"],
        ["-o", "refcount_bits=64,cluster_size=4k"],
    ],
    ids=["v2", "v3", "512-byte-clusters", "2M-clusters", "1-bit-refcounts", "64-bit-refcounts"],
)
def test_converted_image_reads_back_equal(
    qemu: Qemu, tmp_path: Path, raw: Path, options: list[str]
) -> None:
    image = tmp_path / "a.qcow2"
    qemu.run_img("convert", "-f", "raw", "-O", "qcow2", *options, raw, image)
    assert _whole(image) == raw.read_bytes()


def test_version_2_and_3_headers_are_parsed(qemu: Qemu, tmp_path: Path) -> None:
    for compat, version in (("0.10", 2), ("1.1", 3)):
        path = qemu.create(tmp_path / f"{version}.qcow2", "5M", "-o", f"compat={compat}")
        with open_image(path, read_only=True) as image:
            assert isinstance(image, Qcow2Image)
            assert image.header.version == version
            assert image.virtual_size == 5 << 20
            assert image.read(0, 5 << 20) == bytes(5 << 20)


def test_compressed_image_reads_back_equal(qemu: Qemu, tmp_path: Path, raw: Path) -> None:
    image = tmp_path / "c.qcow2"
    qemu.run_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, image)
    assert _whole(image) == raw.read_bytes()
    with open_image(image, read_only=True) as opened:
        assert opened.read(65536 - 10, 20) == raw.read_bytes()[65536 - 10 : 65536 + 10]


@pytest.mark.parametrize("backing_format", ["qcow2", "raw"])
def test_unallocated_clusters_read_the_backing_file(
    qemu: Qemu, tmp_path: Path, raw: Path, backing_format: str
) -> None:
    if backing_format == "qcow2":
        base = tmp_path / "base.qcow2"
        qemu.run_img("convert", "-f", "raw", "-O", "qcow2", raw, base)
    else:
        base = raw
    top = qemu.create(tmp_path / "top.qcow2", "4M", "-b", base.name, "-F", backing_format)
    qemu.run_io(top, "write -P 0xab 70000 5000")
    expected = bytearray(raw.read_bytes() + bytes(1 << 20))  # past the backing: zeros
    expected[70000:75000] = b"\xab" * 5000
    assert _whole(top) == expected


def test_zero_clusters_hide_the_backing_file(qemu: Qemu, tmp_path: Path, raw: Path) -> None:
    top = qemu.create(tmp_path / "top.qcow2", "3M", "-b", raw.name, "-F", "raw")
    qemu.run_io(top, "write -z 0 128k", "write -P 7 128k 64k", "write -z 160k 64k")
    expected = bytearray(raw.read_bytes())
    expected[0 : 128 << 10] = bytes(128 << 10)
    expected[128 << 10 : 160 << 10] = b"\x07" * (32 << 10)
    expected[160 << 10 : 224 << 10] = bytes(64 << 10)
    assert _whole(top) == expected


def test_a_chain_of_three_reads_through(qemu: Qemu, tmp_path: Path, raw: Path) -> None:
    qemu.create(tmp_path / "mid.qcow2", "3M", "-b", raw.name, "-F", "raw")
    qemu.run_io(tmp_path / "mid.qcow2", "write -P 1 0 100k")
    top = qemu.create(tmp_path / "top.qcow2", "3M", "-b", "mid.qcow2", "-F", "qcow2")
    qemu.run_io(top, "write -P 2 50k 10k")
    expected = bytearray(raw.read_bytes())
    expected[0 : 100 << 10] = b"\x01" * (100 << 10)
    expected[50 << 10 : 60 << 10] = b"\x02" * (10 << 10)
    assert _whole(top) == expected
