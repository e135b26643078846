"""Workspace-wide pytest policy for tests that need /dev/kvm.

Tests marked ``kvm`` are skipped, with the reason, on a machine without a
usable /dev/kvm. CI must not quietly lose them: when ``CH_KVM_SKIP_REPORT``
names a file, every skipped ``kvm`` test is written there, one per line, and
``.ci/run`` fails when that file is not empty on a machine that has /dev/kvm.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_KVM_DEVICE = "/dev/kvm"
_REPORT_ENV = "CH_KVM_SKIP_REPORT"


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
        Path(report).write_text("")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    path = os.environ.get(_REPORT_ENV)
    if path and report.skipped and "kvm" in item.keywords:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{item.nodeid}\n")
