"""Bad input to `cloud-hypervisor` ends with one clear error line and a non-zero status."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from harness import Guest, vmm_executable


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [vmm_executable(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_kernel_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-vmlinux"
    _assert_one_line_error(_run("--kernel", str(missing)), str(missing))


def test_a_file_that_is_not_a_kernel(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a kernel image\n" * 100)
    _assert_one_line_error(_run("--kernel", str(bogus)), str(bogus))


def test_too_little_memory(guest: Guest) -> None:
    result = _run("--kernel", str(guest.vmlinux), "--memory", "size=1M")
    _assert_one_line_error(result, "--memory")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--cpus", "boot=0"),
        ("--cpus", "boot=two"),
        ("--memory", "size=12Q"),
        ("--serial", "sideways"),
        ("--disk", "path=/nonexistent/disk.img"),
        ("--net", "mac=12:34"),
        ("--cpus", "boot=1,colour=blue"),
    ],
)
def test_bad_option_values_name_the_option(guest: Guest, option: str, value: str) -> None:
    result = _run("--kernel", str(guest.vmlinux), option, value)
    _assert_one_line_error(result, option)
