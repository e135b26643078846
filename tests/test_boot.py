"""Boot the test guest's kernels to user space with the `cloud-hypervisor` command.

Both boot protocols: the PVH `vmlinux` with 2 vCPUs and the `bzImage` with 1.
One boot checks many things: the guest's script (guest.cmd64) prints what it
sees (the command line, memory, CPUs) and the kernel's own log of what the
VMM gave it (the command line, KVM and kvm-clock, the MP table, the e820
memory size, the CPUs brought up), and echoes a line typed on the serial
console. The PVH guest then reboots, which must end the VMM with status 0;
the bzImage guest waits, and SIGTERM (a user's Ctrl-C, an orchestrator's
stop) must end the VMM with status 0 too.

test_guest_devices.py goes on to the device drivers, test_seed_lines.py to a
root disk. Every boot holds the host-wide boot lock (harness.BootLock).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import Guest, VmmProcess

pytestmark = [pytest.mark.kvm, pytest.mark.slow]

TIMEOUT = 900.0
MEMORY_MIB = 128
TOKEN = "ch.test-token=4f1d9c"
MEMORY_LINE = re.compile(r"Memory: (\d+)K/(\d+)K available")
SCRIPT = """\
read -r cmdline </proc/cmdline
for word in $cmdline; do case $word in ch.test-token=*) echo "SEEN-TOKEN=$word";; esac; done
while read -r key value unit; do
  [ "$key" = MemTotal: ] && echo "MEMTOTAL-KIB=$value"
done </proc/meminfo
n=0; while read -r key rest; do [ "$key" = processor ] && n=$((n+1)); done </proc/cpuinfo
echo "NPROC=$n"
dmesg | grep -e 'Command line:' -e 'Hypervisor detected' -e 'kvm-clock: Using msrs' \\
  -e 'found SMP MP-table' -e 'Memory: ' -e 'smp: Brought up' | sed 's/^/DMESG: /'
echo TYPE-SOMETHING
read -r typed
echo "TYPED=$typed"
"""


def _boot(vmm: type[VmmProcess], guest: Guest, kernel: Path, vcpus: int, then: str) -> VmmProcess:
    process = vmm(
        [
            "--kernel", str(kernel),
            "--initramfs", str(guest.initramfs),
            "--cmdline", guest.cmdline(SCRIPT + then, TOKEN),
            "--cpus", f"boot={vcpus}",
            "--memory", f"size={MEMORY_MIB}M",
            "--serial", "tty",
            "--console", "off",
        ]
    )  # fmt: skip
    process.wait_for("GUEST-USERSPACE-READY", TIMEOUT)
    assert process.wait_for("SEEN-TOKEN=", TIMEOUT) == f"SEEN-TOKEN={TOKEN}"
    memtotal = int(process.wait_for("MEMTOTAL-KIB=", TIMEOUT).split("=")[1])
    assert 0.75 * MEMORY_MIB * 1024 < memtotal < MEMORY_MIB * 1024
    assert process.wait_for("NPROC=", TIMEOUT) == f"NPROC={vcpus}"
    process.wait_for("TYPE-SOMETHING", TIMEOUT)
    _check_kernel_log(process, vcpus)
    process.send("hello from the host\n")
    assert process.wait_for("TYPED=", TIMEOUT) == "TYPED=hello from the host"
    return process


def _check_kernel_log(process: VmmProcess, vcpus: int) -> None:
    """What the kernel logged of the machine the VMM built (dmesg; the boot is `quiet`)."""
    log = [line.removeprefix("DMESG: ") for line in process.lines if line.startswith("DMESG: ")]

    def line_with(text: str) -> str:
        found = [line for line in log if text in line]
        assert found, f"no {text!r} in the kernel log:\n" + "\n".join(log)
        return found[0]

    assert TOKEN in line_with("Command line:").split()
    line_with("Hypervisor detected: KVM")
    line_with("kvm-clock: Using msrs")
    line_with("found SMP MP-table")
    line_with(f"smp: Brought up 1 node, {vcpus} CPU")
    memory = MEMORY_LINE.search(line_with("Memory: "))
    assert memory is not None
    # The e820 RAM less the legacy hole and the first page: just under the size given.
    assert MEMORY_MIB * 1024 - 1024 <= int(memory.group(2)) <= MEMORY_MIB * 1024


def test_pvh_vmlinux_with_two_vcpus_reboots_to_exit_0(vmm: type[VmmProcess], guest: Guest) -> None:
    process = _boot(vmm, guest, guest.vmlinux, 2, then="")
    assert process.wait_for("GUEST-CMD-EXIT=", TIMEOUT) == "GUEST-CMD-EXIT=0"
    process.wait_for("GUEST-REBOOT", TIMEOUT)
    assert process.wait() == 0, process.stderr()


def test_bzimage_with_one_vcpu_stops_on_sigterm(vmm: type[VmmProcess], guest: Guest) -> None:
    process = _boot(vmm, guest, guest.bzimage, 1, then="echo WAITING\nsleep 3600\n")
    process.wait_for("WAITING", TIMEOUT)
    assert process.terminate() == 0
    stderr = process.stderr()
    assert "Traceback" not in stderr, stderr
