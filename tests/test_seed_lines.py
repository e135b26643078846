"""Cloud Hypervisor's README command lines, verbatim, boot a root disk to its user space.

CH's README boots a cloud image with direct kernel boot:

    cloud-hypervisor --kernel vmlinux.bin --disk path=focal-server-cloudimg-amd64.raw \\
        --cmdline "console=hvc0 root=/dev/vda1 rw" --cpus boot=4 --memory size=1024M \\
        --net "tap=,mac=,ip=,mask=" --rng

and the same with `--console off --serial tty` and `console=ttyS0`. Here the
kernel is the test guest's PVH vmlinux, the disk is what
scripts/guest/rootdisk.py builds (MBR, ext4 on partition 1, an init that
prints markers), and the command line gains only this host's kernel flags.
The VMM runs in a network namespace of the test's own, where it creates the
tap. The init reports the root mount, CPUs, memory, NIC and hwrng, writes a
file on the root and reboots, which must end the VMM with status 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import GUEST_CMDLINE, ROOT, Guest, VmmProcess, network_namespace

pytestmark = [pytest.mark.kvm, pytest.mark.slow]

TIMEOUT = 900.0
# The known-good flags of this host's guest kernel, less its console and pci=off.
HOST_FLAGS = " ".join(w for w in GUEST_CMDLINE.split() if not w.startswith(("console=", "pci=")))
PARTITION_OFFSET = 1 << 20


def _root_disk(guest: Guest, path: Path) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/guest/rootdisk.py"), str(guest.folder), str(path)],
        check=True,
    )
    return path


def _file_on_root(disk: Path, name: str) -> str:
    """A file of the ext4 root (partition 1), read with e2fsprogs' debugfs."""
    partition = disk.with_suffix(".part1")
    partition.write_bytes(disk.read_bytes()[PARTITION_OFFSET:])
    shown = subprocess.run(
        ["debugfs", "-R", f"cat {name}", str(partition)], capture_output=True, check=True
    )
    return shown.stdout.decode()


@pytest.mark.parametrize(
    "console_args",
    [
        pytest.param(["--console", "off", "--serial", "tty"], id="ttyS0"),
        pytest.param([], id="hvc0"),
    ],
)
def test_chs_readme_line_boots_the_root_disk(
    vmm: type[VmmProcess], guest: Guest, tmp_path: Path, console_args: list[str]
) -> None:
    disk = _root_disk(guest, tmp_path / "focal-server-cloudimg-amd64.raw")
    console = "ttyS0" if console_args else "hvc0"
    with network_namespace("seed") as netns:
        process = vmm(
            [
                "--kernel", str(guest.vmlinux),
                *console_args,
                "--disk", f"path={disk}",
                "--cmdline", f"console={console} root=/dev/vda1 rw {HOST_FLAGS}",
                "--cpus", "boot=4",
                "--memory", "size=1024M",
                "--net", "tap=,mac=,ip=,mask=",
                "--rng",
            ],
            netns=netns,
        )  # fmt: skip
        process.wait_for("GUEST-ROOTDISK-READY", TIMEOUT)
        assert process.wait_for("ROOT=", TIMEOUT) == "ROOT=/dev/root ext4 rw"
        nproc, memtotal = process.wait_for("NPROC=", TIMEOUT).split()
        assert nproc == "NPROC=4"
        assert 900 * 1024 < int(memtotal.removeprefix("MEMTOTAL-KIB=")) <= 1024 * 1024
        assert process.wait_for("NET=", TIMEOUT) == "NET=eth0"
        assert process.wait_for("HWRNG=", TIMEOUT) == "HWRNG=yes"
        assert process.wait_for("ROOT-WRITE=", TIMEOUT) == "ROOT-WRITE=ok"
        process.wait_for("GUEST-REBOOT", TIMEOUT)
        assert process.wait() == 0, process.stderr()
    assert _file_on_root(disk, "/root-write-check") == "written at boot\n"
