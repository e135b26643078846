"""The README's examples are real code: the configuration and VMM-process ones run anywhere,
the boot one boots a guest on /dev/kvm."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def test_readme_configuration_example_runs(run_readme_examples: Callable[[str], None]) -> None:
    run_readme_examples("Configuration")


@pytest.mark.kvm
def test_readme_boot_example_runs(
    run_readme_examples: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    run_readme_examples("Running a VM from Python")
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["StopReason.SIGNAL 0", "pmem: not supported by this VMM yet"]


def test_readme_vmm_process_example_runs(
    run_readme_examples: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    run_readme_examples("The VMM process")
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["['HTTP/1.1 404 Not Found', 'HTTP/1.1 204 No Content'] 0"]
