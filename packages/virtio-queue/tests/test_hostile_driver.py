"""Property: whatever a hostile driver writes, the device side only raises the
package's own errors, touches nothing outside guest memory, writes only where
the driver allowed it, and does bounded work per chain."""

from __future__ import annotations

from hostile import (
    INDIRECT_BASE,
    INDIRECT_ENTRIES,
    LAYOUT,
    HostileDriver,
    changed_outside,
    serve,
    snapshot,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from virtio_queue import MAX_INDIRECT_DESCRIPTORS, Descriptor, VirtioQueueError
from vm_memory import GuestMemoryMmap

U16 = st.integers(0, 0xFFFF)
IN_MEMORY = st.integers(0x2000, 0x1_F000)  # buffers that can be valid
ADDRESSES = st.one_of(
    IN_MEMORY,
    IN_MEMORY,
    st.integers(0x2_0000 - 0x100, 0x2_0000 + 0x40),  # the end of RAM
    st.integers(0x4_0000 - 0x40, 0x5_0000 + 0x40),  # around the region after the hole
    st.builds(lambda j: INDIRECT_BASE + 16 * j, st.integers(0, INDIRECT_ENTRIES)),
    st.sampled_from([0, 2**64 - 1, 2**64 - 16, 2**63]),
    st.integers(0, 2**64 - 1),
)
LENGTHS = st.one_of(
    st.integers(0, 0x300),
    st.integers(0, 0x300),
    st.builds(lambda n: 16 * n, st.integers(0, INDIRECT_ENTRIES + 1)),
    st.sampled_from([0xFFFF_FFFF, 0xFFFF_FFF0, 0x8000_0000, 16 * (MAX_INDIRECT_DESCRIPTORS + 1)]),
    st.integers(0, 2**32 - 1),
)
FLAGS = st.one_of(st.integers(0, 3), st.integers(0, 7), U16)


def descriptors(limit: int) -> st.SearchStrategy[Descriptor]:
    nexts = st.one_of(st.integers(0, limit - 1), st.integers(0, limit + 1), U16)
    return st.builds(Descriptor, ADDRESSES, LENGTHS, FLAGS, nexts)


@st.composite
def hostile_drivers(draw: st.DrawFn) -> HostileDriver:
    size = draw(st.sampled_from([1, 2, 4, 8, 16]))
    heads = st.one_of(st.integers(0, size - 1), U16)
    return HostileDriver(
        size=size,
        table=draw(st.lists(descriptors(size), min_size=size, max_size=size)),
        indirect=draw(
            st.lists(
                descriptors(INDIRECT_ENTRIES), min_size=INDIRECT_ENTRIES, max_size=INDIRECT_ENTRIES
            )
        ),
        ring=draw(st.lists(heads, min_size=size, max_size=size)),
        avail_idx=draw(st.one_of(st.integers(0, size), st.integers(0, size), U16)),
        used_event=draw(U16),
        avail_flags=draw(U16),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile=hostile_drivers(), event_idx=st.booleans())
def test_a_hostile_driver_cannot_break_the_device(hostile: HostileDriver, event_idx: bool) -> None:
    memory = GuestMemoryMmap.from_ranges(LAYOUT)
    queue = None
    try:
        driver, queue = hostile.install(memory, event_idx)
        before = snapshot(memory)
        try:
            seen = serve(memory, queue, driver)
        except VirtioQueueError as error:  # pragma: no cover - serve handles these
            raise AssertionError(f"an error escaped the device loop: {error!r}") from error
        for kind in set(seen.errors):
            event(kind)
        queue_errors = ("InvalidHeadIndexError", "InvalidAvailIndexError")
        if seen.chains > len([e for e in seen.errors if e not in queue_errors]):
            event("some chain was valid")
        assert seen.out_of_memory_accesses == []
        assert seen.disagreements == []  # the spec's rules, read independently
        assert changed_outside(before, memory, seen.writable) == []
        # Bounded work: a chain reads at most queue-size descriptors plus one
        # indirect table, and the test's indirect tables hold a few entries
        # (larger claimed tables run out of guest memory or past 2**16).
        assert seen.max_descriptor_reads <= hostile.size + 0x3_0000 // 16
        assert seen.chains <= hostile.size
    finally:
        if queue is not None:
            queue.release()  # the queue's own views of its rings
        memory.close()  # fails if the device kept any other view of guest memory
