"""Disk image autodetection against images made by QEMU's own `qemu-img` (the oracle)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from vmm.config import VmParams, parse_vm_config, validate
from vmm.config.devices import ImageType
from vmm.config.errors import ValidationError
from vmm.config.image_format import detect_image_type

QEMU_IMG = shutil.which("qemu-img")
needs_qemu_img = pytest.mark.skipif(
    QEMU_IMG is None and not os.environ.get("CI"), reason="qemu-img (Debian qemu-utils) is missing"
)


def _made_by_qemu_img(folder: Path, fmt: str) -> Path:
    assert QEMU_IMG is not None, "qemu-img (Debian qemu-utils) is needed in CI"
    path = folder / f"disk.{fmt}"
    options = ["-o", "subformat=fixed"] if fmt == "vpc" else []
    subprocess.run([QEMU_IMG, "create", "-q", "-f", fmt, *options, str(path), "4M"], check=True)
    return path


def _detect(path: Path) -> ImageType:
    fd = os.open(path, os.O_RDONLY)
    try:
        return detect_image_type(fd)
    finally:
        os.close(fd)


@needs_qemu_img
@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("raw", ImageType.RAW),
        ("qcow2", ImageType.QCOW2),
        ("vpc", ImageType.FIXED_VHD),
        ("vhdx", ImageType.VHDX),
    ],
)
def test_detects_the_format_qemu_img_wrote(tmp_path: Path, fmt: str, expected: ImageType) -> None:
    assert _detect(_made_by_qemu_img(tmp_path, fmt)) is expected


def test_a_small_or_empty_file_is_raw(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "tiny").write_bytes(b"QF")
    assert _detect(tmp_path / "empty") is _detect(tmp_path / "tiny") is ImageType.RAW


@needs_qemu_img
def test_a_qcow2_disk_is_refused_unless_image_type_raw(tmp_path: Path, elf_kernel: str) -> None:
    image = _made_by_qemu_img(tmp_path, "qcow2")
    with pytest.raises(ValidationError) as raised:
        validate(parse_vm_config(VmParams(kernel=elf_kernel, disks=(f"path={image}",))))
    assert raised.value.path == "disks[0].path"
    assert "is a QCOW2 image, which this VMM does not serve yet" in raised.value.message
    forced = VmParams(kernel=elf_kernel, disks=(f"path={image},image_type=raw",))
    assert validate(parse_vm_config(forced)).disks is not None
