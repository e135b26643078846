"""`--cpus affinity=`: each vCPU thread runs only on the host CPUs given to it.

The tiny echo guest (seconds, not minutes) with 2 vCPUs pinned crosswise;
the kernel's own view of each thread (/proc/PID/task/*/status) is the oracle.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import VmmProcess

pytestmark = pytest.mark.kvm


def _allowed_cpus(pid: int) -> list[str]:
    """Each user thread's allowed host CPUs (KVM's own kernel task, kvm-nx-lpage-recovery,
    inherits the affinity of the vCPU thread that started it: left out)."""
    lists = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().startswith("kvm-"):
            continue
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                lists.append(line.split(":", 1)[1].strip())
    return lists


def _args(echo_elf: Path, affinity: str) -> list[str]:
    return [
        "--kernel", str(echo_elf), "--memory", "size=64M", "--serial", "tty", "--console", "off",
        "--cpus", f"boot=2,affinity={affinity}",
    ]  # fmt: skip


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 host CPUs")
def test_each_vcpu_thread_runs_on_its_own_host_cpus(vmm: type[VmmProcess], echo_elf: Path) -> None:
    process = vmm(_args(echo_elf, "[0@[1],1@[0]]"))
    process.send("ready?\n")
    assert process.wait_for("ready?", timeout=60) == "ready?"  # the vCPUs run
    allowed = _allowed_cpus(process.process.pid)
    assert sorted(a for a in allowed if a != "0-1") == ["0", "1"], allowed
    process.send("q")
    assert process.wait() == 0


def test_a_host_cpu_that_does_not_exist_stops_the_vm_with_an_error(
    vmm: type[VmmProcess], echo_elf: Path
) -> None:
    process = vmm(_args(echo_elf, "[0@[4095]]"))
    assert process.wait() == 1
    assert "vCPU 0: cannot run on host CPUs 4095" in process.stderr()
