"""Workspace-wide pytest policy for tests that need /dev/kvm.

Tests marked ``kvm`` are skipped, with the reason, on a machine without a
usable /dev/kvm. CI must not quietly lose them: when ``CH_KVM_SKIP_REPORT``
names a file, every skipped ``kvm`` test is written there, one per line, and
``.ci/run`` fails when that file is not empty on a machine that has /dev/kvm.

Every ``kvm`` test holds the host-wide guest-boot lock (flock on
``/tmp/guest-boot.lock``, or ``CH_GUEST_BOOT_LOCK``) while it runs, as do
the benches and ``dev_cli.sh boot``: on a nested PVM host a guest whose vCPU
shares a host CPU with another guest slows down many times over, so guests
never run side by side, not across pytest workers nor across test runs.

It also registers the workspace's test plugins (in tests/): every package's
tests use their fixtures without importing them, so a package still tests
alone in the `isolated` session (see tests/readme_examples.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from guest_lock import guest_boot_lock

pytest_plugins = ["readme_examples"]

_KVM_DEVICE = "/dev/kvm"
_REPORT_ENV = "CH_KVM_SKIP_REPORT"
_BOOT_LOCK_WAIT = 3600.0


def _kvm_usable() -> bool:
    return os.access(_KVM_DEVICE, os.R_OK | os.W_OK)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _kvm_usable():
        return
    skip = pytest.mark.skip(reason=f"{_KVM_DEVICE} is missing or not accessible")
    for item in items:
        if "kvm" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    report = os.environ.get(_REPORT_ENV)
    if report and not hasattr(config, "workerinput"):
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).touch()  # .ci/run empties it once; several pytest runs add to it


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    path = os.environ.get(_REPORT_ENV)
    if path and report.skipped and "kvm" in item.keywords:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{item.nodeid}\n")


@pytest.fixture(autouse=True)
def _guest_boot_lock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hold the host-wide guest-boot lock for the whole of a ``kvm`` test."""
    if "kvm" not in request.keywords or not _kvm_usable():
        yield
        return
    try:
        with guest_boot_lock(_BOOT_LOCK_WAIT):
            yield
    except TimeoutError as error:
        pytest.fail(str(error))
