"""Writes through Qcow2Image leave an image QEMU accepts: `qemu-img check` finds no
errors and no leaks, and `qemu-img compare` finds it equal to a raw disk given the
same writes."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from block_formats import DiskImage, Qcow2Image, UnsupportedFeatureError, open_image
from qemu_oracle import Qemu

SIZE = 4 << 20


def _random_writes(image: DiskImage, mirror: bytearray, seed: int, count: int = 40) -> None:
    """Writes of random data at random offsets and lengths, most crossing clusters."""
    rng = random.Random(seed)
    for _ in range(count):
        offset = rng.randrange(len(mirror))
        data = rng.randbytes(rng.randrange(1, min(150_000, len(mirror) - offset) + 1))
        image.write(offset, data)
        mirror[offset : offset + len(data)] = data


def _assert_qemu_agrees(qemu: Qemu, image: Path, mirror: bytes, tmp_path: Path) -> None:
    check = qemu.check(image)
    assert check.returncode == 0, check.stdout + check.stderr
    raw = tmp_path / "mirror.raw"
    raw.write_bytes(mirror)
    assert qemu.identical(image, raw)


@pytest.mark.parametrize(
    "options",
    [
        ["-o", "compat=0.10"],
        ["-o", "compat=1.1"],
        ["-o", "cluster_size=4k"],
        ["-o", "cluster_size=512,refcount_bits=1"],
        ["-o", "refcount_bits=64"],
    ],
    ids=["v2", "v3", "4k-clusters", "512-byte-clusters-1-bit-refcounts", "64-bit-refcounts"],
)
def test_random_writes_match_a_raw_copy(qemu: Qemu, tmp_path: Path, options: list[str]) -> None:
    path = qemu.create(tmp_path / "a.qcow2", str(SIZE), *options)
    mirror = bytearray(SIZE)
    with open_image(path, read_only=False) as image:
        _random_writes(image, mirror, seed=len(options[1]))
        assert image.read(0, SIZE) == mirror
        image.flush()
    _assert_qemu_agrees(qemu, path, bytes(mirror), tmp_path)


def test_partial_writes_copy_the_backing_file(qemu: Qemu, tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    original = random.Random(1).randbytes(SIZE - (1 << 20))  # shorter than the top
    base.write_bytes(original)
    top = qemu.create(tmp_path / "top.qcow2", str(SIZE), "-b", base.name, "-F", "raw")
    mirror = bytearray(base.read_bytes() + bytes(1 << 20))
    with open_image(top, read_only=False) as image:
        _random_writes(image, mirror, seed=2)
        assert image.read(0, SIZE) == mirror
    assert base.read_bytes() == original
    _assert_qemu_agrees(qemu, top, bytes(mirror), tmp_path)


def test_the_backing_file_is_never_written(qemu: Qemu, tmp_path: Path) -> None:
    base = qemu.create(tmp_path / "base.qcow2", "1M")
    before = base.read_bytes()
    top = qemu.create(tmp_path / "top.qcow2", "1M", "-b", base.name, "-F", "qcow2")
    with open_image(top, read_only=False) as image:
        image.write(100, b"x" * 70000)
    assert base.read_bytes() == before


def test_overwriting_compressed_clusters(qemu: Qemu, tmp_path: Path) -> None:
    raw = tmp_path / "data.raw"
    raw.write_bytes(random.Random(3).randbytes(SIZE // 2) * 2)
    path = tmp_path / "c.qcow2"
    qemu.run_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, path)
    mirror = bytearray(raw.read_bytes())
    with open_image(path, read_only=False) as image:
        _random_writes(image, mirror, seed=4, count=20)
        image.discard(1 << 20, 1 << 20)
        mirror[1 << 20 : 2 << 20] = bytes(1 << 20)
    _assert_qemu_agrees(qemu, path, bytes(mirror), tmp_path)


@pytest.mark.parametrize("with_backing", [False, True], ids=["alone", "over-backing"])
@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_write_zeroes_and_discard(
    qemu: Qemu, tmp_path: Path, compat: str, with_backing: bool
) -> None:
    options = ["-o", f"compat={compat}"]
    mirror = bytearray(SIZE)
    if with_backing:
        base = tmp_path / "base.raw"
        base.write_bytes(b"\x5a" * SIZE)
        options += ["-b", base.name, "-F", "raw"]
        mirror[:] = base.read_bytes()
    path = qemu.create(tmp_path / "a.qcow2", str(SIZE), *options)
    with open_image(path, read_only=False) as image:
        _random_writes(image, mirror, seed=5, count=10)
        image.write_zeroes(10_000, 300_000)
        mirror[10_000:310_000] = bytes(300_000)
        image.write_zeroes(SIZE - 70_000, 70_000)
        mirror[SIZE - 70_000 :] = bytes(70_000)
        image.discard(1 << 20, 5 << 16)
        if not (with_backing and compat == "0.10"):  # v2 over a backing file keeps them
            mirror[1 << 20 : (1 << 20) + (5 << 16)] = bytes(5 << 16)
        assert image.read(0, SIZE) == mirror
    _assert_qemu_agrees(qemu, path, bytes(mirror), tmp_path)


def test_many_clusters_add_refcount_blocks(qemu: Qemu, tmp_path: Path) -> None:
    """512-byte clusters with 16-bit refcounts: one refcount block covers 128 KiB."""
    path = qemu.create(tmp_path / "a.qcow2", "2M", "-o", "cluster_size=512")
    mirror = bytearray(random.Random(6).randbytes(2 << 20))
    with open_image(path, read_only=False) as image:
        image.write(0, mirror)
    _assert_qemu_agrees(qemu, path, bytes(mirror), tmp_path)


def test_a_dirty_image_opens_read_only_but_not_read_write(qemu: Qemu, tmp_path: Path) -> None:
    path = qemu.create(tmp_path / "a.qcow2", "1M")
    with path.open("r+b") as file:
        file.seek(79)
        file.write(b"\x01")
    with open_image(path, read_only=True) as image:
        assert isinstance(image, Qcow2Image)
        assert image.header.dirty
    with pytest.raises(UnsupportedFeatureError, match="dirty"):
        open_image(path, read_only=False)


def test_an_image_with_snapshots_opens_read_only_only(qemu: Qemu, tmp_path: Path) -> None:
    path = qemu.create(tmp_path / "a.qcow2", "1M")
    qemu.run_io(path, "write -P 3 0 64k")
    qemu.run_img("snapshot", "-c", "first", path)
    qemu.run_io(path, "write -P 4 0 4k")
    with open_image(path, read_only=True) as image:
        assert image.read(0, 8192) == b"\x04" * 4096 + b"\x03" * 4096
    with pytest.raises(UnsupportedFeatureError, match="snapshots"):
        open_image(path, read_only=False)


def test_writing_clears_autoclear_features(qemu: Qemu, tmp_path: Path) -> None:
    path = qemu.create(tmp_path / "a.qcow2", "1M")
    with path.open("r+b") as file:
        file.seek(95)
        file.write(b"\x01")  # bitmaps extension bit, which this writer does not maintain
    open_image(path, read_only=False).close()
    assert path.read_bytes()[88:96] == bytes(8)
    assert qemu.check(path).returncode == 0


def test_copy_of_an_image_is_independent(qemu: Qemu, tmp_path: Path) -> None:
    """A sanity check of the test's own oracle: a changed image no longer compares equal."""
    path = qemu.create(tmp_path / "a.qcow2", "1M")
    copy = tmp_path / "b.qcow2"
    shutil.copy(path, copy)
    with open_image(copy, read_only=False) as image:
        image.write(5, b"!")
    raw = tmp_path / "zero.raw"
    raw.write_bytes(bytes(1 << 20))
    assert qemu.identical(path, raw)
    assert not qemu.identical(copy, raw)
