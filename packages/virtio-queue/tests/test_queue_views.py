"""The queue's views of its rings and of guest memory: made at the first ring
access, pinning the memory until the queue lets go of them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from virtio_queue import (
    Descriptor,
    DescriptorChain,
    DescriptorFlags,
    InvalidChainError,
    InvalidQueueConfigError,
    MockSplitQueue,
    Queue,
    QueueNotReadyError,
    UsedElement,
    UsedFlags,
)
from vm_memory import GuestMemoryMmap, RegionInUseError


def pop(memory: GuestMemoryMmap, queue: Queue) -> DescriptorChain:
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    return chain


def publish_parsed_at_first_use(driver: MockSplitQueue, data: bytes, head: int = 14) -> None:
    """Publish a valid chain that pop leaves to the general walk at first use:
    a direct buffer, then an indirect table holding a second one (pop's fast
    pass takes a lone indirect head only)."""
    first, second, table = driver.alloc(2), driver.alloc(len(data) - 2), driver.alloc(16)
    driver.memory.write(first, data[:2])
    driver.memory.write(second, data[2:])
    driver.write_descriptor(0, Descriptor(second, len(data) - 2), table=table)
    driver.write_descriptor(head, Descriptor(first, 2, DescriptorFlags.NEXT, head + 1))
    driver.write_descriptor(head + 1, Descriptor(table, 16, DescriptorFlags.INDIRECT))
    driver.publish(head)


@pytest.fixture
def own_memory() -> GuestMemoryMmap:
    """Guest memory a test closes itself."""
    return GuestMemoryMmap.from_ranges([(0, 1 << 16)])


def test_a_queue_that_touched_its_rings_pins_guest_memory_until_released(
    own_memory: GuestMemoryMmap,
) -> None:
    queue = MockSplitQueue(own_memory, 16).create_queue()
    assert queue.pop_descriptor_chain(own_memory) is None
    with pytest.raises(RegionInUseError):
        own_memory.close()
    queue.release()
    own_memory.close()


def test_a_queue_that_never_touched_its_rings_holds_no_view(
    own_memory: GuestMemoryMmap,
) -> None:
    queue = MockSplitQueue(own_memory, 16).create_queue()
    assert queue.is_valid(own_memory)
    own_memory.close()


def test_reset_releases_the_views(own_memory: GuestMemoryMmap) -> None:
    queue = MockSplitQueue(own_memory, 16).create_queue()
    queue.pop_descriptor_chain(own_memory)
    queue.reset()
    own_memory.close()


@pytest.mark.parametrize(
    "change",
    [
        lambda queue: setattr(queue, "ready", False),
        lambda queue: setattr(queue, "size", 8),
        lambda queue: setattr(queue, "desc_table", 0x1000),
        lambda queue: setattr(queue, "avail_ring", 0x2000),
        lambda queue: setattr(queue, "used_ring", 0x3000),
        lambda queue: queue.set_used_ring_address(low=0x3000),
    ],
    ids=["not ready", "size", "desc_table", "avail_ring", "used_ring", "address half"],
)
def test_changing_the_configuration_releases_the_views(
    own_memory: GuestMemoryMmap, change: Callable[[Queue], object]
) -> None:
    queue = MockSplitQueue(own_memory, 16).create_queue()
    queue.pop_descriptor_chain(own_memory)
    change(queue)
    own_memory.close()


def test_a_moved_ring_is_used_at_its_new_address(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    queue.add_used(memory, 1, 1)
    other = MockSplitQueue(memory, 16, base=0x4_0000)
    queue.used_ring = other.used_ring  # the views made for the old address are gone
    queue.add_used(memory, 2, 2)
    assert other.used_element(1) == UsedElement(2, 2)
    assert driver.used_element(1) == UsedElement(0, 0)  # untouched


def test_a_parsed_chain_outlives_the_release_of_its_queue(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.add_request([b"still here"])
    chain = pop(memory, queue)
    queue.release()
    assert chain.reader().read() == b"still here"


def test_a_chain_parsed_after_its_queue_was_released_fails_cleanly(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_parsed_at_first_use(driver, b"header")
    chain = pop(memory, queue)
    queue.release()
    with pytest.raises(InvalidChainError) as error:
        chain.reader()
    assert error.value.head == 14
    assert "released" in str(error.value)


def test_a_chain_of_a_reset_queue_fails_cleanly_and_does_not_pin_memory(
    own_memory: GuestMemoryMmap,
) -> None:
    driver = MockSplitQueue(own_memory, 16)
    queue = driver.create_queue()
    publish_parsed_at_first_use(driver, b"abc")
    chain = pop(own_memory, queue)
    queue.reset()
    own_memory.close()
    with pytest.raises(InvalidChainError):
        chain.validate()


def test_the_queue_follows_a_new_memory_map(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.add_request([b"before"])
    publish_parsed_at_first_use(driver, b"pending")
    before = pop(memory, queue)
    pending = pop(memory, queue)  # not parsed yet
    # Memory hotplug: a new map with one more region, sharing the old ones.
    grown = memory.insert_region(GuestMemoryMmap.from_ranges([(4 << 20, 1 << 16)]).regions[0])
    try:
        driver.add_request([b"after"])
        after = pop(grown, queue)
        assert after.reader().read() == b"after"
        assert before.reader().read() == b"before"
        assert pending.reader().read() == b"pending"  # through the map it was popped from
        queue.add_used(grown, after.head_index, 0)
        assert driver.used_idx() == 1
        del before, pending, after
        queue.release()
    finally:
        grown.regions[-1].close()


def test_a_removed_region_can_be_unmapped_once_the_chains_from_before_are_gone() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 16), (1 << 20, 1 << 16)])
    driver = MockSplitQueue(memory, 16)  # rings at 0
    queue = driver.create_queue()
    driver.add_chain([], [(1 << 20, 8)])  # a buffer in the region to remove
    chain = pop(memory, queue)
    smaller, removed = memory.remove_region(1 << 20, 1 << 16)
    queue.add_used(smaller, chain.head_index, 0)  # the device moves to the new map
    with pytest.raises(RegionInUseError):
        removed.close()  # the chain still holds a view of it
    del chain
    removed.close()
    queue.release()
    smaller.close()


@pytest.mark.parametrize(
    "action",
    [
        lambda queue, memory: queue.add_used(memory, 0, 0),
        lambda queue, memory: queue.needs_notification(memory),
        lambda queue, memory: queue.enable_notification(memory),
        lambda queue, memory: queue.disable_notification(memory),
    ],
    ids=["add_used", "needs_notification", "enable_notification", "disable_notification"],
)
def test_touching_the_rings_of_a_queue_that_is_not_ready_fails(
    memory: GuestMemoryMmap,
    driver: MockSplitQueue,
    queue: Queue,
    action: Callable[[Queue, GuestMemoryMmap], object],
) -> None:
    queue.ready = False
    before = memory.read(0, driver.end)
    with pytest.raises(QueueNotReadyError):
        action(queue, memory)
    assert memory.read(0, driver.end) == before


def test_a_misaligned_ring_fails_at_the_first_access(memory: GuestMemoryMmap) -> None:
    driver = MockSplitQueue(memory, 16)
    queue = driver.create_queue()
    queue.avail_ring = driver.avail_ring + 1
    with pytest.raises(InvalidQueueConfigError):
        queue.pop_descriptor_chain(memory)


# Where a 16-entry queue starts so that one of its areas crosses 64 KiB: the
# table is 256 bytes, then the available ring (38 bytes), then the used ring
# (134 bytes, 4-aligned).
STRADDLING_BASE = {"desc_table": 0xFF80, "avail_ring": 0xFEF0, "used_ring": 0xFEA0}


@pytest.mark.parametrize("area", sorted(STRADDLING_BASE))
@pytest.mark.parametrize("event_idx", [False, True])
def test_a_ring_across_two_memory_regions_works_through_the_memory_map(
    area: str, event_idx: bool
) -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 16), (1 << 16, 1 << 16)])
    driver = MockSplitQueue(memory, 16, base=STRADDLING_BASE[area], event_idx=event_idx)
    start = getattr(driver, area)
    assert start < 1 << 16 < start + {"desc_table": 256, "avail_ring": 38, "used_ring": 134}[area]
    queue = driver.create_queue()
    try:
        request = driver.add_request([b"ping"], [4])
        chain = pop(memory, queue)
        assert chain.head_index == request.head
        assert chain.reader().read() == b"ping"
        writer = chain.writer()
        writer.write(b"pong")
        queue.add_used(memory, chain.head_index, writer.bytes_written)
        assert driver.collect_used() == [UsedElement(request.head, 4)]
        assert driver.read_written(request, 4) == b"pong"
        queue.disable_notification(memory)
        if not event_idx:
            assert driver.used_flags() == UsedFlags.NO_NOTIFY
        assert not queue.enable_notification(memory)
        if event_idx:
            assert driver.avail_event() == 1
        driver.set_used_event(0)
        assert queue.needs_notification(memory)
        del chain, writer
    finally:
        queue.release()
        memory.close()


def test_descriptors_of_a_direct_chain_are_read_when_it_is_popped(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    request = driver.add_request([b"abcd"])
    chain = pop(memory, queue)
    driver.write_descriptor(request.head, Descriptor(0xFFFF_0000_0000, 8, 1, 99))
    assert chain.reader().read() == b"abcd"
