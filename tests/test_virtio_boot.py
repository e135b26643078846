"""The guest kernel's own virtio drivers find and use this VMM's PCI devices.

One boot of the PVH kernel with PCI on (no `pci=off`): two disks (one
read-only, one with a partition table the kernel reads through the queue and
an MSI-X interrupt), the default virtio-rng, and a virtio-console written to
a file, which the kernel also uses as a console. Everything checked happens
in the kernel's device initcalls, before user space (which this project's
nested PVM host reaches too slowly; see test_boot_userspace.py). The boot
also shows the 8250 driver finding a 16550A and the initramfs being unpacked.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from harness import Guest, VmmProcess

pytestmark = [pytest.mark.kvm, pytest.mark.slow]

MILESTONE_TIMEOUT = 900.0
SECTORS = 2048  # 1 MiB disks


def _disk_with_partition(path: Path) -> None:
    """A 1 MiB raw disk with an MBR holding one Linux partition from sector 64."""
    mbr = bytearray(512)
    mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 64, SECTORS - 64)
    mbr[510:512] = b"\x55\xaa"
    path.write_bytes(bytes(mbr) + bytes(SECTORS * 512 - 512))


def _vmm_args(guest: Guest) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="ch-virtio-boot-"))
    _disk_with_partition(folder / "disk.raw")
    (folder / "readonly.raw").write_bytes(bytes(SECTORS * 512))
    return [
        "--kernel",
        str(guest.vmlinux),
        "--initramfs",
        str(guest.initramfs),
        "--cmdline",
        guest.console_cmdline("console=hvc0").replace(" pci=off", ""),
        "--memory",
        "size=128M",
        "--disk",
        f"path={folder / 'disk.raw'}",
        f"path={folder / 'readonly.raw'},readonly=on",
        "--serial",
        "tty",
        "--console",
        f"file={folder / 'console.out'}",
    ]


def test_kernel_drives_virtio_pci_devices(vmm: type[VmmProcess], guest: Guest) -> None:
    process = vmm(_vmm_args(guest))
    lines = process.wait_for_all(
        [
            "Unpacking initramfs",
            "ttyS0 at I/O 0x3f8",
            "pci 0000:00:01.0: [1af4:1042]",
            "pci 0000:00:03.0: [1af4:1044]",
            "pci 0000:00:04.0: [1af4:1043]",
            "[vda] 2048 512-byte logical blocks",
            "[vdb] 2048 512-byte logical blocks",
            " vda: vda1",
        ],
        MILESTONE_TIMEOUT,
    )
    uart = lines["ttyS0 at I/O 0x3f8"]
    assert "(irq = 4" in uart, uart
    assert uart.endswith("is a 16550A"), uart
    assert "virtio_blk" in lines["[vda] 2048 512-byte logical blocks"]
    console = Path(_console_path(process))
    # The kernel printed its disk messages on hvc0 too: the console output reached the file.
    assert "vda" in console.read_text(errors="replace")
    assert process.terminate() == 0
    shutil.rmtree(console.parent, ignore_errors=True)


def _console_path(process: VmmProcess) -> str:
    return next(a for a in process.args if a.startswith("file=")).removeprefix("file=")
