"""QEMU's image tools as the oracle for the block-formats tests."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MISSING = "{} is not installed (Debian package qemu-utils: apt-get install -y qemu-utils)"


@dataclass(frozen=True)
class Qemu:
    """qemu-img (and qemu-io when present), run with check=True."""

    img: str
    io: str | None

    def run_img(self, *args: str | Path) -> str:
        return _run(self.img, *args)

    def run_io(self, image: Path, *commands: str, fmt: str = "qcow2") -> str:
        if self.io is None:
            pytest.skip(MISSING.format("qemu-io"))
        args: list[str | Path] = ["-f", fmt]
        for command in commands:
            args += ["-c", command]
        return _run(self.io, *args, image)

    def create(self, path: Path, size: str, *options: str) -> Path:
        self.run_img("create", "-q", "-f", "qcow2", *options, path, size)
        return path

    def check(self, image: Path) -> subprocess.CompletedProcess[str]:
        """`qemu-img check`; exit 0 means no errors and no leaks."""
        return subprocess.run(
            [self.img, "check", str(image)], capture_output=True, text=True, check=False
        )

    def identical(self, image: Path, raw: Path) -> bool:
        result = subprocess.run(
            [self.img, "compare", "-f", "qcow2", "-F", "raw", str(image), str(raw)],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0


def _run(*args: str | Path) -> str:
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result.stdout
