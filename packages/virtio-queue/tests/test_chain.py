"""Descriptor chains: 2.7.5 (descriptor table) and 2.7.4.2 (buffer order)."""

from __future__ import annotations

import pytest
from virtio_queue import (
    ChainLengthOverflowError,
    ChainLoopError,
    Descriptor,
    DescriptorChain,
    DescriptorFlags,
    DescriptorIndexError,
    DescriptorMemoryError,
    DescriptorOrderError,
    InvalidChainError,
    MockSplitQueue,
    Queue,
)
from vm_memory import GuestMemoryError, GuestMemoryMmap

NEXT = DescriptorFlags.NEXT
WRITE = DescriptorFlags.WRITE


def pop(memory: GuestMemoryMmap, queue: Queue) -> DescriptorChain:
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    return chain


def publish_raw(driver: MockSplitQueue, descriptors: dict[int, Descriptor], head: int) -> None:
    for index, descriptor in descriptors.items():
        driver.write_descriptor(index, descriptor)
    driver.publish(head)


def test_a_chain_follows_next_through_the_table(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(
        driver,
        {
            3: Descriptor(0x8000, 16, NEXT, 7),
            7: Descriptor(0x9000, 512, NEXT | WRITE, 1),
            1: Descriptor(0xA000, 1, WRITE, 0),
        },
        head=3,
    )
    chain = pop(memory, queue)
    assert [d.addr for d in chain] == [0x8000, 0x9000, 0xA000]
    assert chain.readable() == [Descriptor(0x8000, 16, NEXT, 7)]
    assert [d.len for d in chain.writable()] == [512, 1]
    assert (chain.readable_len, chain.writable_len) == (16, 513)


def test_the_chain_ends_at_the_first_descriptor_without_next(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {0: Descriptor(0x8000, 8, 0, 1), 1: Descriptor(0x9000, 8, 0, 0)}, 0)
    assert len(pop(memory, queue).descriptors()) == 1


def test_next_outside_the_table_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {2: Descriptor(0x8000, 8, NEXT, 16)}, head=2)
    chain = pop(memory, queue)
    with pytest.raises(DescriptorIndexError) as error:
        chain.validate()
    assert (error.value.head, error.value.index, error.value.limit) == (2, 16, 16)
    assert not error.value.indirect


def test_a_loop_is_caught_after_queue_size_descriptors(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {0: Descriptor(0x8000, 8, NEXT, 1), 1: Descriptor(0x8000, 8, NEXT, 0)}, 0)
    with pytest.raises(ChainLoopError) as error:
        pop(memory, queue).validate()
    assert (error.value.head, error.value.limit) == (0, 16)


def test_a_chain_of_exactly_queue_size_descriptors_is_allowed(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    table = {i: Descriptor(0x8000 + 0x100 * i, 8, NEXT, i + 1) for i in range(15)}
    table[15] = Descriptor(0x9000, 8, 0, 0)
    publish_raw(driver, table, head=0)
    assert len(pop(memory, queue).descriptors()) == 16


def test_a_self_loop_is_caught(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {5: Descriptor(0x8000, 8, NEXT, 5)}, head=5)
    with pytest.raises(ChainLoopError):
        pop(memory, queue).validate()


def test_readable_after_writable_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(
        driver,
        {0: Descriptor(0x8000, 8, NEXT | WRITE, 1), 1: Descriptor(0x9000, 8, 0, 0)},
        head=0,
    )
    with pytest.raises(DescriptorOrderError) as error:
        pop(memory, queue).validate()
    assert error.value.position == 1


def test_a_buffer_outside_guest_memory_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {0: Descriptor(0x8000, 8, NEXT, 1), 1: Descriptor(0x10_0000, 1, 0, 0)}, 0)
    with pytest.raises(DescriptorMemoryError) as error:
        pop(memory, queue).validate()
    assert (error.value.addr, error.value.length) == (0x10_0000, 1)
    assert isinstance(error.value.__cause__, GuestMemoryError)


def test_a_buffer_running_off_the_end_of_memory_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {0: Descriptor(0xFFFF_FFFF_FFFF_FFF0, 0x20, 0, 0)}, 0)
    with pytest.raises(DescriptorMemoryError):
        pop(memory, queue).validate()


def test_a_buffer_across_two_contiguous_regions_is_allowed() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 16), (1 << 16, 1 << 16)])
    driver = MockSplitQueue(memory, 16)
    queue = driver.create_queue()
    memory.write(0xFFF0, bytes(range(32)))
    driver.add_chain([(0xFFF0, 32)])
    chain = pop(memory, queue)
    assert len(chain.readable_views()) == 2
    assert chain.reader().read() == bytes(range(32))
    del chain
    queue.release()
    memory.close()


def test_lengths_summing_past_u32_are_an_error() -> None:
    # 4 GiB of (lazily mapped) guest memory holds a buffer of 2**32 - 1 bytes.
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 20), (1 << 32, 1 << 32)])
    driver = MockSplitQueue(memory, 16)
    queue = driver.create_queue()
    driver.add_chain([(1 << 32, 0xFFFF_FFFF)], [(0x8000, 1)])
    with pytest.raises(ChainLengthOverflowError) as error:
        pop(memory, queue).validate()
    assert error.value.total == 1 << 32
    queue.release()
    memory.close()


def test_lengths_summing_to_exactly_u32_max_are_allowed() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 20), (1 << 32, 1 << 32)])
    driver = MockSplitQueue(memory, 16)
    queue = driver.create_queue()
    driver.add_chain([(1 << 32, 0xFFFF_FFFE), (0x8000, 1)])
    chain = pop(memory, queue)
    assert chain.readable_len == 0xFFFF_FFFF
    chain.release()
    queue.release()
    memory.close()


def test_zero_length_buffers_are_accepted(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.add_chain([(0x8000, 0)], [(0x9000, 4)])
    chain = pop(memory, queue)
    assert chain.readable_len == 0
    assert chain.readable_views() == []
    assert chain.writable_len == 4


def test_a_malformed_chain_keeps_failing_with_the_same_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {0: Descriptor(0x8000, 8, NEXT, 99)}, 0)
    chain = pop(memory, queue)
    with pytest.raises(InvalidChainError) as first:
        chain.reader()
    with pytest.raises(InvalidChainError) as second:
        chain.writable()
    assert type(first.value) is type(second.value)
    assert str(first.value) == str(second.value)


def test_a_malformed_chain_does_not_stop_the_queue(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    publish_raw(driver, {0: Descriptor(0x8000, 8, NEXT, 0)}, 0)
    good = driver.add_request([b"fine"])
    bad = pop(memory, queue)
    try:
        bad.validate()
    except InvalidChainError as error:
        queue.add_used(memory, error.head, 0)
    chain = pop(memory, queue)
    assert chain.head_index == good.head
    assert chain.reader().read() == b"fine"


def test_descriptors_are_read_once_so_later_driver_writes_do_not_matter(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    request = driver.add_request([b"abcd"])
    chain = pop(memory, queue)
    chain.validate()
    driver.write_descriptor(request.head, Descriptor(0xFFFF_0000_0000, 8, NEXT, 99))
    assert chain.descriptors()[0].addr == request.readable[0][0]


def test_a_chain_made_directly_rejects_a_head_outside_the_table(
    memory: GuestMemoryMmap,
) -> None:
    with pytest.raises(DescriptorIndexError):
        DescriptorChain(memory, 0, 16, 16).validate()


def test_descriptor_flags_read_as_properties() -> None:
    descriptor = Descriptor(0x1000, 8, NEXT | WRITE, 3)
    assert descriptor.has_next
    assert descriptor.is_write_only
    assert not descriptor.is_indirect
    assert descriptor.descriptor_flags == NEXT | WRITE
    assert Descriptor.unpack(descriptor.pack()) == descriptor


def test_release_drops_the_views_so_memory_can_close() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 16)])
    driver = MockSplitQueue(memory, 16)
    queue = driver.create_queue()
    driver.add_request([b"data"])
    chain = pop(memory, queue)
    chain.validate()
    chain.release()
    queue.release()
    memory.close()
    with pytest.raises(InvalidChainError):
        chain.reader()
