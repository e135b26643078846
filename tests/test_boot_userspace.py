"""Boot the test guest to user space with the `cloud-hypervisor` command and look around in it.

One boot checks many things: the guest script prints what it sees (command
line, memory, CPUs), echoes a line typed on the serial console, and reboots,
which must end the VMM with status 0.

Opt-in (`-m userspace`): a host must emulate the guest kernel fast enough for
it to reach user space in minutes. On the nested PVM host of this project's CI
it does not (QEMU neither: its timer tick costs more than a tick period once
/init runs), so the default run boots the same kernels to their console
milestones instead (test_boot.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Guest, VmmProcess

pytestmark = [pytest.mark.kvm, pytest.mark.slow, pytest.mark.userspace]

MEMORY_MIB = 128
TOKEN = "ch.test-token=4f1d9c"
SCRIPT = """\
read -r cmdline < /proc/cmdline
for word in $cmdline; do case $word in ch.test-token=*) echo "SEEN-TOKEN=$word";; esac; done
while read -r key value unit; do
  [ "$key" = MemTotal: ] && echo "MEMTOTAL-KIB=$value"
done < /proc/meminfo
n=0; while read -r key rest; do [ "$key" = processor ] && n=$((n+1)); done < /proc/cpuinfo
echo "NPROC=$n"
echo "TYPE-SOMETHING"
read -r typed
echo "TYPED=$typed"
"""


def _boot_and_check(vmm: type[VmmProcess], guest: Guest, kernel: Path, vcpus: int) -> None:
    process = vmm(
        [
            "--kernel",
            str(kernel),
            "--initramfs",
            str(guest.initramfs),
            "--cmdline",
            guest.cmdline(SCRIPT, TOKEN),
            "--cpus",
            f"boot={vcpus}",
            "--memory",
            f"size={MEMORY_MIB}M",
            "--serial",
            "tty",
            "--console",
            "off",
        ]
    )
    process.wait_for("GUEST-USERSPACE-READY")
    assert process.wait_for("SEEN-TOKEN=") == f"SEEN-TOKEN={TOKEN}"
    memtotal = int(process.wait_for("MEMTOTAL-KIB=").split("=")[1])
    assert 0.75 * MEMORY_MIB * 1024 < memtotal < MEMORY_MIB * 1024
    assert process.wait_for("NPROC=") == f"NPROC={vcpus}"
    process.wait_for("TYPE-SOMETHING")
    process.send("hello from the host\n")
    assert process.wait_for("TYPED=", timeout=60) == "TYPED=hello from the host"
    assert process.wait_for("GUEST-CMD-EXIT=") == "GUEST-CMD-EXIT=0"
    process.wait_for("GUEST-REBOOT")
    assert process.wait() == 0, process.stderr()


@pytest.mark.parametrize("vcpus", [1, 2])
def test_pvh_vmlinux_boots_to_user_space(vmm: type[VmmProcess], guest: Guest, vcpus: int) -> None:
    _boot_and_check(vmm, guest, guest.vmlinux, vcpus)


@pytest.mark.parametrize("vcpus", [1, 2])
def test_bzimage_boots_to_user_space(vmm: type[VmmProcess], guest: Guest, vcpus: int) -> None:
    _boot_and_check(vmm, guest, guest.bzimage, vcpus)
