"""The start-up budget: the modules loaded by the first KVM_RUN may not grow unnoticed.

Every import on the way to the guest's first instruction costs start-up time
(the guide's budget: a VMM that starts in the class of a native one). The VMM
writes `sys.modules` when vCPU 0 first enters KVM_RUN (CH_IMPORTS_AT_FIRST_RUN);
this test boots the tiny echo guest with CH's default devices and fails when
a module appears, beyond what the bare interpreter loads, that
`startup_imports.txt` does not list. After a deliberate
change, refresh the list with `CH_RECORD_IMPORTS=1` and commit it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import VmmProcess

pytestmark = pytest.mark.kvm

RECORDED = Path(__file__).with_name("startup_imports.txt")


def test_no_new_module_is_loaded_before_the_first_kvm_run(
    vmm: type[VmmProcess], echo_elf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded_file = tmp_path / "imports.txt"
    monkeypatch.setenv("CH_IMPORTS_AT_FIRST_RUN", str(loaded_file))
    process = vmm(["--kernel", str(echo_elf), "--memory", "size=64M", "--serial", "tty"])
    deadline = time.monotonic() + 60
    while not loaded_file.exists() or not loaded_file.read_text().endswith("\n"):
        assert process.process.poll() is None, process.stderr()
        assert time.monotonic() < deadline, "no first KVM_RUN within 60 s"
        time.sleep(0.05)
    process.send("q")
    assert process.wait() == 0
    # What the VMM adds to what the bare interpreter loads (site hooks differ between venvs).
    loaded = set(loaded_file.read_text().split()) - _bare_interpreter_modules()
    if os.environ.get("CH_RECORD_IMPORTS"):
        RECORDED.write_text("\n".join(sorted(loaded)) + "\n")
    recorded = set(RECORDED.read_text().split())
    new = sorted(loaded - recorded)
    assert not new, (
        f"{len(new)} more module(s) load before the first KVM_RUN: {new}; make them lazy, or "
        "refresh tests/startup_imports.txt with CH_RECORD_IMPORTS=1 if that is deliberate"
    )


def _bare_interpreter_modules() -> set[str]:
    shown = subprocess.run(
        [sys.executable, "-c", "import sys; print(*sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(shown.stdout.split())
