"""Bus dispatch cost per vCPU exit, beside the fastest dispatch Python can do.

Every port I/O and MMIO exit goes through ``Bus.read``/``Bus.write``. Each row
shows, on the same device: the bus's first access to an address (``bisect``
over the range starts), its repeated accesses (the memo: one dict lookup), and
two references, a function doing a dict lookup by exact address and calling
the device (what a bus could do if every device had a single address), and a
direct method call (no lookup at all). Rows for 12 PC ports, 64 virtio-mmio
devices and 4096 ranges show that the first lookup grows only with log2(n).
The last rows are the whole serial console path (a THR write, an LSR poll)
through the bus; compare them with a KVM exit round trip
(kvm-ioctls' bench_exit_roundtrip).
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable

from vm_devices import Bus, MmioBus, PioBus
from vm_devices.legacy import Serial16550

CALLS = 200_000
ROUNDS = 5
clock = time.perf_counter_ns

PC_PORTS = [  # (base, length) of a PC's legacy ports and PCI config space
    (0x20, 2),
    (0x40, 4),
    (0x60, 5),
    (0x70, 2),
    (0x80, 1),
    (0xA0, 2),
    (0xE9, 1),
    (0x2F8, 8),
    (0x3F8, 8),
    (0x402, 1),
    (0x510, 12),
    (0xCF8, 8),
]


class NullDevice:
    """Does the least a device can: fills reads with zero."""

    def read(self, base: int, offset: int, data: memoryview) -> None:
        data[0] = 0

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        pass


def per_call_ns(loop: Callable[[int], None]) -> float:
    """Median over rounds of the mean ns per call of ``loop(CALLS)``."""
    samples = []
    for _ in range(ROUNDS):
        start = clock()
        loop(CALLS)
        samples.append((clock() - start) / CALLS)
    return statistics.median(samples)


def dispatch_row(bus: Bus, address: int, device: NullDevice) -> tuple[float, ...]:
    """ns per write: bus first access, bus repeated access, dict function, direct call."""
    table = {address: device}
    data = memoryview(bytearray(1))

    memo = bus._table.memo  # private: emptied before each call to force the bisection
    spare: dict[int, object] = {}

    def first_access(n: int) -> None:
        write, forget = bus.write, memo.clear
        for _ in range(n):
            forget()
            write(address, data)

    def forgetting_only(n: int) -> None:
        forget = spare.clear
        for _ in range(n):
            forget()

    def repeated(n: int) -> None:
        write = bus.write
        for _ in range(n):
            write(address, data)

    def dict_write(target_address: int, payload: memoryview) -> bool:
        target = table.get(target_address)
        if target is None:
            return False
        target.write(target_address, 0, payload)
        return True

    def through_dict(n: int) -> None:
        for _ in range(n):
            dict_write(address, data)

    def direct(n: int) -> None:
        write = device.write
        for _ in range(n):
            write(address, 0, data)

    return (
        per_call_ns(first_access) - per_call_ns(forgetting_only),
        per_call_ns(repeated),
        per_call_ns(through_dict),
        per_call_ns(direct),
    )


def main() -> None:
    def empty(n: int) -> None:
        for _ in range(n):
            pass

    loop = per_call_ns(empty)

    pio = PioBus()
    for base, length in PC_PORTS:
        pio.insert(NullDevice(), base, length)
    mmio = MmioBus()
    for index in range(64):
        mmio.insert(NullDevice(), 0xD000_0000 + index * 0x1000, 0x1000)
    crowded = MmioBus()
    for index in range(4096):
        crowded.insert(NullDevice(), 0x1_0000_0000 + index * 0x1000, 0x1000)

    rows = []
    for name, bus, address in (
        ("pio, 12 ranges", pio, 0x3FD),
        ("mmio, 64 ranges", mmio, 0xD002_0050),
        ("mmio, 4096 ranges", crowded, 0x1_0080_0050),
    ):
        resolved = bus.resolve(address)
        assert resolved is not None
        device = resolved[1]
        assert isinstance(device, NullDevice)
        rows.append((name, dispatch_row(bus, address, device)))

    print(
        f"vm-devices bus, CPU ns per write (median of {ROUNDS} x {CALLS:,}, loop cost subtracted)"
    )
    print(
        f"  {'':<18} {'Bus.write first':>15} {'repeated':>9}"
        f"   reference: {'dict + call':>11} {'direct call':>11}"
    )
    for name, (first, repeated, by_dict, direct) in rows:
        print(
            f"  {name:<18} {first - loop:12.0f} ns {repeated - loop:6.0f} ns"
            f" {by_dict - loop:19.0f} ns {direct - loop:8.0f} ns"
        )

    serial_bus = PioBus()
    serial_bus.insert(Serial16550(io.BytesIO()), 0x3F8, 8)
    data = memoryview(bytearray(b"A"))

    def thr_write(n: int) -> None:
        write = serial_bus.write
        for _ in range(n):
            write(0x3F8, data)

    def lsr_read(n: int) -> None:
        read = serial_bus.read
        for _ in range(n):
            read(0x3FD, data)

    print("serial console path through the bus (compare: kvm-ioctls' exit round trip bench):")
    print(f"  THR write (one byte out)  {per_call_ns(thr_write) - loop:6.0f} ns")
    print(f"  LSR read  (poll)          {per_call_ns(lsr_read) - loop:6.0f} ns")


if __name__ == "__main__":
    main()
