"""The serial console end to end with a tiny guest: typed input reaches it, its reset ends the VMM.

The guest (`vmm.testing.echo_kernel`) echoes every byte it reads from COM1
and resets through the i8042 on `q`, as Linux's `reboot` does with
`reboot=k`; the VMM must then exit with status 0. A boot of seconds, not
minutes: Linux's own serial input is checked in test_boot.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import VmmProcess

pytestmark = pytest.mark.kvm


@pytest.mark.parametrize("payload", ["--kernel", "--firmware"])
def test_typed_input_reaches_the_guest_and_its_reset_ends_the_vmm(
    vmm: type[VmmProcess], echo_elf: Path, payload: str
) -> None:
    """The same PVH ELF as --kernel and as --firmware (how hypervisor-fw is given)."""
    process = vmm(
        [payload, str(echo_elf), "--memory", "size=64M", "--serial", "tty", "--console", "off"]
    )
    process.send("hello from the host\n")
    assert process.wait_for("hello", timeout=60) == "hello from the host"
    process.send("second line\nq")
    assert process.wait_for("second", timeout=60) == "second line"
    assert process.wait() == 0
    assert "Traceback" not in process.stderr()
