"""Bus properties: lookups agree with a brute-force model, and readers never need a lock."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from vm_devices import Bus, BusAddressOverflowError, BusNotFoundError, BusOverlapError, BusRange

SPACE = 0x200  # a small address space, so collisions are frequent


class Device:
    def __init__(self, name: int) -> None:
        self.name = name

    def read(self, base: int, offset: int, data: memoryview) -> None:
        data[:] = bytes([self.name & 0xFF]) * len(data)

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        pass


class BusAgainstModel(RuleBasedStateMachine):
    """Random inserts and removes; after each, every address resolves as a list scan says."""

    def __init__(self) -> None:
        super().__init__()
        self.bus = Bus(SPACE)
        self.model: list[tuple[BusRange, Device]] = []
        self.next_name = 0

    def _owner(self, address: int) -> tuple[BusRange, Device] | None:
        return next(((r, d) for r, d in self.model if r.base <= address < r.end), None)

    @rule(base=st.integers(0, SPACE - 1), length=st.integers(1, 0x40))
    def insert(self, base: int, length: int) -> None:
        device = Device(self.next_name)
        self.next_name += 1
        new = BusRange(base, length)
        collides = [r for r, _ in self.model if r.overlaps(new)]
        if new.end > SPACE:
            with pytest.raises(BusAddressOverflowError) as overflow:
                self.bus.insert(device, base, length)
            assert overflow.value.range == new
        elif collides:
            with pytest.raises(BusOverlapError) as overlap:
                self.bus.insert(device, base, length)
            assert overlap.value.other in collides
        else:
            self.bus.insert(device, base, length)
            self.model.append((new, device))

    @rule(pick=st.integers(0, 1 << 16))
    def remove_existing(self, pick: int) -> None:
        if self.model:
            span, device = self.model.pop(pick % len(self.model))
            assert self.bus.remove(span.base) is device

    @rule(base=st.integers(-1, SPACE))
    def remove_missing(self, base: int) -> None:
        if all(r.base != base for r, _ in self.model):
            with pytest.raises(BusNotFoundError):
                self.bus.remove(base)

    @invariant()
    def every_boundary_resolves_like_the_model(self) -> None:
        # resolve() is constant between range boundaries, so checking around each
        # boundary the model or the bus knows of covers every address.
        edges = {0, SPACE - 1}
        for span in [r for r, _ in self.model] + [r for r, _ in self.bus.devices()]:
            edges |= {span.base - 1, span.base, span.end - 1, span.end}
        for address in sorted(edges):
            owner = self._owner(address)
            expected = None if owner is None else (owner[0].base, owner[1])
            assert self.bus.resolve(address) == expected

    @invariant()
    def devices_lists_the_model_sorted(self) -> None:
        assert self.bus.devices() == sorted(self.model, key=lambda item: item[0].base)


TestBusAgainstModel = BusAgainstModel.TestCase
TestBusAgainstModel.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)


@given(
    spans=st.lists(st.tuples(st.integers(0, SPACE - 1), st.integers(1, 0x20)), max_size=20),
    address=st.integers(0, SPACE - 1),
    size=st.integers(1, 8),
)
def test_read_is_claimed_only_when_the_access_fits_one_range(
    spans: list[tuple[int, int]], address: int, size: int
) -> None:
    bus = Bus(SPACE)
    placed: list[BusRange] = []
    for name, (base, length) in enumerate(spans):
        try:
            bus.insert(Device(name), base, length)
            placed.append(BusRange(base, length))
        except (BusOverlapError, OverflowError):
            pass
    fits = any(r.base <= address and address + size <= r.end for r in placed)
    assert bus.read(address, memoryview(bytearray(size))) is fits
    assert bus.write(address, bytes(size)) is fits


def test_lookups_never_fail_while_another_thread_changes_the_bus() -> None:
    bus = Bus()
    fixed = Device(1)
    bus.insert(fixed, 0x1000, 0x10)
    stop = threading.Event()
    failures: list[object] = []

    def reader() -> None:
        data = memoryview(bytearray(1))
        while not stop.is_set():
            if bus.resolve(0x1008) != (0x1000, fixed) or not bus.read(0x1000, data):
                failures.append(bus.resolve(0x1008))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for round_ in range(3000):
            base = 0x2000 + (round_ % 64) * 0x10
            if round_ // 64 % 2:
                bus.remove(base)
            else:
                bus.insert(Device(round_), base, 0x10)
            bus.insert(Device(round_), 0x10 * (round_ % 64), 0x8)
            bus.remove(0x10 * (round_ % 64))
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert failures == []
