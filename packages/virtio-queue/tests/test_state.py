"""Saving and restoring the device side of a queue (snapshot, migration)."""

from __future__ import annotations

import dataclasses

import pytest
from virtio_queue import InvalidQueueConfigError, MockSplitQueue, Queue, QueueState
from vm_memory import GuestMemoryMmap


def test_state_records_configuration_and_position(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.add_request([b"a"])
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    queue.add_used(memory, chain.head_index, 0)
    assert queue.state() == QueueState(
        max_size=16,
        size=16,
        ready=True,
        desc_table=driver.desc_table,
        avail_ring=driver.avail_ring,
        used_ring=driver.used_ring,
        next_avail=1,
        next_used=1,
        event_idx_enabled=False,
    )


def test_a_restored_queue_continues_where_the_saved_one_stopped(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    heads = [driver.add_request([bytes([i])]).head for i in range(4)]
    first = queue.pop_descriptor_chain(memory)
    assert first is not None
    queue.add_used(memory, first.head_index, 0)
    restored = Queue.from_state(queue.state())
    assert restored.state() == queue.state()
    assert [chain.head_index for chain in restored.iter(memory)] == heads[1:]
    restored.add_used(memory, heads[1], 0)
    assert driver.used_idx() == 2


@pytest.mark.parametrize(
    "change",
    [
        {"max_size": 24},
        {"size": 32},
        {"size": 0},
        {"desc_table": -1},
        {"used_ring": 1 << 64},
        {"next_avail": 0x10000},
        {"next_used": -1},
    ],
)
def test_a_state_with_a_field_out_of_range_is_rejected(
    queue: Queue, change: dict[str, int]
) -> None:
    state = dataclasses.replace(queue.state(), **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidQueueConfigError):
        Queue.from_state(state)


def test_event_idx_survives_a_restore(queue: Queue) -> None:
    queue.event_idx_enabled = True
    assert Queue.from_state(queue.state()).event_idx_enabled
