"""Indirect descriptors: 2.7.5.3 and its driver requirements 2.7.5.3.1."""

from __future__ import annotations

import pytest
from virtio_queue import (
    MAX_INDIRECT_DESCRIPTORS,
    ChainLoopError,
    Descriptor,
    DescriptorChain,
    DescriptorFlags,
    DescriptorIndexError,
    DescriptorMemoryError,
    IndirectDescriptorError,
    MockSplitQueue,
    Queue,
)
from vm_memory import GuestMemoryMmap

NEXT = DescriptorFlags.NEXT
WRITE = DescriptorFlags.WRITE
INDIRECT = DescriptorFlags.INDIRECT
TABLE = 0x4_0000


def pop(memory: GuestMemoryMmap, queue: Queue) -> DescriptorChain:
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    return chain


def indirect_chain(
    driver: MockSplitQueue, entries: list[Descriptor], length: int | None = None, flags: int = 0
) -> None:
    for index, entry in enumerate(entries):
        driver.write_descriptor(index, entry, table=TABLE)
    size = 16 * len(entries) if length is None else length
    driver.write_descriptor(0, Descriptor(TABLE, size, INDIRECT | flags, 0))
    driver.publish(0)


def test_an_indirect_table_replaces_its_descriptor(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    indirect_chain(
        driver,
        [Descriptor(0x8000, 4, NEXT, 2), Descriptor(0, 0, 0, 0), Descriptor(0x9000, 8, WRITE, 0)],
    )
    chain = pop(memory, queue)
    assert [(d.addr, d.len) for d in chain] == [(0x8000, 4), (0x9000, 8)]
    assert (chain.readable_len, chain.writable_len) == (4, 8)


def test_direct_descriptors_may_precede_the_indirect_one(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.write_descriptor(0, Descriptor(TABLE, 16, INDIRECT, 0), table=None)
    driver.write_descriptor(0, Descriptor(0x9000, 8, WRITE, 0), table=TABLE)
    driver.write_descriptor(5, Descriptor(0x8000, 4, NEXT, 0))
    driver.publish(5)
    assert [d.addr for d in pop(memory, queue)] == [0x8000, 0x9000]


def test_the_write_flag_of_the_indirect_descriptor_is_ignored(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    indirect_chain(driver, [Descriptor(0x8000, 4, 0, 0)], flags=WRITE)
    assert pop(memory, queue).readable_len == 4


def test_indirect_inside_indirect_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    indirect_chain(driver, [Descriptor(TABLE, 16, INDIRECT, 0)])
    with pytest.raises(IndirectDescriptorError, match="inside an indirect table"):
        pop(memory, queue).validate()


def test_indirect_together_with_next_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    indirect_chain(driver, [Descriptor(0x8000, 4, 0, 0)], flags=NEXT)
    with pytest.raises(IndirectDescriptorError, match="NEXT"):
        pop(memory, queue).validate()


@pytest.mark.parametrize("length", [0, 8, 17, 40])
def test_the_table_length_must_be_a_non_zero_multiple_of_16(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue, length: int
) -> None:
    indirect_chain(driver, [Descriptor(0x8000, 4, 0, 0)] * 3, length=length)
    with pytest.raises(IndirectDescriptorError) as error:
        pop(memory, queue).validate()
    assert error.value.length == length


def test_a_table_of_more_than_2_to_16_entries_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    too_long = 16 * (MAX_INDIRECT_DESCRIPTORS + 1)
    indirect_chain(driver, [Descriptor(0x8000, 4, 0, 0)], length=too_long)
    with pytest.raises(IndirectDescriptorError, match="more than 65536"):
        pop(memory, queue).validate()


def test_a_table_larger_than_the_queue_is_allowed(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    entries = [Descriptor(0x8000, 1, NEXT, i + 1) for i in range(39)] + [Descriptor(0x8000, 1)]
    indirect_chain(driver, entries)
    assert pop(memory, queue).readable_len == 40


def test_a_table_outside_guest_memory_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.write_descriptor(0, Descriptor((1 << 20) - 16, 32, INDIRECT, 0))
    driver.publish(0)
    with pytest.raises(DescriptorMemoryError) as error:
        pop(memory, queue).validate()
    assert error.value.what == "indirect table"


def test_next_outside_the_indirect_table_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    indirect_chain(driver, [Descriptor(0x8000, 4, NEXT, 1), Descriptor(0x8000, 4, NEXT, 2)])
    with pytest.raises(DescriptorIndexError) as error:
        pop(memory, queue).validate()
    assert (error.value.index, error.value.limit, error.value.indirect) == (2, 2, True)


def test_a_loop_inside_the_table_is_caught_after_its_entry_count(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    indirect_chain(driver, [Descriptor(0x8000, 4, NEXT, 1), Descriptor(0x8000, 4, NEXT, 0)])
    with pytest.raises(ChainLoopError) as error:
        pop(memory, queue).validate()
    assert error.value.limit == 2


def test_the_mock_builds_indirect_chains(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    request = driver.add_request([b"head", b"er"], [3], indirect=True)
    assert driver.read_descriptor(request.head).is_indirect
    chain = pop(memory, queue)
    assert chain.reader().read() == b"header"
    assert chain.writable_len == 3
