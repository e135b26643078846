"""Queue configuration: what 2.7 allows for size, addresses and readiness."""

from __future__ import annotations

import pytest
from virtio_queue import (
    InvalidQueueConfigError,
    MockSplitQueue,
    Queue,
    QueueMemoryError,
    QueueNotReadyError,
    avail_ring_size,
    desc_table_size,
    used_ring_size,
)
from vm_memory import GuestMemoryMmap


def test_a_new_queue_is_not_ready_and_has_its_max_size() -> None:
    queue = Queue(256)
    assert (queue.max_size, queue.size, queue.ready) == (256, 256, False)
    assert (queue.next_avail, queue.next_used, queue.event_idx_enabled) == (0, 0, False)


@pytest.mark.parametrize("size", [0, 3, 100, 65536, -4])
def test_max_size_must_be_a_power_of_two_up_to_32768(size: int) -> None:
    with pytest.raises(InvalidQueueConfigError) as error:
        Queue(size)
    assert error.value.value == size


def test_32768_is_the_largest_queue() -> None:
    assert Queue(32768).size == 32768


@pytest.mark.parametrize("size", [0, 6, 512])
def test_size_must_be_a_power_of_two_no_larger_than_max_size(size: int) -> None:
    queue = Queue(256)
    with pytest.raises(InvalidQueueConfigError):
        queue.size = size
    assert queue.size == 256


def test_a_smaller_power_of_two_size_is_accepted() -> None:
    queue = Queue(256)
    queue.size = 8
    assert queue.size == 8


@pytest.mark.parametrize("addr", [-1, 1 << 64])
def test_ring_addresses_must_be_64_bit(addr: int) -> None:
    queue = Queue(16)
    with pytest.raises(InvalidQueueConfigError):
        queue.desc_table = addr
    with pytest.raises(InvalidQueueConfigError):
        queue.avail_ring = addr
    with pytest.raises(InvalidQueueConfigError):
        queue.used_ring = addr


def test_addresses_can_be_written_as_32_bit_halves() -> None:
    queue = Queue(16)
    queue.set_desc_table_address(low=0x1000)
    queue.set_desc_table_address(high=0x2)
    queue.set_avail_ring_address(0x3000, 0)
    queue.set_used_ring_address(high=1, low=0x4000)
    assert queue.desc_table == 0x2_0000_1000
    assert queue.avail_ring == 0x3000
    assert queue.used_ring == 0x1_0000_4000
    with pytest.raises(InvalidQueueConfigError):
        queue.set_used_ring_address(low=1 << 32)


def test_ring_sizes_follow_the_spec() -> None:
    assert desc_table_size(256) == 4096
    assert avail_ring_size(256) == 6 + 2 * 256
    assert used_ring_size(256) == 6 + 8 * 256


def test_a_configured_queue_inside_memory_is_valid(memory: GuestMemoryMmap, queue: Queue) -> None:
    assert queue.is_valid(memory)
    queue.check(memory)


def test_a_queue_that_is_not_ready_is_not_valid(memory: GuestMemoryMmap, queue: Queue) -> None:
    queue.ready = False
    assert not queue.is_valid(memory)
    with pytest.raises(QueueNotReadyError):
        queue.check(memory)


@pytest.mark.parametrize(
    ("area", "misaligned"),
    [("desc_table", 0x1008), ("avail_ring", 0x2001), ("used_ring", 0x3002)],
)
def test_each_area_must_be_aligned(
    memory: GuestMemoryMmap, queue: Queue, area: str, misaligned: int
) -> None:
    setattr(queue, area, misaligned)
    assert not queue.is_valid(memory)
    with pytest.raises(InvalidQueueConfigError) as error:
        queue.check(memory)
    assert error.value.value == misaligned


@pytest.mark.parametrize("area", ["desc_table", "avail_ring", "used_ring"])
def test_each_area_must_lie_inside_guest_memory(
    memory: GuestMemoryMmap, queue: Queue, area: str
) -> None:
    setattr(queue, area, (1 << 20) - 16)  # runs into the hole after 1 MiB
    queue.size = 16
    assert not queue.is_valid(memory)
    with pytest.raises(QueueMemoryError):
        queue.check(memory)


def test_the_used_ring_includes_avail_event(memory: GuestMemoryMmap, queue: Queue) -> None:
    # 6 + 8 * 16 bytes are needed: one byte short of memory is invalid.
    queue.used_ring = (1 << 20) - (6 + 8 * 16) + 4
    assert not queue.is_valid(memory)
    queue.used_ring = (1 << 20) - (6 + 8 * 16) - 2
    assert queue.is_valid(memory)


def test_popping_from_a_queue_that_is_not_ready_fails(memory: GuestMemoryMmap) -> None:
    driver = MockSplitQueue(memory, 16)
    queue = driver.create_queue()
    queue.ready = False
    driver.add_request([b"x"])
    with pytest.raises(QueueNotReadyError):
        queue.pop_descriptor_chain(memory)


def test_reset_returns_to_the_initial_state(memory: GuestMemoryMmap) -> None:
    driver = MockSplitQueue(memory, 16)
    queue = driver.create_queue(max_size=64)
    queue.event_idx_enabled = True
    driver.add_request([b"x"])
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    queue.add_used(memory, chain.head_index, 0)
    queue.reset()
    assert queue.state() == Queue(64).state()
