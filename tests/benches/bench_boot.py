"""Boot time, time to the first KVM_RUN and VMM memory: this VMM beside QEMU, same guest.

Both boot the same kernel, initramfs and command line with the same vCPU
count and memory size, in interleaved runs so host noise hits both alike.
Measured from just before the process is started:

* boot: until the guest prints GUEST-USERSPACE-READY on its serial console;
* first KVM_RUN: QEMU's `kvm_vcpu_ioctl` trace event for KVM_RUN, and this
  VMM's "first KVM_RUN at" log line (both wall-clock stamps);
* memory: resident set size minus the resident part of guest RAM, read from
  /proc/PID/smaps once the guest is in user space.

Goals (issue): boot <= 0.98x QEMU, first KVM_RUN <= 0.8x QEMU, memory <= 0.5x QEMU.
Environment: CH_BENCH_BOOT_KERNEL (vmlinux; vmlinux-acpi boots the ACPI
kernel, QEMU then as `-M microvm,acpi=on`: both with ACPI tables),
CH_BENCH_BOOT_RUNS (default 3), CH_BENCH_BOOT_VCPUS (1),
CH_BENCH_BOOT_MEMORY_MIB (128), CH_GUEST_DIR, CH_BENCH_BOOT_MARKER: another
console line to stop at (e.g. "smp: Brought up", on a host where the guest
reaches user space too slowly); the kernel then boots without `quiet`.
Every boot holds the host-wide guest-boot lock (flock on /tmp/guest-boot.lock,
or CH_GUEST_BOOT_LOCK), as the tests do: guests never share the host's CPUs.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = os.environ.get("CH_BENCH_BOOT_MARKER", "GUEST-USERSPACE-READY").encode()
KVM_RUN = 0xAE80
TIMEOUT = float(os.environ.get("CH_BENCH_BOOT_TIMEOUT", "1800"))
sys.path.insert(0, str(ROOT / "tests"))
from guest_lock import guest_boot_lock  # noqa: E402  (tests/ is not a package)


@dataclass
class Sample:
    boot: float
    first_run: float
    memory_mib: float


def guest_dir() -> Path:
    for candidate in (
        os.environ.get("CH_GUEST_DIR"),
        ROOT / "build/guest",
        ROOT.parent / "shared/guest",
    ):
        if candidate and (Path(candidate) / "vmlinux").exists():
            return Path(candidate)
    raise SystemExit("bench_boot: no test guest (scripts/dev_cli.sh build-guest)")


def boot_lock() -> AbstractContextManager[None]:
    """The host-wide guest-boot lock (tests/guest_lock.py) for the whole of one boot,
    saying so when it has to wait for another boot."""
    return guest_boot_lock(on_wait=lambda message: print(message, flush=True))


def vmm_memory_mib(pid: int, guest_bytes: int) -> float:
    """RSS of the process minus the resident pages of its guest-RAM mapping(s)."""
    rss = guest_rss = 0
    size = 0
    anonymous = False
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                fields = line.split()
                anonymous = len(fields) < 6 or fields[5].startswith("[anon") or "memfd" in line
                size = 0
            elif line.startswith("Size:"):
                size = int(line.split()[1]) * 1024
            elif line.startswith("Rss:"):
                kib = int(line.split()[1])
                rss += kib
                if anonymous and size >= guest_bytes:
                    guest_rss += kib
    return (rss - guest_rss) / 1024


def boot_once(command: list[str], guest_bytes: int, first_run_pattern: re.Pattern[bytes]) -> Sample:
    stderr_lines: list[bytes] = []
    start_wall = time.time()
    start = time.monotonic()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    boot = None
    deadline = start + TIMEOUT
    for line in process.stdout:
        if MARKER in line:
            boot = time.monotonic() - start
            break
        if time.monotonic() > deadline:
            break
    memory = vmm_memory_mib(process.pid, guest_bytes) if boot is not None else float("nan")
    process.kill()
    process.wait()
    reader.join(5)
    if boot is None:
        raise SystemExit(f"bench_boot: no {MARKER.decode()} from {command[0]}")
    stamps = [float(m.group(1)) for line in stderr_lines if (m := first_run_pattern.search(line))]
    first_run = (min(stamps) - start_wall) if stamps else float("nan")
    return Sample(boot, first_run, memory)


def main() -> None:
    runs = int(os.environ.get("CH_BENCH_BOOT_RUNS", "3"))
    vcpus = int(os.environ.get("CH_BENCH_BOOT_VCPUS", "1"))
    memory_mib = int(os.environ.get("CH_BENCH_BOOT_MEMORY_MIB", "128"))
    guest = guest_dir()
    kernel = guest / os.environ.get("CH_BENCH_BOOT_KERNEL", "vmlinux")
    if not kernel.exists():
        raise SystemExit(f"bench_boot: no {kernel} (scripts/guest/build.sh, VARIANTS)")
    acpi = kernel.name == "vmlinux-acpi"
    cmdline = (ROOT / "scripts/guest/cmdline").read_text().strip()
    if MARKER != b"GUEST-USERSPACE-READY":
        cmdline = " ".join(word for word in cmdline.split() if word != "quiet")
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise SystemExit(
            "bench_boot: qemu-system-x86_64 is needed (Debian package qemu-system-x86)"
        )
    ours = str(Path(sys.executable).parent / "cloud-hypervisor")
    commands = {
        "qemu": [
            qemu,
            "-accel",
            "kvm",
            "-M",
            f"microvm,acpi={'on' if acpi else 'off'}",
            "-device",
            "i8042",
            "-cpu",
            "host,-cx16,-kvm-pv-ipi,-kvm-pv-sched-yield,-kvm-pv-unhalt,-arch-capabilities",
            "-m",
            str(memory_mib),
            "-smp",
            str(vcpus),
            "-kernel",
            str(kernel),
            "-initrd",
            str(guest / "initramfs.cpio"),
            "-nodefaults",
            "-serial",
            "stdio",
            "-no-reboot",
            "-display",
            "none",
            "-append",
            cmdline,
            "-trace",
            "kvm_vcpu_ioctl",
        ],
        "this VMM": [
            ours,
            "--kernel",
            str(kernel),
            "--initramfs",
            str(guest / "initramfs.cpio"),
            "--cpus",
            f"boot={vcpus}",
            "--memory",
            f"size={memory_mib}M",
            "--serial",
            "tty",
            "--console",
            "off",
            "--cmdline",
            cmdline,
            "-v",
        ],
    }
    patterns = {
        # QEMU log trace backend: "PID@SECONDS.MICROS:kvm_vcpu_ioctl cpu_index 0, type 0xae80"
        "qemu": re.compile(rb"@(\d+\.\d+):kvm_vcpu_ioctl cpu_index \d+, type 0x%x" % KVM_RUN),
        "this VMM": re.compile(rb"first KVM_RUN at (\d+\.\d+)"),
    }
    samples: dict[str, list[Sample]] = {name: [] for name in commands}
    for run in range(runs):
        order = list(commands) if run % 2 == 0 else list(reversed(commands))
        for name in order:
            with boot_lock():
                sample = boot_once(commands[name], memory_mib << 20, patterns[name])
            samples[name].append(sample)
            print(
                f"run {run + 1}/{runs} {name:9s} boot {sample.boot:7.2f} s  first KVM_RUN "
                f"{sample.first_run * 1000:6.1f} ms  memory {sample.memory_mib:5.1f} MiB",
                flush=True,
            )

    def median(name: str, field: str) -> float:
        return float(statistics.median(getattr(s, field) for s in samples[name]))

    print(
        f"\n{kernel.name}: boot to {MARKER.decode()!r}, {vcpus} vCPU(s), {memory_mib} MiB, "
        f"medians of {runs}:"
    )
    for field, unit, scale, goal in (
        ("boot", "s", 1, 0.98),
        ("first_run", "ms", 1000, 0.8),
        ("memory_mib", "MiB", 1, 0.5),
    ):
        q, o = median("qemu", field), median("this VMM", field)
        print(
            f"  {field:10s} QEMU {q * scale:8.2f} {unit:3s} this VMM {o * scale:8.2f} {unit:3s} "
            f"ratio {o / q:5.2f} (goal <= {goal})"
        )


if __name__ == "__main__":
    main()
