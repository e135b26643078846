"""A hostile image gives the package's typed errors: never another exception, never a
huge allocation, never an endless loop."""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import pytest
from block_formats import (
    MAX_BACKING_DEPTH,
    BackingChainError,
    BlockFormatError,
    CorruptImageError,
    IncompatibleFeaturesError,
    InvalidHeaderError,
    Qcow2Image,
    UnsupportedFeatureError,
    open_image,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qemu_oracle import Qemu


def _patch(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(data)


@pytest.fixture
def image(qemu: Qemu, tmp_path: Path) -> Path:
    path = qemu.create(tmp_path / "a.qcow2", "1M")
    qemu.run_io(path, "write -P 9 0 200k")
    return path


@pytest.mark.parametrize("length", [0, 50, 100, 512, 0x10000])
def test_a_truncated_image_is_refused(image: Path, length: int) -> None:
    image.write_bytes(image.read_bytes()[:length])
    with pytest.raises(BlockFormatError):
        open_image(image, read_only=True, image_type=None).read(0, 1 << 20)


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "field"),
    [
        (4, ">I", 4, "version"),
        (20, ">I", 8, "cluster_bits"),
        (20, ">I", 22, "cluster_bits"),
        (24, ">Q", 1 << 62, "size"),
        (36, ">I", 0xFFFFFFFF, "l1_size"),
        (40, ">Q", 0x10000 + 8, "l1_table_offset"),
        (40, ">Q", 1 << 40, "l1_table_offset"),
        (48, ">Q", 0, "refcount_table_offset"),
        (56, ">I", 0xFFFFFFFF, "refcount_table_clusters"),
        (60, ">I", 1 << 30, "nb_snapshots"),
        (96, ">I", 7, "refcount_order"),
        (100, ">I", 1 << 30, "header_length"),
        (8, ">Q", 0xFFF0, "backing_file_size"),
    ],
)
def test_absurd_header_fields_are_named(
    image: Path, offset: int, fmt: str, value: int, field: str
) -> None:
    _patch(image, offset, fmt, value)
    if field == "backing_file_size":
        _patch(image, 16, ">I", 1000)
    with pytest.raises(InvalidHeaderError) as raised:
        open_image(image, read_only=True)
    assert raised.value.field == field


def test_an_l1_entry_outside_the_file_is_corruption(image: Path) -> None:
    with open_image(image, read_only=True) as opened:
        assert isinstance(opened, Qcow2Image)
        l1 = opened.header.l1_table_offset
    _patch(image, l1, ">Q", (1 << 63) | (1 << 40))
    with open_image(image, read_only=True) as opened, pytest.raises(CorruptImageError):
        opened.read(0, 512)


def test_unknown_incompatible_features_are_named(image: Path) -> None:
    _patch(image, 72, ">Q", (1 << 40) | (1 << 4))
    with pytest.raises(IncompatibleFeaturesError) as raised:
        open_image(image, read_only=True)
    assert raised.value.bits == (1 << 40) | (1 << 4)
    assert "unknown feature bit 40" in raised.value.names
    assert "extended L2 entries" in raised.value.names


def test_an_image_marked_corrupt_is_refused(image: Path) -> None:
    _patch(image, 72, ">Q", 2)
    with pytest.raises(CorruptImageError, match="marked corrupt"):
        open_image(image, read_only=True)


def test_encrypted_images_are_unsupported(image: Path) -> None:
    _patch(image, 32, ">I", 1)
    with pytest.raises(UnsupportedFeatureError, match="encrypted"):
        open_image(image, read_only=True)


def test_a_backing_file_that_is_itself_loops(qemu: Qemu, image: Path) -> None:
    qemu.run_img("rebase", "-u", "-f", "qcow2", "-b", image.name, "-F", "qcow2", image)
    with pytest.raises(BackingChainError, match="loops"):
        open_image(image, read_only=True)


def test_a_two_image_loop(qemu: Qemu, tmp_path: Path, image: Path) -> None:
    other = qemu.create(tmp_path / "b.qcow2", "1M", "-b", image.name, "-F", "qcow2")
    qemu.run_img("rebase", "-u", "-f", "qcow2", "-b", other.name, "-F", "qcow2", image)
    with pytest.raises(BackingChainError, match="loops"):
        open_image(other, read_only=True)


def test_a_chain_too_deep(qemu: Qemu, tmp_path: Path) -> None:
    previous = qemu.create(tmp_path / "0.qcow2", "64k")
    for depth in range(1, MAX_BACKING_DEPTH + 2):
        previous = qemu.create(
            tmp_path / f"{depth}.qcow2", "64k", "-b", previous.name, "-F", "qcow2"
        )
    with pytest.raises(BackingChainError, match="deeper"):
        open_image(previous, read_only=True)


def test_a_missing_backing_file(qemu: Qemu, tmp_path: Path) -> None:
    top = qemu.create(tmp_path / "top.qcow2", "64k", "-b", "gone.raw", "-F", "raw", "-u")
    with pytest.raises(BackingChainError, match=r"gone\.raw"):
        open_image(top, read_only=True)


def test_qcow2_image_needs_its_backing_file_given(qemu: Qemu, tmp_path: Path) -> None:
    base = qemu.create(tmp_path / "base.qcow2", "64k")
    top = qemu.create(tmp_path / "top.qcow2", "64k", "-b", base.name, "-F", "qcow2")
    fd = os.open(top, os.O_RDONLY)
    try:
        with pytest.raises(BackingChainError):
            Qcow2Image(fd, read_only=True, owned=False)
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def valid_image(qemu: Qemu, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small v3 image with 4 KiB clusters, some data, a zero and a compressed cluster."""
    folder = tmp_path_factory.mktemp("mutations")
    path = qemu.create(folder / "a.qcow2", "256k", "-o", "cluster_size=4k")
    qemu.run_io(path, "write -P 1 0 20k", "write -z 8k 4k", "write -c 64k 4k")
    return path.read_bytes()


def _metadata_offsets(image: bytes) -> list[int]:
    """Header bytes, and the L1, refcount table and first L2 and refcount block entries."""
    l1 = struct.unpack_from(">Q", image, 40)[0]
    refcount_table = struct.unpack_from(">Q", image, 48)[0]
    l2 = struct.unpack_from(">Q", image, l1)[0] & 0x00FF_FFFF_FFFF_FE00
    block = struct.unpack_from(">Q", image, refcount_table)[0]
    return (
        list(range(112))
        + list(range(l1, l1 + 16))
        + list(range(refcount_table, refcount_table + 16))
        + list(range(l2, l2 + 24 * 8))
        + list(range(block, block + 16))
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_metadata_gives_only_typed_errors(valid_image: bytes, data: st.DataObject) -> None:
    image = bytearray(valid_image)
    offsets = _metadata_offsets(valid_image)
    for _ in range(data.draw(st.integers(1, 6))):
        image[data.draw(st.sampled_from(offsets))] = data.draw(st.integers(0, 255))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.qcow2"
        path.write_bytes(image)
        for read_only in (True, False):
            try:
                with open_image(path, read_only=read_only) as opened:
                    size = min(opened.virtual_size, 256 << 10)
                    opened.read(0, size)
                    if opened.virtual_size:
                        opened.read(opened.virtual_size - 1, 1)
                    if not read_only and size > 70_000:
                        opened.write(5000, b"z" * 70_000)
                        opened.discard(0, size)
            except BlockFormatError:
                pass
