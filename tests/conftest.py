"""Fixtures for the cross-package tests (see harness.py for the guest and VMM helpers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Guest, VmmProcess, find_guest


@pytest.fixture(scope="session")
def guest() -> Guest:
    found = find_guest()
    if found is None:
        pytest.fail("no test guest: run scripts/dev_cli.sh build-guest (or set CH_GUEST_DIR)")
    return found


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
