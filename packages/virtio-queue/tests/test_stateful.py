"""Stateful property: any interleaving of driver and device actions keeps both
sides consistent, with EVENT_IDX on and off.

A model, written from the spec rather than from the code, tracks what each
side should see: chains pop in publish order with their data intact, used
entries come back in completion order with the device's bytes, indices agree,
and interrupts and kicks happen exactly when 2.7.7 / 2.7.10 say they should.
"""

from __future__ import annotations

from collections import deque

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from virtio_queue import DescriptorChain, MockSplitQueue, Queue
from vm_memory import GuestMemoryMmap

SIZE = 8
SLOT = 0x400  # guest memory per in-flight request
BUFFERS = 0x1_0000


def in_window(index: int, old: int, new: int) -> bool:
    """Whether ring index ``index`` is one of ``old, old + 1, ..., new - 1`` (mod 2**16)."""
    return (index - old) % 0x10000 < (new - old) % 0x10000


class Request:
    def __init__(self, head: int, slot: int, payload: list[bytes], writable: list[int]) -> None:
        self.head = head
        self.slot = slot
        self.payload = payload
        self.writable = writable
        self.written = b""


class QueueMachine(RuleBasedStateMachine):
    memory: GuestMemoryMmap
    driver: MockSplitQueue
    queue: Queue

    @initialize(event_idx=st.booleans())
    def start(self, event_idx: bool) -> None:
        self.memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
        self.driver = MockSplitQueue(self.memory, SIZE, event_idx=event_idx)
        self.queue = self.driver.create_queue()
        self.event_idx = event_idx
        self.free_slots = list(range(SIZE))
        self.published: deque[Request] = deque()  # not yet popped, in order
        self.popped: list[tuple[Request, DescriptorChain]] = []
        self.completed: deque[Request] = deque()  # add_used order
        self.used_count = 0  # used entries added
        self.notified_at = 0  # used count at the last needs_notification
        self.kicked_at = 0  # published count at the last kick decision
        self.published_count = 0
        self.popped_count = 0
        self.used_event = 0
        self.no_interrupt = False
        self.no_notify = False  # device's NO_NOTIFY flag
        self.avail_event = 0

    def teardown(self) -> None:
        if hasattr(self, "memory"):
            self.popped.clear()
            self.queue.release()
            self.memory.close()

    # Driver ----------------------------------------------------------------------

    @precondition(lambda self: self.free_slots)
    @rule(
        payload=st.lists(st.binary(min_size=1, max_size=40), min_size=0, max_size=3),
        writable=st.lists(st.integers(1, 40), min_size=0, max_size=3),
        indirect=st.booleans(),
    )
    def publish(self, payload: list[bytes], writable: list[int], indirect: bool) -> None:
        if not payload and not writable:
            writable = [1]
        needed = 1 if indirect else len(payload) + len(writable)
        if needed > self.driver.free_descriptors:
            return
        slot = self.free_slots.pop()
        addr = BUFFERS + slot * SLOT
        readable = []
        for data in payload:
            self.memory.write(addr, data)
            readable.append((addr, len(data)))
            addr += len(data)
        written = []
        for length in writable:
            self.memory.write(addr, bytes(length))
            written.append((addr, length))
            addr += length
        head = self.driver.add_chain(readable, written, indirect=indirect)
        self.published.append(Request(head, slot, payload, writable))
        self.published_count += 1

    @rule()
    def collect(self) -> None:
        for element in self.driver.collect_used():
            request = self.completed.popleft()
            assert (element.id, element.len) == (request.head, len(request.written))
            base = BUFFERS + request.slot * SLOT + sum(map(len, request.payload))
            assert self.memory.read(base, len(request.written)) == request.written
            self.free_slots.append(request.slot)
        assert not self.completed

    @rule(value=st.integers(0, 0xFFFF))
    def set_used_event(self, value: int) -> None:
        self.driver.set_used_event(value)
        self.used_event = value

    @rule(suppress=st.booleans())
    def set_no_interrupt(self, suppress: bool) -> None:
        self.driver.set_no_interrupt(suppress)
        self.no_interrupt = suppress

    @rule()
    def decide_kick(self) -> None:
        old, new = self.kicked_at, self.published_count
        self.kicked_at = new
        if self.event_idx:
            expected = in_window(self.avail_event, old % 0x10000, new % 0x10000)
        else:
            expected = not self.no_notify
        assert self.driver.kick_needed() == expected

    # Device ----------------------------------------------------------------------

    @rule()
    def pop(self) -> None:
        chain = self.queue.pop_descriptor_chain(self.memory)
        if not self.published:
            assert chain is None
            return
        assert chain is not None
        request = self.published.popleft()
        assert chain.head_index == request.head
        assert chain.reader().read() == b"".join(request.payload)
        assert chain.writable_len == sum(request.writable)
        self.popped.append((request, chain))
        self.popped_count += 1

    @precondition(lambda self: self.popped)
    @rule(choice=st.integers(0, SIZE - 1), fill=st.integers(0, 255))
    def complete(self, choice: int, fill: int) -> None:
        request, chain = self.popped.pop(choice % len(self.popped))
        writer = chain.writer()
        data = bytes([fill]) * (writer.available_bytes // 2)
        writer.write_all(data)
        request.written = data
        self.queue.add_used(self.memory, chain.head_index, writer.bytes_written)
        self.completed.append(request)
        self.used_count += 1

    @rule()
    def decide_interrupt(self) -> None:
        old, new = self.notified_at, self.used_count
        self.notified_at = new
        if self.event_idx:
            expected = new - old >= 0x10000 or in_window(self.used_event, old, new)
        else:
            expected = not self.no_interrupt
        assert self.queue.needs_notification(self.memory) == expected

    @rule()
    def disable_notification(self) -> None:
        self.queue.disable_notification(self.memory)
        if not self.event_idx:
            self.no_notify = True

    @rule()
    def enable_notification(self) -> None:
        waiting = self.queue.enable_notification(self.memory)
        assert waiting == bool(self.published)
        if self.event_idx:
            self.avail_event = self.popped_count % 0x10000
        else:
            self.no_notify = False

    # Both sides agree ------------------------------------------------------------

    @invariant()
    def indices_agree(self) -> None:
        if not hasattr(self, "queue"):
            return
        assert self.queue.next_avail == self.popped_count % 0x10000
        assert self.queue.next_used == self.used_count % 0x10000
        assert self.driver.used_idx() == self.queue.next_used
        assert self.driver.avail_idx == self.published_count % 0x10000


QueueMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)
test_queue_machine = QueueMachine.TestCase
