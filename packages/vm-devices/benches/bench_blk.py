"""virtio-blk's request path alone, beside a raw ``os.preadv`` of the same file.

The mock driver publishes a batch of IN requests (a 16-byte header, one data
buffer, a status byte); the timed part is what the device's worker does on a
kick: ``QueueServer.process`` with Block's request handler, i.e. pop ->
parse the header and check the request -> ``os.preadv`` straight into guest
memory -> status byte -> ``add_used`` -> the notification decision. The
reference reads the same offsets of the same file into one buffer of the
request's size with a bare ``os.preadv`` per request. Goal: >= 0.8x raw.

Rows for 4 KiB and 1 MiB requests, from the page cache (the Python work per
request shows) and with ``O_DIRECT`` (the storage shows).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass

from virtio_queue import MockSplitQueue
from vm_devices.virtio.device import ActiveQueue
from vm_devices.virtio.devices.block import Block
from vm_devices.virtio.devices.block_request import HEADER, BlockRequestHandler
from vm_devices.virtio.devices.serve import QueueServer
from vm_memory import GuestMemoryMmap

QUEUE_SIZE = 256
FILE_SIZE = 128 << 20
PAGE = 4096
clock = time.perf_counter_ns


class NoInterrupt:
    def notify_queue(self, queue_index: int) -> None:
        pass

    def notify_config(self) -> None:
        pass


def median(samples: list[int]) -> float:
    return float(statistics.median(samples))


@dataclass(frozen=True)
class Case:
    name: str
    size: int  # bytes per request
    batch: int  # requests per kick
    rounds: int
    direct: bool = False  # O_DIRECT
    indirect: bool = False  # each request in an indirect table, as Linux sends it


class Setup:
    """Guest memory, the driver's queue, and the data buffers requests read into
    (one per request of a batch, reused every round, as a guest's page cache
    would be). The raw reference reads into the same buffers."""

    def __init__(self, size: int, batch: int) -> None:
        self.memory = GuestMemoryMmap.from_ranges([(0, 64 << 20)])
        self.driver = MockSplitQueue(self.memory, QUEUE_SIZE)
        self.eventfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.active = ActiveQueue(0, self.driver.create_queue(), self.eventfd)
        self.data = [self.driver.alloc(size, PAGE) for _ in range(min(batch, (48 << 20) // size))]
        self.status = self.driver.alloc(batch)
        self.headers = [self.driver.alloc(HEADER.size) for _ in range(batch)]

    def close(self) -> None:
        self.active.queue.release()
        os.close(self.eventfd)
        self.memory.close()


def device_ns(setup: Setup, path: str, case: Case, start: int) -> float:
    """Median ns per request of the device path, reading from byte ``start`` on."""
    size, batch = case.size, case.batch
    block = Block(path, direct=case.direct, lock=False)
    handler = BlockRequestHandler(block.disk, block.serial)
    server = QueueServer("bench", setup.active, setup.memory, NoInterrupt(), handler.handle)
    memory, driver, data = setup.memory, setup.driver, setup.data
    sectors = FILE_SIZE // 512
    sector = start // 512
    samples = []
    try:
        for _ in range(case.rounds):
            driver.collect_used()
            for i in range(batch):
                memory.write(setup.headers[i], HEADER.pack(0, 0, sector))
                sector = (sector + size // 512) % sectors
                writable = [(data[i % len(data)], size), (setup.status + i, 1)]
                header = [(setup.headers[i], HEADER.size)]
                driver.add_chain(header, writable, indirect=case.indirect)
            start = clock()
            server.process()
            samples.append(clock() - start)
        assert handler.counters.read_bytes == case.rounds * batch * size
    finally:
        block.shutdown()
    return median(samples) / batch


def raw_ns(setup: Setup, path: str, case: Case, start: int) -> float:
    """Median ns per bare ``os.preadv`` of a request's size, into the same
    buffers, reading from byte ``start`` on."""
    size, batch = case.size, case.batch
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECT if case.direct else 0))
    targets = [[setup.memory.get_slice(addr, size)] for addr in setup.data]
    offset = start
    samples = []
    try:
        for _ in range(case.rounds):
            start = clock()
            for i in range(batch):
                os.preadv(fd, targets[i % len(targets)], offset)
                offset = (offset + size) % FILE_SIZE
            samples.append(clock() - start)
    finally:
        del targets
        os.close(fd)
    return median(samples) / batch


def call_ns() -> float:
    """What an empty Python function call costs on this host (to scale the rows by)."""

    def nothing() -> None:
        pass

    samples = []
    for _ in range(5):
        start = clock()
        for _ in range(100_000):
            nothing()
        samples.append(clock() - start)
    return min(samples) / 100_000


def warm_page_cache(path: str) -> None:
    with open(path, "rb") as image:
        while image.read(1 << 20):
            pass


def row(case: Case, device: float, raw: float) -> None:
    device_rate = case.size / device * 1e3
    raw_rate = case.size / raw * 1e3
    print(
        f"{case.name:<24} device {device_rate:7.0f} MB/s ({device / 1e3:7.1f} us/request)"
        f"   raw preadv {raw_rate:7.0f} MB/s ({raw / 1e3:7.1f} us)"
        f"   ratio {device_rate / raw_rate:.2f}x"
    )


def main() -> None:
    with tempfile.NamedTemporaryFile(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as image:
        chunk = os.urandom(1 << 20)
        for _ in range(FILE_SIZE >> 20):
            image.write(chunk)
        image.flush()
        os.fsync(image.fileno())  # else the first O_DIRECT reads pay for the writeback
        path = image.name
        print(f"virtio-blk IN requests, {FILE_SIZE >> 20} MiB image at {path}; goal >= 0.8x raw")
        print(f"(an empty Python function call costs {call_ns():.0f} ns on this host)")
        cases = [
            Case("4 KiB, page cache", 4 << 10, 80, 100),
            Case("4 KiB, cache, indirect", 4 << 10, 200, 40, indirect=True),
            Case("1 MiB, page cache", 1 << 20, 40, 20),
            Case("4 KiB, O_DIRECT", 4 << 10, 80, 20, direct=True),
            Case("1 MiB, O_DIRECT", 1 << 20, 16, 10, direct=True),
        ]
        for case in cases:
            if not case.direct:
                warm_page_cache(path)
            setup = Setup(case.size, case.batch)
            try:
                # Twice each, alternating, so a change of load on the host falls
                # on both; the better run of each counts. With O_DIRECT each run
                # reads a quarter of the image of its own: no run finds what
                # another just read in a cache below this one.
                quarter = FILE_SIZE // 4 if case.direct else 0
                device = device_ns(setup, path, case, 0)
                raw = raw_ns(setup, path, case, quarter)
                raw = min(raw, raw_ns(setup, path, case, 2 * quarter))
                device = min(device, device_ns(setup, path, case, 3 * quarter))
                row(case, device, raw)
            finally:
                setup.close()


if __name__ == "__main__":
    main()
