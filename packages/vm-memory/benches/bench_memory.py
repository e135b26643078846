"""Guest memory access cost, beside the unchecked operations it wraps.

The fixed-width loads and stores and ``get_slice`` are on virtio's hot path
(ring indices, descriptors, buffers). Each row shows the checked
``GuestMemoryMmap`` call, the same struct/memoryview call in a plain Python
function with no checks (the floor for any Python API), and that call inline.
Bulk writes should run at memcpy speed, like a raw mmap slice assignment.
"""

from __future__ import annotations

import mmap
import statistics
import struct
import time
from collections.abc import Callable

from vm_memory import GuestMemoryMmap

CALLS = 200_000
ROUNDS = 5
BULK = 16 << 20
BULK_ROUNDS = 20
# Guest RAM below and above a PCI hole, as a VMM lays it out.
LAYOUT = [(0, 512 << 20), (4 << 30, 64 << 20)]
ADDR = 0x10_0002  # a naturally aligned ring index
U16 = struct.Struct("<H")
DESCRIPTOR = struct.Struct("<QIHH")

# CPU time of this thread: a busy machine (tests running beside) then skews
# the numbers less than wall-clock time would.
clock = time.thread_time_ns


def per_call_ns(loop: Callable[[int], None]) -> float:
    """Median over rounds of the mean ns per iteration of ``loop(CALLS)``."""
    samples = []
    for _ in range(ROUNDS):
        start = clock()
        loop(CALLS)
        samples.append((clock() - start) / CALLS)
    return statistics.median(samples)


def bulk_mb_per_s(write: Callable[[], None]) -> float:
    samples = []
    for _ in range(BULK_ROUNDS):
        start = clock()
        write()
        samples.append(clock() - start)
    return BULK / (statistics.median(samples) / 1e9) / 1e6


def hot_path_rows(memory: GuestMemoryMmap, raw: memoryview) -> list[tuple[str, list[float]]]:
    def unchecked_read_u16(addr: int) -> int:
        value: int = U16.unpack_from(raw, addr)[0]
        return value

    def unchecked_write_u16(addr: int, value: int) -> None:
        U16.pack_into(raw, addr, value)

    def unchecked_read_struct(addr: int, fmt: struct.Struct) -> tuple[int, ...]:
        return fmt.unpack_from(raw, addr)

    def unchecked_get_slice(addr: int, length: int) -> memoryview:
        return raw[addr : addr + length]

    def read_u16(n: int, read: Callable[[int], int]) -> None:
        for _ in range(n):
            read(ADDR)

    def write_u16(n: int, write: Callable[[int, int], None]) -> None:
        for _ in range(n):
            write(ADDR, 7)

    def read_struct(n: int, read: Callable[[int, struct.Struct], object]) -> None:
        for _ in range(n):
            read(ADDR, DESCRIPTOR)

    def get_slice(n: int, get: Callable[[int, int], memoryview]) -> None:
        for _ in range(n):
            get(ADDR, 4096)

    def inline_read_u16(n: int) -> None:
        unpack = U16.unpack_from
        for _ in range(n):
            unpack(raw, ADDR)

    def inline_write_u16(n: int) -> None:
        pack = U16.pack_into
        for _ in range(n):
            pack(raw, ADDR, 7)

    def inline_read_struct(n: int) -> None:
        unpack = DESCRIPTOR.unpack_from
        for _ in range(n):
            unpack(raw, ADDR)

    def inline_get_slice(n: int) -> None:
        for _ in range(n):
            raw[ADDR : ADDR + 4096]

    def empty(n: int) -> None:
        for _ in range(n):
            pass

    base = per_call_ns(empty)
    cases = [
        (
            "read_u16",
            lambda n: read_u16(n, memory.read_u16),
            lambda n: read_u16(n, unchecked_read_u16),
            inline_read_u16,
        ),
        (
            "write_u16",
            lambda n: write_u16(n, memory.write_u16),
            lambda n: write_u16(n, unchecked_write_u16),
            inline_write_u16,
        ),
        (
            "read_struct <QIHH",
            lambda n: read_struct(n, memory.read_struct),
            lambda n: read_struct(n, unchecked_read_struct),
            inline_read_struct,
        ),
        (
            "get_slice 4 KiB",
            lambda n: get_slice(n, memory.get_slice),
            lambda n: get_slice(n, unchecked_get_slice),
            inline_get_slice,
        ),
    ]
    return [(name, [per_call_ns(loop) - base for loop in loops]) for name, *loops in cases]


def main() -> None:
    memory = GuestMemoryMmap.from_ranges(LAYOUT)
    mapping = mmap.mmap(-1, 512 << 20)
    raw = memoryview(mapping)

    print(f"vm-memory, CPU ns per call (median of {ROUNDS} x {CALLS:,}, loop cost subtracted)")
    print(f"  {'':<18} {'vm-memory':>9}   reference: {'unchecked function':>18} {'inline':>9}")
    for name, (ours, function, inline) in hot_path_rows(memory, raw):
        print(f"  {name:<18} {ours:6.0f} ns   {function:26.0f} ns {inline:6.0f} ns")

    payload = bytes(range(256)) * (BULK // 256)
    ours = bulk_mb_per_s(lambda: memory.write(0x20_0000, payload))
    theirs = bulk_mb_per_s(lambda: mapping.__setitem__(slice(0x20_0000, 0x20_0000 + BULK), payload))
    print(f"write 16 MiB: vm-memory {ours:,.0f} MB/s, reference {theirs:,.0f} MB/s (mmap slice)")

    raw.release()
    mapping.close()
    memory.close()


if __name__ == "__main__":
    main()
