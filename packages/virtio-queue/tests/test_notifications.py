"""Notification suppression: 2.7.7 (device -> driver) and 2.7.10 (driver -> device)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from virtio_queue import MockSplitQueue, Queue, UsedFlags
from vm_memory import GuestMemoryMmap


def used_and_check(memory: GuestMemoryMmap, queue: Queue, count: int) -> bool:
    for _ in range(count):
        queue.add_used(memory, 0, 0)
    return queue.needs_notification(memory)


# Without EVENT_IDX ------------------------------------------------------------------


def test_without_event_idx_the_driver_is_interrupted_unless_it_set_no_interrupt(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    assert used_and_check(memory, queue, 1)
    driver.set_no_interrupt(True)
    assert not used_and_check(memory, queue, 1)
    driver.set_no_interrupt(False)
    assert used_and_check(memory, queue, 1)


def test_without_event_idx_used_event_is_ignored(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.set_used_event(100)
    assert used_and_check(memory, queue, 1)


def test_without_event_idx_disabling_sets_no_notify(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    queue.disable_notification(memory)
    assert driver.used_flags() == UsedFlags.NO_NOTIFY
    driver.add_chain([(0x8000, 1)])
    assert not driver.kick_needed()
    assert queue.enable_notification(memory)  # a chain arrived meanwhile
    assert driver.used_flags() == 0
    driver.add_chain([(0x8000, 1)])
    assert driver.kick_needed()


def test_enable_notification_reports_whether_chains_are_waiting(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    assert not queue.enable_notification(memory)
    driver.add_chain([(0x8000, 1)])
    assert queue.enable_notification(memory)
    assert queue.pop_descriptor_chain(memory) is not None
    assert not queue.enable_notification(memory)


# With EVENT_IDX ---------------------------------------------------------------------


@pytest.fixture
def event_driver(memory: GuestMemoryMmap) -> MockSplitQueue:
    return MockSplitQueue(memory, 16, event_idx=True)


@pytest.fixture
def event_queue(event_driver: MockSplitQueue) -> Iterator[Queue]:
    queue = event_driver.create_queue()
    yield queue
    queue.release()


def test_with_event_idx_the_driver_is_interrupted_when_used_idx_passes_used_event(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    event_driver.set_used_event(2)  # interrupt me once used->idx moves past 2
    assert not used_and_check(memory, event_queue, 1)  # idx 1
    assert not used_and_check(memory, event_queue, 1)  # idx 2
    assert used_and_check(memory, event_queue, 1)  # idx 3: entry 2 was added
    assert not used_and_check(memory, event_queue, 1)  # idx 4: already past


def test_with_event_idx_a_batch_that_crosses_used_event_interrupts(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    event_driver.set_used_event(5)
    assert used_and_check(memory, event_queue, 10)


def test_with_event_idx_no_interrupt_is_ignored(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    event_driver.set_no_interrupt(True)
    event_driver.set_used_event(0)
    assert used_and_check(memory, event_queue, 1)


def test_with_event_idx_used_event_comparison_wraps_at_16_bits(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    event_queue.next_used = 0xFFFE
    event_driver.set_used_event(0xFFFF)
    assert not used_and_check(memory, event_queue, 1)  # idx 0xFFFF
    assert used_and_check(memory, event_queue, 1)  # idx 0: entry 0xFFFF added
    event_driver.set_used_event(0)
    assert used_and_check(memory, event_queue, 1)  # idx 1: entry 0 added


def test_with_event_idx_nothing_added_means_no_interrupt(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    event_driver.set_used_event(0)
    assert used_and_check(memory, event_queue, 1)
    assert not event_queue.needs_notification(memory)


def test_with_event_idx_a_full_16_bit_cycle_of_adds_always_interrupts(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    event_driver.set_used_event(7)
    assert used_and_check(memory, event_queue, 0x10000)


def test_with_event_idx_enabling_writes_avail_event_and_disabling_writes_nothing(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    for _ in range(3):
        event_driver.add_chain([(0x8000, 1)])
    assert sum(1 for _ in event_queue.iter(memory)) == 3
    event_queue.disable_notification(memory)
    assert event_driver.used_flags() == 0
    assert not event_queue.enable_notification(memory)
    assert event_driver.avail_event() == 3


def test_with_event_idx_the_driver_kicks_only_when_passing_avail_event(
    memory: GuestMemoryMmap, event_driver: MockSplitQueue, event_queue: Queue
) -> None:
    assert not event_queue.enable_notification(memory)  # avail_event = 0
    event_driver.add_chain([(0x8000, 1)])
    assert event_driver.kick_needed()  # entry 0 published: kick
    event_driver.add_chain([(0x8000, 1)])
    assert not event_driver.kick_needed()  # the device has not re-armed
    assert sum(1 for _ in event_queue.iter(memory)) == 2
    assert not event_queue.enable_notification(memory)  # avail_event = 2
    event_driver.add_chain([(0x8000, 1)])
    assert event_driver.kick_needed()
