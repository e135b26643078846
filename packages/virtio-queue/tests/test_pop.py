"""Popping available chains: 2.7.6 (the available ring), 2.7.13.x (indices)."""

from __future__ import annotations

import pytest
from virtio_queue import (
    InvalidAvailIndexError,
    InvalidHeadIndexError,
    MockSplitQueue,
    Queue,
    QueueMemoryError,
)
from vm_memory import GuestMemoryMmap


def test_an_empty_ring_pops_nothing(memory: GuestMemoryMmap, queue: Queue) -> None:
    assert queue.pop_descriptor_chain(memory) is None
    assert list(queue.iter(memory)) == []


def test_chains_pop_in_the_order_the_driver_published_them(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    heads = [driver.add_request([b"a"], [1]).head for _ in range(5)]
    assert [chain.head_index for chain in queue.iter(memory)] == heads
    assert queue.next_avail == 5


def test_the_ring_slot_is_next_avail_modulo_the_size(
    memory: GuestMemoryMmap, driver: MockSplitQueue
) -> None:
    driver.write_descriptor(9, driver.read_descriptor(9)._replace(addr=0x8000, len=4))
    driver.set_avail_idx(0xFFFF)  # the driver is about to publish entry 0xFFFF
    queue = driver.create_queue()
    queue.next_avail = 0xFFFF
    driver.memory.write_u16(driver.avail_ring + 4 + 2 * (0xFFFF % 16), 9)
    driver.set_avail_idx(0)  # 0xFFFF + 1 wraps to 0
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    assert chain.head_index == 9
    assert queue.next_avail == 0
    assert queue.pop_descriptor_chain(memory) is None


def test_indices_wrap_around_through_many_ring_cycles(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    popped = 0
    for _ in range(70_000 // 16 + 1):
        for _ in range(16):
            driver.add_chain([(0x8000, 8)])
        for chain in queue.iter(memory):
            queue.add_used(memory, chain.head_index, 0)
            popped += 1
        driver.collect_used()
    assert popped > 0x10000
    assert queue.next_avail == popped & 0xFFFF == driver.avail_idx
    assert queue.next_used == popped & 0xFFFF == queue.used_idx(memory)


def test_a_driver_claiming_more_than_size_new_entries_breaks_the_queue(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.set_avail_idx(17)
    with pytest.raises(InvalidAvailIndexError) as error:
        queue.pop_descriptor_chain(memory)
    assert (error.value.avail_idx, error.value.next_avail, error.value.size) == (17, 0, 16)
    # Nothing was consumed, and asking again fails again instead of spinning.
    assert queue.next_avail == 0
    with pytest.raises(InvalidAvailIndexError):
        queue.pop_descriptor_chain(memory)


def test_exactly_size_new_entries_is_allowed(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.set_avail_idx(16)
    assert sum(1 for _ in queue.iter(memory)) == 16


def test_an_avail_index_that_went_backwards_is_detected(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    for _ in range(3):
        driver.add_chain([(0x8000, 8)])
    assert sum(1 for _ in queue.iter(memory)) == 3
    driver.set_avail_idx(1)  # 1 - 3 = 0xFFFE entries "ahead"
    with pytest.raises(InvalidAvailIndexError):
        queue.pop_descriptor_chain(memory)


def test_the_avail_index_is_read_once_per_batch(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    for _ in range(4):
        driver.add_chain([(0x8000, 8)])
    first = queue.pop_descriptor_chain(memory)
    assert first is not None
    # A lie written after the batch was read is not seen until the batch is done.
    driver.set_avail_idx(200)
    assert sum(1 for _ in range(3) if queue.pop_descriptor_chain(memory)) == 3
    with pytest.raises(InvalidAvailIndexError):
        queue.pop_descriptor_chain(memory)


def test_a_head_outside_the_table_is_an_error_and_is_consumed(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.publish(16)
    good = driver.add_request([b"ok"]).head
    with pytest.raises(InvalidHeadIndexError) as error:
        queue.pop_descriptor_chain(memory)
    assert (error.value.head, error.value.size) == (16, 16)
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    assert chain.head_index == good


def test_undo_pop_gives_the_chain_back(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    head = driver.add_request([b"x"]).head
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    queue.undo_pop()
    again = queue.pop_descriptor_chain(memory)
    assert again is not None
    assert again.head_index == head


def test_rings_outside_guest_memory_raise_a_queue_error(memory: GuestMemoryMmap) -> None:
    queue = Queue(16)
    queue.avail_ring = 1 << 40
    queue.ready = True
    with pytest.raises(QueueMemoryError) as error:
        queue.pop_descriptor_chain(memory)
    assert error.value.area == "available ring"
