"""Coverage-guided fuzzing of the device side of a split virtqueue (atheris).

The fuzz input is what a hostile driver controls: the queue size, EVENT_IDX,
and the first 4 KiB of guest memory, where the descriptor table, both rings
and any indirect tables live. The device pops and serves every chain; only
the package's own errors may come out, and no view of guest memory may
outlive a request (the memory must stay closable).

    python packages/virtio-queue/fuzz/fuzz_queue.py -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

with atheris.instrument_imports():
    from virtio_queue import (
        InvalidAvailIndexError,
        InvalidChainError,
        InvalidHeadIndexError,
        Queue,
        avail_ring_size,
        desc_table_size,
    )
    from vm_memory import GuestMemoryMmap

# Two contiguous regions and one after a hole, created once: each input
# rewrites the area the driver controls.
MEMORY = GuestMemoryMmap.from_ranges([(0, 0x1_0000), (0x1_0000, 0x1_0000), (0x4_0000, 0x1_0000)])
DRIVER_AREA = 0x1000
PATTERN = b"\x5a" * 0x2_0000


def serve(queue: Queue) -> None:
    for _ in range(2 * queue.size + 2):
        try:
            chain = queue.pop_descriptor_chain(MEMORY)
        except InvalidAvailIndexError:
            break
        except InvalidHeadIndexError:
            continue
        if chain is None:
            break
        used = 0
        try:
            reader, writer = chain.reader(), chain.writer()
            reader.read()
            used = writer.write(PATTERN[: writer.available_bytes])
            del reader, writer
        except InvalidChainError:
            used = 0
        queue.add_used(MEMORY, chain.head_index, used)
        chain.release()
    queue.needs_notification(MEMORY)
    queue.enable_notification(MEMORY)
    queue.disable_notification(MEMORY)


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    size = 1 << provider.ConsumeIntInRange(0, 5)
    event_idx = provider.ConsumeBool()
    area = provider.ConsumeBytes(DRIVER_AREA)
    MEMORY.write(0, area + bytes(DRIVER_AREA - len(area)))
    queue = Queue(size)
    queue.desc_table = 0
    queue.avail_ring = desc_table_size(size)
    queue.used_ring = (queue.avail_ring + avail_ring_size(size) + 3) & ~3
    queue.event_idx_enabled = event_idx
    queue.ready = True
    serve(queue)
    queue.release()


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
