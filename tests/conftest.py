"""Fixtures for the cross-package tests (see harness.py for the guest and VMM helpers)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
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
        def __init__(self, args: list[str]) -> None:
            super().__init__(args)
            started.append(self)

    yield Tracked
    for process in started:
        process.kill()


# ------------------------------------------------------------------ early boots
# A guest kernel takes minutes to boot on a nested PVM host, so the modules
# that boot one declare `BOOTS = {key: args_for(guest)}` and every boot the
# selected tests need starts as soon as collection ends: they run while the
# packages' unit tests do, and side by side with each other.
_early: dict[str, VmmProcess] = {}
_boot_args: dict[str, Callable[[Guest], list[str]]] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    slow = [item for item in session.items if item.get_closest_marker("slow")]
    modules = {item.module for item in slow if isinstance(item, pytest.Function)}
    for module in modules:
        _boot_args.update(getattr(module, "BOOTS", {}))
    guest = find_guest()
    if guest is None or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return
    for key, args_for in _boot_args.items():
        _early[key] = VmmProcess(args_for(guest))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for process in _early.values():
        process.kill()


@pytest.fixture
def boot(guest: Guest) -> Callable[[str], VmmProcess]:
    """`boot(key)`: the VMM process its module's BOOTS[key] started (now, if it was not yet)."""

    def take(key: str) -> VmmProcess:
        if key not in _early:
            _early[key] = VmmProcess(_boot_args[key](guest))
        return _early[key]

    return take
