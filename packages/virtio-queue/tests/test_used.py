"""Returning chains: 2.7.8 (the used ring)."""

from __future__ import annotations

import pytest
from virtio_queue import InvalidUsedElementError, MockSplitQueue, Queue, UsedElement
from vm_memory import GuestMemoryMmap


def test_add_used_writes_the_element_then_publishes_the_index(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    request = driver.add_request([b"x"], [8])
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    queue.add_used(memory, chain.head_index, 5)
    assert driver.used_idx() == queue.used_idx(memory) == queue.next_used == 1
    assert driver.used_element(0) == UsedElement(request.head, 5)
    assert driver.collect_used() == [UsedElement(request.head, 5)]


def test_used_entries_go_to_next_used_modulo_the_size(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    queue.next_used = 0xFFFF
    queue.add_used(memory, 3, 1)
    queue.add_used(memory, 4, 2)
    assert driver.used_element(0xFFFF) == UsedElement(3, 1)  # slot 15
    assert driver.used_element(0x10000) == UsedElement(4, 2)  # slot 0
    assert queue.used_idx(memory) == queue.next_used == 1


@pytest.mark.parametrize(("head", "length"), [(16, 0), (-1, 0), (0, -1), (0, 1 << 32)])
def test_add_used_rejects_heads_and_lengths_the_ring_cannot_hold(
    memory: GuestMemoryMmap, queue: Queue, head: int, length: int
) -> None:
    with pytest.raises(InvalidUsedElementError):
        queue.add_used(memory, head, length)
    assert queue.used_idx(memory) == queue.next_used == 0


def test_a_u32_max_length_is_accepted(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    queue.add_used(memory, 15, 0xFFFF_FFFF)
    assert driver.used_element(0) == UsedElement(15, 0xFFFF_FFFF)
