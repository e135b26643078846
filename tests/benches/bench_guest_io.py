"""Guest I/O through the guest's own virtio drivers: this VMM beside QEMU, same guest.

Each VMM boots the same PVH kernel and initramfs once, with PCI (virtio-pci),
1 vCPU and 256 MiB, the same disk files and the same tap, and the guest runs
one script (an ext4 disk with run.sh, `guest.script=`) that measures:

* disk read and write: busybox dd with bs=1M and O_DIRECT in the guest
  (`iflag=direct` from a read-only 32 MiB disk the host filled with random
  bytes, `oflag=direct` from /dev/zero to a 32 MiB scratch disk), both VMMs
  with their default host caching (this VMM direct=off, QEMU cache=writeback).
  This busybox's dd prints no timing line and its date has no %N, so the
  guest reads /proc/uptime (10 ms ticks) in the shell, without a fork, around
  each dd. A fork+exec costs a second or more here and dd's first touch of its
  1 MiB buffer more still, so each run times a dd of 1 MiB and one of 17 MiB:
  the difference is 16 MiB of steady-state I/O. Median of CH_BENCH_IO_RUNS
  runs. The write side includes the guest kernel clearing the buffer from
  /dev/zero, the same work under both VMMs;
* ping: the average round trip of 20 pings (`-i 0.2`, after one to resolve
  ARP) from the guest to the host end of the tap;
* TCP each way with busybox nc: CH_BENCH_IO_TCP_KIB to a socket listening in
  the bench's network namespace, and as much back, timed on the host from the
  accept: guest to host until the guest closes its end after the last byte;
  host to guest until the guest's line after its nc, which ends once it has
  read the last byte (the host's send buffer would hide the end otherwise),
  reaches the serial console. busybox nc moves 1 KiB per system call and
  the guest kernel is emulated here: some 30 KiB/s, hence the small size.

The host checks what passed: the md5 of a block the guest read, the zeros the
guest wrote (read back from the file), the bytes that came over TCP.
Goal: every ratio >= 1.0 (throughput this VMM / QEMU, latency QEMU / this VMM).

The network is a namespace of the bench's own with one tap (host end
10.79.0.1) that both VMMs attach to in turn; no traffic leaves it. Each boot
holds the host-wide guest-boot lock (see bench_boot). Environment:
CH_BENCH_IO_RUNS (default 3), CH_BENCH_IO_TCP_KIB (1024, a multiple of 64),
CH_BENCH_IO_TIMEOUT (seconds per boot, 1800), CH_GUEST_DIR, CH_GUEST_BOOT_LOCK.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench_boot import boot_lock, guest_dir

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from harness import listen_in, script_disk  # noqa: E402  (tests/ is not a package)

RUNS = int(os.environ.get("CH_BENCH_IO_RUNS", "3"))
TCP_KIB = int(os.environ.get("CH_BENCH_IO_TCP_KIB", "1024"))
TIMEOUT = float(os.environ.get("CH_BENCH_IO_TIMEOUT", "1800"))
MIB = 1 << 20
DISK_MIB = 32
DD_MIB = 16
PINGS = 20
NET = "10.79.0"
TAP = "chbio0"
MAC = "52:54:00:79:00:02"
TO_HOST_PORT, FROM_HOST_PORT = 5101, 5102
MEMORY_MIB = 256
QEMU_CPU = "host,-cx16,-kvm-pv-ipi,-kvm-pv-sched-yield,-kvm-pv-unhalt,-arch-capabilities"

# The disks are told apart in the guest, not by name: the script disk is the
# one mounted on /mnt, the read disk is the read-only one, the other is scratch.
SCRIPT = f"""\
S=; R=; W=
while read -r dev mnt rest; do [ "$mnt" = /mnt ] && S=$dev; done </proc/mounts
for d in /sys/block/vd*; do
  n=/dev/${{d##*/}}
  [ "$n" = "$S" ] && continue
  read -r ro <"$d/ro"
  if [ "$ro" = 1 ]; then R=$n; else W=$n; fi
done
echo "BENCH-DISKS=read:$R write:$W script:$S"
[ -n "$R" ] && [ -n "$W" ] || exit 1
echo "BENCH-READ-MD5=$(dd if=$R bs=4096 count=1 iflag=direct 2>/dev/null | md5sum)"
timed() {{
  name=$1; mib=$2; shift 2
  read -r a _ </proc/uptime
  dd bs=1M count=$mib "$@" 2>/dev/null; rc=$?
  read -r b _ </proc/uptime
  echo "BENCH-DD=$name $mib $a $b $rc"
}}
i=0
while [ $i -lt {RUNS} ]; do
  i=$((i + 1))
  timed read 1 if=$R of=/dev/null iflag=direct
  timed read {DD_MIB + 1} if=$R of=/dev/null iflag=direct
done
i=0
while [ $i -lt {RUNS} ]; do
  i=$((i + 1))
  timed write 1 if=/dev/zero of=$W oflag=direct
  timed write {DD_MIB + 1} if=/dev/zero of=$W oflag=direct
done
ping -c 1 -W 20 {NET}.1 >/dev/null
r=$(ping -q -c {PINGS} -i 0.2 -W 20 {NET}.1)
echo "BENCH-PING=${{r##*= }}"
dd if=$R of=/tmp/payload bs=65536 count={TCP_KIB // 64} iflag=direct 2>/dev/null
nc {NET}.1 {TO_HOST_PORT} </tmp/payload
echo "BENCH-TCP-OUT-RC=$?"
nc {NET}.1 {FROM_HOST_PORT} </dev/null >/dev/null
echo "BENCH-TCP-IN-RC=$?"
"""


def fail(message: str) -> SystemExit:
    return SystemExit(f"bench_guest_io: {message}")


class HostPeer:
    """The host end of one guest TCP transfer, in a thread of its own: receives
    until the guest closes, or sends `payload` and waits for the guest to close.
    `accepted` and `closed` are host monotonic times."""

    def __init__(self, server: socket.socket, payload: bytes | None = None) -> None:
        self.server = server
        self.payload = payload
        self.received = 0
        self.md5 = hashlib.md5()
        self.accepted: float | None = None
        self.closed: float | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.server.settimeout(TIMEOUT)
            connection, _ = self.server.accept()
            with connection:
                connection.settimeout(TIMEOUT)
                self.accepted = time.monotonic()
                if self.payload is not None:
                    connection.sendall(self.payload)
                    connection.shutdown(socket.SHUT_WR)
                while chunk := connection.recv(1 << 16):
                    self.received += len(chunk)
                    self.md5.update(chunk)
                self.closed = time.monotonic()
        except BaseException as error:
            self.error = error
        finally:
            self.server.close()

    def result(self) -> tuple[float, float]:
        """When the guest connected and when it closed."""
        self._thread.join(10)
        if self.error is not None:
            raise fail(f"host end of a TCP transfer: {self.error!r}")
        if self.accepted is None or self.closed is None:
            raise fail("the guest never finished a TCP transfer")
        return self.accepted, self.closed


@dataclass
class Result:
    read_mib_s: float
    write_mib_s: float
    ping_ms: float
    tcp_out_kib_s: float
    tcp_in_kib_s: float


class Files:
    """The disk files both VMMs get: random bytes (read), a scratch disk, the script."""

    def __init__(self, folder: Path) -> None:
        self.read = folder / "read.raw"
        self.scratch = folder / "scratch.raw"
        self.script = script_disk(folder / "script.ext4", SCRIPT)
        self.read_data = os.urandom(DISK_MIB * MIB)
        self.read.write_bytes(self.read_data)

    def reset_scratch(self) -> None:
        """0xff everywhere, so that the guest's zeros show on the host."""
        self.scratch.write_bytes(b"\xff" * (DISK_MIB * MIB))


@dataclass
class Console:
    lines: list[str]
    arrived: dict[str, float]  # when the first line of each marker (KEY=) came, host monotonic


def run_guest(name: str, command: list[str], netns: str, stderr_path: Path) -> Console:
    """One boot inside `netns`, holding the boot lock; its console once the
    guest has rebooted (which ends both VMMs)."""
    console = Console([], {})
    lines = console.lines

    def read(stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\r\n")
            console.arrived.setdefault(line.split("=", 1)[0], time.monotonic())
            lines.append(line)
            if line.startswith(("BENCH-", "GUEST-CMD-EXIT")):
                print(f"  {name}: {line}", flush=True)

    with boot_lock(), stderr_path.open("wb") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert process.stdout is not None
        reader = threading.Thread(target=read, args=(process.stdout,), daemon=True)
        reader.start()
        try:
            status = process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            reader.join(5)
            raise fail(
                f"{name}: no end within {TIMEOUT:.0f} s; console:\n"
                + "\n".join(lines[-40:])
                + "\nstderr:\n"
                + stderr_tail(stderr_path)
            ) from None
        reader.join(10)
    print(f"  {name}: exit status {status} after {time.monotonic() - started:.1f} s", flush=True)
    if "GUEST-CMD-EXIT=0" not in lines:
        raise fail(
            f"{name}: the guest script failed (status {status}); console:\n"
            + "\n".join(lines[-40:])
            + "\nstderr:\n"
            + stderr_tail(stderr_path)
        )
    return console


def stderr_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-20:])


def marker(lines: list[str], key: str) -> str:
    for line in lines:
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise fail(f"no {key}= line on the console:\n" + "\n".join(lines[-40:]))


def dd_mib_s(lines: list[str], op: str) -> float:
    """MiB/s of the 16 MiB between a dd of 1 MiB and one of 17, median over runs."""
    seconds: dict[int, list[float]] = {1: [], DD_MIB + 1: []}
    for line in lines:
        if line.startswith(f"BENCH-DD={op} "):
            _, mib, before, after, rc = line.split("=", 1)[1].split()
            if rc != "0":
                raise fail(f"guest dd failed: {line}")
            seconds[int(mib)].append(float(after) - float(before))
    small, large = seconds[1], seconds[DD_MIB + 1]
    if len(small) != RUNS or len(large) != RUNS:
        raise fail(f"{op}: {len(small)} + {len(large)} dd timings for {RUNS} runs")
    # One uptime tick is the resolution: never divide by zero or less.
    steady = max(statistics.median(b - a for a, b in zip(small, large, strict=True)), 0.01)
    return DD_MIB / steady


def measure(name: str, command: list[str], netns: str, files: Files, folder: Path) -> Result:
    files.reset_scratch()
    tcp_bytes = TCP_KIB * 1024
    to_host = HostPeer(listen_in(netns, TO_HOST_PORT))
    from_host = HostPeer(listen_in(netns, FROM_HOST_PORT), os.urandom(tcp_bytes))
    console = run_guest(name, command, netns, folder / f"{name.replace(' ', '-')}.stderr")
    lines = console.lines

    expected_md5 = hashlib.md5(files.read_data[:4096]).hexdigest()
    if marker(lines, "BENCH-READ-MD5").split()[0] != expected_md5:
        raise fail(f"{name}: the guest read other bytes than the host wrote")
    with files.scratch.open("rb") as scratch:
        written = scratch.read((DD_MIB + 1) * MIB)
    if written != bytes(len(written)):
        raise fail(f"{name}: the guest's zeros did not all reach the scratch file")
    ping = marker(lines, "BENCH-PING")
    try:
        ping_ms = float(ping.split("/")[1])
    except (IndexError, ValueError):
        raise fail(f"{name}: no ping summary: {ping!r}") from None
    for key in ("BENCH-TCP-OUT-RC", "BENCH-TCP-IN-RC"):
        if marker(lines, key) != "0":
            raise fail(f"{name}: guest nc failed ({key})")
    out_start, out_end = to_host.result()
    in_start, _ = from_host.result()
    in_end = console.arrived["BENCH-TCP-IN-RC"]
    if to_host.md5.hexdigest() != hashlib.md5(files.read_data[:tcp_bytes]).hexdigest():
        raise fail(f"{name}: TCP to the host: {to_host.received} bytes, not the guest's payload")
    return Result(
        read_mib_s=dd_mib_s(lines, "read"),
        write_mib_s=dd_mib_s(lines, "write"),
        ping_ms=ping_ms,
        tcp_out_kib_s=TCP_KIB / (out_end - out_start),
        tcp_in_kib_s=TCP_KIB / (in_end - in_start),
    )


def commands(guest: Path, files: Files) -> dict[str, list[str]]:
    words = (ROOT / "scripts/guest/cmdline").read_text().split()
    cmdline = " ".join(
        [*(w for w in words if w != "pci=off"), f"guest.ip={NET}.2/24", "guest.script=/dev/vdc"]
    )
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise fail("qemu-system-x86_64 is needed (Debian package qemu-system-x86)")
    ours = str(Path(sys.executable).parent / "cloud-hypervisor")
    vmlinux, initramfs = str(guest / "vmlinux"), str(guest / "initramfs.cpio")
    return {
        "qemu": [
            qemu,
            "-M", "pc",
            "-cpu", QEMU_CPU,
            "-accel", "kvm",
            "-m", str(MEMORY_MIB),
            "-smp", "1",
            "-kernel", vmlinux,
            "-initrd", initramfs,
            "-nodefaults",
            "-serial", "stdio",
            "-no-reboot",
            "-display", "none",
            "-append", cmdline,
            "-drive", f"file={files.read},if=none,id=d0,format=raw,readonly=on",
            "-device", "virtio-blk-pci,drive=d0",
            "-drive", f"file={files.scratch},if=none,id=d1,format=raw",
            "-device", "virtio-blk-pci,drive=d1",
            "-drive", f"file={files.script},if=none,id=d2,format=raw,readonly=on",
            "-device", "virtio-blk-pci,drive=d2",
            "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={MAC}",
        ],
        "this VMM": [
            ours,
            "--kernel", vmlinux,
            "--initramfs", initramfs,
            "--cpus", "boot=1",
            "--memory", f"size={MEMORY_MIB}M",
            "--disk",
            f"path={files.read},readonly=on",
            f"path={files.scratch}",
            f"path={files.script},readonly=on",
            "--net", f"tap={TAP},mac={MAC}",
            "--serial", "tty",
            "--console", "off",
            "--cmdline", cmdline,
        ],
    }  # fmt: skip


def main() -> None:
    if RUNS < 1 or TCP_KIB < 64 or TCP_KIB % 64:
        raise fail("CH_BENCH_IO_RUNS >= 1 and CH_BENCH_IO_TCP_KIB a multiple of 64 please")
    guest = guest_dir()
    netns = f"ch-bench-io-{os.getpid()}"
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="bench-guest-io-") as temporary:
        folder = Path(temporary)
        files = Files(folder)
        subprocess.run(["ip", "netns", "add", netns], check=True)
        try:
            for args in (
                ["link", "set", "lo", "up"],
                ["tuntap", "add", "dev", TAP, "mode", "tap"],
                ["addr", "add", f"{NET}.1/24", "dev", TAP],
                ["link", "set", TAP, "up"],
            ):
                subprocess.run(["ip", "-n", netns, *args], check=True)
            for name, command in commands(guest, files).items():
                print(f"{name}: booting {command[0]}", flush=True)
                results[name] = measure(name, command, netns, files, folder)
        finally:
            subprocess.run(["ip", "netns", "del", netns], check=False)

    qemu, ours = results["qemu"], results["this VMM"]
    print(
        f"\nguest I/O, virtio-pci, 1 vCPU, {MEMORY_MIB} MiB; disk: median of {RUNS} runs of "
        f"{DD_MIB} MiB (bs=1M, O_DIRECT); ping: avg of {PINGS}; TCP: {TCP_KIB} KiB each way"
    )
    print(f"  {'metric':24s} {'QEMU':>10s} {'this VMM':>10s}  ratio (goal >= 1.0)")
    for label, unit, q, o, higher_is_better in (
        ("disk read", "MiB/s", qemu.read_mib_s, ours.read_mib_s, True),
        ("disk write", "MiB/s", qemu.write_mib_s, ours.write_mib_s, True),
        ("ping RTT", "ms", qemu.ping_ms, ours.ping_ms, False),
        ("TCP guest->host", "KiB/s", qemu.tcp_out_kib_s, ours.tcp_out_kib_s, True),
        ("TCP host->guest", "KiB/s", qemu.tcp_in_kib_s, ours.tcp_in_kib_s, True),
    ):
        ratio = o / q if higher_is_better else q / o
        print(f"  {label + ' (' + unit + ')':24s} {q:10.2f} {o:10.2f}  {ratio:5.2f}")


if __name__ == "__main__":
    main()
