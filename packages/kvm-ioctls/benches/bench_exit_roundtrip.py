"""KVM_RUN -> port-I/O exit -> KVM_RUN round trip from Python, beside the same loop in C.

Goal (issue): the Python median within 1.5x of C. Each sample is the time
between consecutive loop iterations, so it includes the typed-exit layer and
the caller's `match`, exactly what a VMM's vCPU loop pays per exit.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kvm_ioctls import IoOut, Kvm
from kvm_ioctls.testing import CpuMode, TinyGuest

EXITS = 50_000
ROUNDS = 3
OUT_LOOP = bytes.fromhex("eeebfd")  # 1: out dx, al; jmp 1b


def python_median_ns(exits: int) -> float:
    with Kvm() as kvm:
        guest = TinyGuest(kvm, OUT_LOOP, CpuMode.REAL)
        regs = guest.vcpu.get_regs()
        regs.rdx = 0x3F8
        guest.vcpu.set_regs(regs)
        run = guest.vcpu.run
        clock = time.perf_counter_ns
        samples = [0] * exits
        checksum = 0
        last = clock()
        for i in range(exits):
            match run():
                case IoOut(port, data):
                    checksum += port + data[0]
                case other:
                    raise SystemExit(f"unexpected exit {other}")
            now = clock()
            samples[i] = now - last
            last = now
        guest.close()
    return statistics.median(samples)


def c_median_ns(exits: int, folder: Path) -> float:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise SystemExit("bench_exit_roundtrip: a C compiler is needed for the reference")
    binary = folder / "exit_roundtrip"
    source = Path(__file__).with_name("exit_roundtrip.c")
    subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    output = subprocess.run([str(binary), str(exits)], check=True, capture_output=True, text=True)
    return float(output.stdout.split()[0])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        c_runs, py_runs = [], []
        for _ in range(ROUNDS):  # interleaved, so host noise hits both alike
            c_runs.append(c_median_ns(EXITS, Path(folder)))
            py_runs.append(python_median_ns(EXITS))
    c_ns, py_ns = statistics.median(c_runs), statistics.median(py_runs)
    ratio = py_ns / c_ns
    print(f"exit round trip, median of {EXITS} exits x {ROUNDS} rounds:")
    print(f"  C       {c_ns / 1000:7.2f} us")
    print(f"  Python  {py_ns / 1000:7.2f} us   ({ratio:.2f}x C; goal <= 1.5x)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
