"""Property: the fast pass that parses a popped chain over the queue's views
accepts exactly what the general walk accepts, with the same buffers, and
leaves everything else to it (so the errors are the same too)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from virtio_queue import Descriptor, DescriptorChain, InvalidChainError, MockSplitQueue
from vm_memory import GuestMemoryMmap

# Two contiguous regions, a hole, a third region; buffers near every edge.
LAYOUT = [(0, 0x1_0000), (0x1_0000, 0x1_0000), (0x4_0000, 0x1_0000)]
EDGES = [0x1_0000, 0x2_0000, 0x4_0000, 0x5_0000]
INDIRECT_TABLE = 0x1C00  # 8 entries the drawn descriptors may point to
INDIRECT_ENTRIES = 8

ADDRESSES = st.one_of(
    st.integers(0x2000, 0x1_F000),
    st.integers(0x2000, 0x1_F000),
    st.integers(0x4_0000, 0x4_F000),
    st.builds(lambda edge, delta: edge + delta, st.sampled_from(EDGES), st.integers(-0x40, 0x40)),
    st.sampled_from([0, 2**64 - 16]),
    st.builds(lambda entry: INDIRECT_TABLE + 16 * entry, st.integers(0, INDIRECT_ENTRIES)),
)
SMALL = st.integers(0, 0x100)
LENGTHS = st.one_of(
    SMALL,
    SMALL,
    st.builds(lambda entries: 16 * entries, st.integers(0, INDIRECT_ENTRIES + 1)),
    st.sampled_from([0xFFFF_FFFF, 0x8000_0000]),
)
# NEXT (1) and WRITE (2) mostly, INDIRECT (4) now and then.
FLAGS = st.one_of(st.sampled_from([1, 1, 3, 3, 0, 2, 4]), st.integers(0, 7))


@pytest.fixture(scope="module")
def memory() -> Iterator[GuestMemoryMmap]:
    guest = GuestMemoryMmap.from_ranges(LAYOUT)
    pattern = random.Random(7)
    for start, size in LAYOUT:
        guest.write(start, pattern.randbytes(size))  # every address holds its own bytes
    yield guest
    guest.close()


def outcome(chain: DescriptorChain) -> tuple[object, ...]:
    try:
        readable, writable = chain.readable_views(), chain.writable_views()
        return (
            chain.descriptors(),
            (chain.readable_len, chain.writable_len),
            [bytes(view) for view in readable],
            [bytes(view) for view in writable],
        )
    except InvalidChainError as error:
        return (type(error), str(error))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    size=st.sampled_from([1, 4, 16]),
    data=st.data(),
)
def test_the_fast_pass_agrees_with_the_general_walk(
    memory: GuestMemoryMmap, size: int, data: st.DataObject
) -> None:
    nexts = st.one_of(st.integers(0, size - 1), st.integers(0, size - 1), st.integers(0, 0xFFFF))
    table = data.draw(
        st.lists(
            st.builds(Descriptor, ADDRESSES, LENGTHS, FLAGS, nexts), min_size=size, max_size=size
        )
    )
    inner = st.one_of(st.integers(0, INDIRECT_ENTRIES - 1), st.integers(0, 0xFFFF))
    indirect = data.draw(
        st.lists(
            st.builds(Descriptor, ADDRESSES, LENGTHS, FLAGS, inner),
            min_size=INDIRECT_ENTRIES,
            max_size=INDIRECT_ENTRIES,
        )
    )
    head = data.draw(st.integers(0, size - 1))
    driver = MockSplitQueue(memory, size, base=0x1000)  # the table and rings below 0x2000
    saved = memory.read(0x1000, driver.end - 0x1000)
    for index, descriptor in enumerate(table):
        driver.write_descriptor(index, descriptor)
    for index, descriptor in enumerate(indirect):
        driver.write_descriptor(index, descriptor, table=INDIRECT_TABLE)
    queue = driver.create_queue()
    try:
        driver.publish(head)
        popped = queue.pop_descriptor_chain(memory)
        assert popped is not None
        walked = DescriptorChain(memory, driver.desc_table, size, head)
        result = outcome(popped)
        assert result == outcome(walked)
        event("valid" if isinstance(result[0], list) else getattr(result[0], "__name__", "?"))
        del popped, walked
    finally:
        queue.release()
        memory.write(0x1000, saved)
