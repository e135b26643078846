"""Every paravirtual device of this VMM, verified by the guest's own drivers in one boot.

One boot of the PVH kernel with PCI (no `pci=off`), inside a network
namespace of the test's own: a read-only disk the host filled with random
bytes, a writable scratch disk, two NICs on taps whose host ends the VMM
addresses, the virtio-rng and a virtio-console written to a file. The
guest's script (guest.cmd64) prints what it sees, one marker per line; the
host checks each against what it knows:

* the md5 of the host-written disk, and that the read-only one refuses writes;
* the guest's writes, read back from the host file;
* ping over both NICs to the host ends of their taps;
* 1 MiB over TCP each way (busybox nc), md5 on both sides;
* /dev/hwrng served by virtio_rng;
* a line on hvc0 that reaches the --console file, and a line typed on the
  serial console that reaches the guest's shell;
* a `kill -9` of the VMM after the guest's `sync` loses no written byte.

Boots are expensive on this nested PVM host, so one boot checks it all; the
kernel log (dmesg) adds what the drivers found at probe time.
"""

from __future__ import annotations

import hashlib
import os
import signal
import struct
import subprocess
from pathlib import Path

import pytest
from harness import Guest, TcpPeer, VmmProcess, listen_in, network_namespace, script_disk

pytestmark = [pytest.mark.kvm, pytest.mark.slow]

TIMEOUT = 900.0
MIB = 1 << 20
DISK_SIZE = 4 * MIB
HOST_NETS = ("10.77.0", "10.78.0")
TO_HOST_PORT, FROM_HOST_PORT = 5001, 5002
ETH1_HOST_MAC, ETH1_MTU = "52:54:00:78:00:01", 1400
HOST_TSO4 = 11  # VIRTIO_NET_F_HOST_TSO4: the feature offload_tso=off withholds
RNG_SLOT = 10  # pci_device_id= places the rng there, the others take the free slots
WRITE_OFFSET_MIB, SYNCED_OFFSET_MIB = 1, 2

SCRIPT = f"""\
echo "RO-MD5=$(md5sum </dev/vda)"
echo "RO-FLAG=$(cat /sys/block/vda/ro)"
if dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/dev/null; then
  echo RO-WRITE=allowed; else echo RO-WRITE=refused; fi
head -c {MIB} /dev/urandom >/tmp/pattern
echo "PATTERN-MD5=$(md5sum </tmp/pattern)"
dd if=/tmp/pattern of=/dev/vdb bs=65536 seek={WRITE_OFFSET_MIB * 16} conv=fsync 2>/dev/null \\
  && echo RW-WRITE=done
ip link set eth0 up; ip addr add {HOST_NETS[0]}.2/24 dev eth0
ip link set eth1 up; ip addr add {HOST_NETS[1]}.2/24 dev eth1
ping -c 2 -W 20 {HOST_NETS[0]}.1 >/dev/null && echo PING-ETH0=ok
ping -c 2 -W 20 {HOST_NETS[1]}.1 >/dev/null && echo PING-ETH1=ok
echo "ETH1-MTU=$(cat /sys/class/net/eth1/mtu)"
echo "ETH0-FEATURES=$(cat /sys/class/net/eth0/device/features)"
echo "ETH1-FEATURES=$(cat /sys/class/net/eth1/device/features)"
nc {HOST_NETS[0]}.1 {TO_HOST_PORT} </tmp/pattern && echo TCP-SENT=done
nc {HOST_NETS[1]}.1 {FROM_HOST_PORT} </dev/null >/tmp/received
echo "TCP-RECEIVED-MD5=$(md5sum </tmp/received)"
echo "HWRNG-DRIVER=$(cat /sys/class/misc/hw_random/rng_current)"
echo "HWRNG-A=$(head -c 32 /dev/hwrng | md5sum)"
echo "HWRNG-B=$(head -c 32 /dev/hwrng | md5sum)"
echo HVC0-HELLO-FROM-GUEST >/dev/hvc0
dmesg | grep -e 'ttyS0 at I/O' -e ' vda: vda1' -e ' \\[1af4:' | sed 's/^/DMESG: /'
echo TYPE-SOMETHING
read -r typed
echo "TYPED=$typed"
dd if=/tmp/received of=/dev/vdb bs=65536 seek={SYNCED_OFFSET_MIB * 16} 2>/dev/null
sync
echo SYNCED
sleep 3600
"""


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _value(process: VmmProcess, key: str) -> str:
    """The first word after `KEY=` on the guest's marker line (md5sum adds "  -")."""
    words = process.wait_for(f"{key}=", TIMEOUT).split(f"{key}=", 1)[1].split()
    return words[0] if words else ""


def _readonly_disk(path: Path) -> bytes:
    """Random bytes behind an MBR with one partition from sector 64 (the guest reads it)."""
    data = bytearray(os.urandom(DISK_SIZE))
    entry = struct.pack("<B3sB3sII", 0, bytes(3), 0x83, bytes(3), 64, DISK_SIZE // 512 - 64)
    data[446:510] = entry + bytes(48)
    data[510:512] = b"\x55\xaa"
    path.write_bytes(data)
    return bytes(data)


def test_guest_drivers_use_every_device(
    vmm: type[VmmProcess], guest: Guest, tmp_path: Path
) -> None:
    readonly = _readonly_disk(tmp_path / "readonly.raw")
    scratch = tmp_path / "scratch.raw"
    scratch.write_bytes(bytes(DISK_SIZE))
    script_disk(tmp_path / "script.ext4", SCRIPT)
    console = tmp_path / "console.out"
    from_host = os.urandom(MIB)
    cmdline = guest.cmdline(None, "guest.script=/dev/vdc").replace(" pci=off", "")
    with network_namespace("devices") as netns:
        to_host = TcpPeer(listen_in(netns, TO_HOST_PORT), size=MIB)
        sender = TcpPeer(listen_in(netns, FROM_HOST_PORT), send=from_host)
        process = vmm(
            [
                "--kernel", str(guest.vmlinux),
                "--initramfs", str(guest.initramfs),
                "--cmdline", cmdline,
                "--cpus", "boot=2",
                "--memory", "size=256M",
                "--disk",
                f"path={tmp_path / 'readonly.raw'},readonly=on",
                f"path={scratch}",
                f"path={tmp_path / 'script.ext4'},readonly=on",
                "--net",
                f"tap=chdev0,ip={HOST_NETS[0]}.1,mask=255.255.255.0,mac=52:54:00:77:00:02",
                f"tap=chdev1,ip={HOST_NETS[1]}.1,mask=255.255.255.0,mac=52:54:00:78:00:02,"
                f"host_mac={ETH1_HOST_MAC},mtu={ETH1_MTU},offload_tso=off",
                "--rng", f"src=/dev/urandom,pci_device_id={RNG_SLOT}",
                "--serial", "tty",
                "--console", f"file={console}",
            ],
            netns=netns,
        )  # fmt: skip
        process.wait_for("GUEST-USERSPACE-READY", TIMEOUT)

        assert _value(process, "RO-MD5") == _md5(readonly)
        assert _value(process, "RO-FLAG") == "1"
        assert _value(process, "RO-WRITE") == "refused"
        pattern_md5 = _value(process, "PATTERN-MD5")
        assert _value(process, "RW-WRITE") == "done"
        assert _value(process, "PING-ETH0") == "ok"
        assert _value(process, "PING-ETH1") == "ok"
        assert _value(process, "ETH1-MTU") == str(ETH1_MTU)
        # The guest's view of the features it negotiated: one character per bit.
        assert _value(process, "ETH0-FEATURES")[HOST_TSO4] == "1"
        assert _value(process, "ETH1-FEATURES")[HOST_TSO4] == "0"
        link = subprocess.run(
            ["ip", "-n", netns, "link", "show", "chdev1"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert f"mtu {ETH1_MTU}" in link, link
        assert f"link/ether {ETH1_HOST_MAC}" in link, link
        assert _value(process, "TCP-SENT") == "done"
        assert to_host.result() == pattern_md5
        assert _value(process, "TCP-RECEIVED-MD5") == sender.result() == _md5(from_host)
        assert _value(process, "HWRNG-DRIVER").startswith("virtio_rng")
        rng_a, rng_b = _value(process, "HWRNG-A"), _value(process, "HWRNG-B")
        assert rng_a != rng_b, "two reads of /dev/hwrng gave the same bytes"
        process.wait_for("TYPE-SOMETHING", TIMEOUT)
        process.send("typed on the serial console\n")
        assert process.wait_for("TYPED=", TIMEOUT) == "TYPED=typed on the serial console"
        dmesg = "\n".join(line for line in process.lines if line.startswith("DMESG: "))
        assert "is a 16550A" in dmesg, dmesg
        assert " vda: vda1" in dmesg, dmesg
        # virtio-pci functions (modern IDs 0x1040 + type): net, blk, console, rng.
        for device_id in ("1041", "1042", "1043", "1044"):
            assert f"[1af4:{device_id}]" in dmesg, dmesg
        assert f"pci 0000:00:{RNG_SLOT:02x}.0: [1af4:1044]" in dmesg, dmesg
        process.wait_for("SYNCED", TIMEOUT)
        # The guest synced: whatever happens to the VMM now, the data is the host's.
        process.process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL

    assert "HVC0-HELLO-FROM-GUEST" in console.read_text(errors="replace")
    written = scratch.read_bytes()
    assert _md5(written[WRITE_OFFSET_MIB * MIB : (WRITE_OFFSET_MIB + 1) * MIB]) == pattern_md5
    synced = written[SYNCED_OFFSET_MIB * MIB : (SYNCED_OFFSET_MIB + 1) * MIB]
    assert synced == from_host, "bytes the guest synced were lost by the kill -9"
    assert written[: WRITE_OFFSET_MIB * MIB] == bytes(WRITE_OFFSET_MIB * MIB)
    assert (tmp_path / "readonly.raw").read_bytes() == readonly
