"""Device-side cost of a split virtqueue, driven by the mock driver.

- chains/s through pop -> read 4 KiB -> add_used (one readable 4 KiB buffer
  per chain), timing the device side only: the driver publishes a ring's worth
  of chains between timed rounds;
- MB/s of 64 KiB chains filled from a file with ``os.preadv`` straight into
  guest memory (pop -> Writer.write_all_from_at -> add_used), next to a raw
  ``os.preadv`` of the same file into one 64 KiB buffer. Goal: >= 0.8x raw.
  The chains have one buffer or 16 of 4 KiB, direct or (as Linux sends a
  request of several buffers) in an indirect table. A last row does the
  same ring work written inline, with no chain, Reader or Writer objects:
  the most a Python device can get on this host;
- the cost of ``full_barrier()`` (the store->load fence the spec needs before
  deciding on notifications), next to an empty function call.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

from virtio_queue import MockSplitQueue, Queue, full_barrier
from virtio_queue.descriptor import DESCRIPTOR
from vm_memory import GuestMemoryMmap

QUEUE_SIZE = 256
ROUNDS = 40
PAGE = 4096
CHUNK = 64 << 10
FILE_SIZE = 64 << 20
# CPU time of this thread: other load on the machine skews it less.
clock = time.thread_time_ns


def median_ns(samples: list[int]) -> float:
    return float(statistics.median(samples))


def barrier_rows() -> list[tuple[str, float]]:
    def nothing() -> None:
        pass

    rows = []
    for name, call in (("empty function call", nothing), ("full_barrier()", full_barrier)):
        samples = []
        for _ in range(7):
            start = clock()
            for _ in range(200_000):
                call()
            samples.append(clock() - start)
        rows.append((name, median_ns(samples) / 200_000))
    return rows


Buffers = list[tuple[int, int]]


def refill(
    driver: MockSplitQueue, chains: list[tuple[Buffers, Buffers]], indirect: bool = False
) -> None:
    driver.collect_used()
    for readable, writable in chains:
        driver.add_chain(readable, writable, indirect=indirect)


def device_rounds(
    memory: GuestMemoryMmap,
    driver: MockSplitQueue,
    queue: Queue,
    chains: list[tuple[Buffers, Buffers]],
    handle: Callable[[Queue, GuestMemoryMmap], int],
    *,
    indirect: bool = False,
) -> float:
    """Median ns per chain of ``handle`` over rounds of one ring of chains."""
    samples = []
    for _ in range(ROUNDS):
        refill(driver, chains, indirect)
        start = clock()
        done = handle(queue, memory)
        samples.append(clock() - start)
        assert done == len(chains), done
    return median_ns(samples) / len(chains)


def chains_per_second() -> float:
    memory = GuestMemoryMmap.from_ranges([(0, 64 << 20)])
    driver = MockSplitQueue(memory, QUEUE_SIZE)
    queue = driver.create_queue()
    chains: list[tuple[Buffers, Buffers]] = [
        ([(driver.alloc(PAGE, PAGE), PAGE)], []) for _ in range(QUEUE_SIZE)
    ]
    buffer = bytearray(PAGE)

    def handle(queue: Queue, memory: GuestMemoryMmap) -> int:
        done = 0
        for chain in queue.iter(memory):
            reader = chain.reader()
            reader.read_exact_into(buffer)
            queue.add_used(memory, chain.head_index, 0)
            done += 1
        queue.needs_notification(memory)
        return done

    return 1e9 / device_rounds(memory, driver, queue, chains, handle)


def stage_costs() -> list[tuple[str, float]]:
    """ns per chain added by each step of pop -> read 4 KiB -> add_used."""
    memory = GuestMemoryMmap.from_ranges([(0, 64 << 20)])
    driver = MockSplitQueue(memory, QUEUE_SIZE)
    queue = driver.create_queue()
    chains: list[tuple[Buffers, Buffers]] = [
        ([(driver.alloc(PAGE, PAGE), PAGE)], []) for _ in range(QUEUE_SIZE)
    ]
    buffer = bytearray(PAGE)
    steps = ["pop (parses the chain)", "validate (a no-op now)", "Reader + read 4 KiB", "add_used"]
    totals = []
    for upto in range(len(steps)):

        def handle(queue: Queue, memory: GuestMemoryMmap, upto: int = upto) -> int:
            heads = []
            for chain in queue.iter(memory):
                if upto >= 1:
                    chain.validate()
                if upto >= 2:
                    chain.reader().read_exact_into(buffer)
                if upto >= 3:
                    queue.add_used(memory, chain.head_index, 0)
                heads.append(chain.head_index)
            if upto < 3:  # return the chains untimed... as far as possible
                for head in heads:
                    queue.add_used(memory, head, 0)
            return len(heads)

        totals.append(device_rounds(memory, driver, queue, chains, handle))
    # The untimed add_used of the earlier steps is in their totals too: take
    # it out by differences against the full loop.
    add_used = totals[3] - totals[2]
    costs = [totals[0] - add_used, totals[1] - totals[0], totals[2] - totals[1], add_used]
    return list(zip(steps, costs, strict=True))


def preadv_rates(
    path: str, pages_per_chain: int, distinct: bool, indirect: bool = False
) -> tuple[float, float]:
    """(MB/s through the queue, MB/s of raw preadv) for 64 KiB chains made of
    ``pages_per_chain`` buffers. ``distinct``: every chain has buffers of its
    own (16 MiB in all, cache-cold like a real guest's) and the raw preadv
    fills the same buffers; otherwise all chains share one set of buffers and
    the raw preadv fills one 64 KiB bytearray, as in the issue's comparison.
    ``indirect``: each chain is one descriptor pointing to a table of the
    buffers."""
    fd = os.open(path, os.O_RDONLY)
    try:
        memory = GuestMemoryMmap.from_ranges([(0, 256 << 20)])
        driver = MockSplitQueue(memory, QUEUE_SIZE)
        queue = driver.create_queue()
        piece = CHUNK // pages_per_chain
        count = QUEUE_SIZE if indirect else QUEUE_SIZE // pages_per_chain
        shared = [(driver.alloc(piece, PAGE), piece) for _ in range(pages_per_chain)]
        chains: list[tuple[Buffers, Buffers]] = [
            ([], [(driver.alloc(piece, PAGE), piece) for _ in range(pages_per_chain)])
            if distinct
            else ([], shared)
            for _ in range(count)
        ]
        position = [0]

        def handle(queue: Queue, memory: GuestMemoryMmap) -> int:
            done = 0
            offset = position[0]
            for chain in queue.iter(memory):
                writer = chain.writer()
                writer.write_all_from_at(fd, CHUNK, offset)
                queue.add_used(memory, chain.head_index, writer.bytes_written)
                offset = (offset + CHUNK) % FILE_SIZE
                done += 1
            queue.needs_notification(memory)
            position[0] = offset
            return done

        queue_ns = device_rounds(memory, driver, queue, chains, handle, indirect=indirect)

        if distinct:
            targets = [[memory.get_slice(addr, size) for addr, size in w] for _, w in chains]
        else:
            targets = [[memoryview(bytearray(CHUNK))]] * count
        samples = []
        offset = 0
        for _ in range(ROUNDS):
            start = clock()
            for views in targets:
                os.preadv(fd, views, offset)
                offset = (offset + CHUNK) % FILE_SIZE
            samples.append(clock() - start)
        raw_ns = median_ns(samples) / count
        del targets
        return CHUNK / queue_ns * 1e3, CHUNK / raw_ns * 1e3
    finally:
        os.close(fd)


def inline_floor_rate(path: str) -> tuple[float, float]:
    """(MB/s, MB/s of raw preadv) for one-buffer 64 KiB chains served by the
    same ring work written inline: read the entry and the descriptor, check
    the buffer, cut a view, preadv into it, store the used element and
    index; no chain, Reader or Writer, no checks beyond the buffer's bounds.
    Not a device (it trusts the driver): a floor for the Python work."""
    fd = os.open(path, os.O_RDONLY)
    try:
        memory = GuestMemoryMmap.from_ranges([(0, 256 << 20)])
        driver = MockSplitQueue(memory, QUEUE_SIZE)
        queue = driver.create_queue()
        buffer = driver.alloc(CHUNK, PAGE)
        chains: list[tuple[Buffers, Buffers]] = [([], [(buffer, CHUNK)])] * QUEUE_SIZE
        region = memory.regions[0].as_memoryview()
        table = region[driver.desc_table : driver.desc_table + 16 * QUEUE_SIZE]
        avail = region[driver.avail_ring : driver.avail_ring + 6 + 2 * QUEUE_SIZE].cast("H")
        used = region[driver.used_ring : driver.used_ring + 6 + 8 * QUEUE_SIZE].cast("H")
        elements = region[driver.used_ring + 4 : driver.used_ring + 4 + 8 * QUEUE_SIZE].cast("I")
        load = DESCRIPTOR.unpack_from
        size, end_of_memory = QUEUE_SIZE - 1, len(region)
        state = [0, 0, 0]  # next_avail, next_used, file offset

        def handle(queue: Queue, memory: GuestMemoryMmap) -> int:
            next_avail, next_used, offset = state
            last = avail[1]
            done = 0
            while next_avail != last:
                head = avail[2 + (next_avail & size)]
                next_avail = (next_avail + 1) & 0xFFFF
                addr, length, _, _ = load(table, head << 4)
                end = addr + length
                if end > end_of_memory:
                    raise ValueError("buffer outside guest memory")
                moved = os.preadv(fd, (region[addr:end],), offset)
                offset = (offset + CHUNK) % FILE_SIZE
                slot = (next_used & size) << 1
                elements[slot] = head
                elements[slot + 1] = moved
                next_used = (next_used + 1) & 0xFFFF
                used[1] = next_used
                done += 1
            state[:] = [next_avail, next_used, offset]
            return done

        floor_ns = device_rounds(memory, driver, queue, chains, handle)
        targets = [memoryview(bytearray(CHUNK))]
        samples = []
        offset = 0
        for _ in range(ROUNDS):
            start = clock()
            for _ in range(QUEUE_SIZE):
                os.preadv(fd, targets, offset)
                offset = (offset + CHUNK) % FILE_SIZE
            samples.append(clock() - start)
        raw_ns = median_ns(samples) / QUEUE_SIZE
        for view in (table, avail, used, elements, region):
            view.release()
        return CHUNK / floor_ns * 1e3, CHUNK / raw_ns * 1e3
    finally:
        os.close(fd)


def writer_only_rate(path: str) -> tuple[float, float]:
    """(MB/s of Writer.write_all_from_at over an already parsed one-buffer
    64 KiB chain, MB/s of raw preadv into the same guest buffer): the I/O path
    alone, without pop/parse/add_used."""
    fd = os.open(path, os.O_RDONLY)
    try:
        memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
        driver = MockSplitQueue(memory, 16)
        queue = driver.create_queue()
        driver.add_chain([], [(driver.alloc(CHUNK, PAGE), CHUNK)])
        chain = queue.pop_descriptor_chain(memory)
        assert chain is not None
        chain.validate()
        views = chain.writable_views()
        rates = []
        for through_writer in (True, False):
            samples = []
            offset = 0
            for _ in range(ROUNDS):
                start = clock()
                for _ in range(QUEUE_SIZE):
                    if through_writer:
                        chain.writer().write_all_from_at(fd, CHUNK, offset)
                    else:
                        os.preadv(fd, views, offset)
                    offset = (offset + CHUNK) % FILE_SIZE
                samples.append(clock() - start)
            rates.append(CHUNK / (median_ns(samples) / QUEUE_SIZE) * 1e3)
        del chain, views
        return rates[0], rates[1]
    finally:
        os.close(fd)


def main() -> None:
    print("virtio-queue benchmark (device side; mock driver untimed)")
    for name, ns in barrier_rows():
        print(f"  {name:<32} {ns:8.1f} ns")
    rate = chains_per_second()
    print(f"  pop -> read 4 KiB -> add_used {rate:10,.0f} chains/s ({1e9 / rate:,.0f} ns/chain)")
    for step, ns in stage_costs():
        print(f"    of which {step:<24} {ns:8,.0f} ns")
    with tempfile.NamedTemporaryFile(prefix="virtio-queue-bench-") as data:
        block = os.urandom(1 << 20)
        for _ in range(FILE_SIZE >> 20):
            data.write(block)
        data.flush()
        writer_mb, raw_mb = writer_only_rate(data.name)
        print(
            f"  Writer.write_all_from_at only (parsed chain) {writer_mb:7,.0f} MB/s"
            f"   raw {raw_mb:7,.0f} MB/s   ratio {writer_mb / raw_mb:.2f}"
        )
        cases = [(False, 1, False), (False, 16, False), (True, 1, False), (True, 16, False)]
        for distinct, pages, indirect in [*cases, (False, 16, True), (True, 16, True)]:
            queue_mb, raw_mb = preadv_rates(data.name, pages, distinct, indirect)
            kind = ("own" if distinct else "shared") + (", indirect" if indirect else "")
            print(
                f"  preadv 64 KiB, {pages:>2} buffers/chain ({kind:<16}) {queue_mb:7,.0f} MB/s"
                f"   raw {raw_mb:7,.0f} MB/s   ratio {queue_mb / raw_mb:.2f} (goal >= 0.80)"
            )
        floor_mb, raw_mb = inline_floor_rate(data.name)
        print(
            f"  floor: the ring work inline, 1 shared buffer  {floor_mb:7,.0f} MB/s"
            f"   raw {raw_mb:7,.0f} MB/s   ratio {floor_mb / raw_mb:.2f}"
        )


if __name__ == "__main__":
    main()
