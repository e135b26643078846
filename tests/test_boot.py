"""Boot the test guest's kernels with the `cloud-hypervisor` command and read their console.

The kernel's own boot log proves what the VMM gave it: the command line, the
memory size in the e820 map, the CPUs in the MP table and their start-up.
Both boot protocols (PVH `vmlinux` with 2 vCPUs, `bzImage` with 1), each
stopped with SIGTERM once its checks pass, which must end the VMM cleanly
with status 0. test_virtio_boot.py goes on to the device drivers.

One boot at a time: on a nested PVM host a guest kernel whose vCPU gets only
part of a host CPU can spend all its time in its timer tick (a tick there
costs about as much as a tick period), so boots never share the CPUs.

Booting on to user space takes the kernel too long on this project's nested
PVM host; test_boot_userspace.py does it where the host allows (opt-in).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import Guest, VmmProcess

pytestmark = [pytest.mark.kvm, pytest.mark.slow]

MEMORY_MIB = 128
TOKEN = "ch.test-token=4f1d9c"
# Minutes per milestone on this host (QEMU takes as long); a fast host needs seconds.
MILESTONE_TIMEOUT = 600.0
MEMORY_LINE = re.compile(r"Memory: (\d+)K/(\d+)K available")


def _vmm_args(kernel: str, vcpus: int) -> Callable[[Guest], list[str]]:
    def args_for(guest: Guest) -> list[str]:
        return [
            "--kernel",
            str(getattr(guest, kernel)),
            "--initramfs",
            str(guest.initramfs),
            "--cmdline",
            guest.console_cmdline(TOKEN),
            "--cpus",
            f"boot={vcpus}",
            "--memory",
            f"size={MEMORY_MIB}M",
            "--serial",
            "tty",
            "--console",
            "off",
        ]

    return args_for


def _check_common(process: VmmProcess, vcpus: int, *more: str) -> dict[str, str]:
    """What every boot shows on its console, in whatever order the kernel prints it."""
    plural = "CPU" if vcpus == 1 else "CPUs"
    brought_up = f"smp: Brought up 1 node, {vcpus} {plural}"
    lines = process.wait_for_all(
        [
            "Command line:",
            "Hypervisor detected: KVM",
            "kvm-clock: Using msrs",
            "found SMP MP-table",
            "Memory: ",
            brought_up,
            *more,
        ],
        MILESTONE_TIMEOUT,
    )
    assert TOKEN in lines["Command line:"].split(), lines["Command line:"]
    memory = MEMORY_LINE.search(lines["Memory: "])
    assert memory is not None, lines["Memory: "]
    total_kib = int(memory.group(2))
    # The e820 RAM less the legacy hole and the first page: just under the size given.
    assert MEMORY_MIB * 1024 - 1024 <= total_kib <= MEMORY_MIB * 1024, total_kib
    return lines


def _stops_cleanly(process: VmmProcess) -> None:
    assert process.terminate() == 0
    stderr = process.stderr()
    assert "Traceback" not in stderr, stderr


def test_pvh_vmlinux_with_two_vcpus(vmm: type[VmmProcess], guest: Guest) -> None:
    process = vmm(_vmm_args("vmlinux", 2)(guest))
    _check_common(process, vcpus=2)
    _stops_cleanly(process)


def test_bzimage_with_one_vcpu(vmm: type[VmmProcess], guest: Guest) -> None:
    process = vmm(_vmm_args("bzimage", 1)(guest))
    # The decompressor (silent in this configuration) entered at the 64-bit
    # entry point and left the kernel proper running: its log follows.
    _check_common(process, 1)
    _stops_cleanly(process)
