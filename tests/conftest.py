"""Fixtures for the cross-package tests (see harness.py for the guest and VMM helpers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Guest, VmmProcess, find_guest
from vmm.testing import echo_kernel


@pytest.fixture(scope="session")
def guest() -> Guest:
    found = find_guest()
    if found is None:
        pytest.fail("no test guest: run scripts/dev_cli.sh build-guest (or set CH_GUEST_DIR)")
    return found


@pytest.fixture
def echo_elf(tmp_path: Path) -> Path:
    """The tiny echo guest (`vmm.testing.echo_kernel`) as a PVH ELF file: a boot of
    seconds, for what needs a running VM rather than Linux."""
    path = tmp_path / "echo.elf"
    path.write_bytes(echo_kernel())
    return path


@pytest.fixture
def vmm() -> Iterator[type[VmmProcess]]:
    """Start `cloud-hypervisor` processes; any left running are killed after the test."""
    started: list[VmmProcess] = []

    class Tracked(VmmProcess):
        def __init__(self, args: list[str], *, netns: str | None = None) -> None:
            super().__init__(args, netns=netns)
            started.append(self)

    yield Tracked
    for process in started:
        process.kill()
