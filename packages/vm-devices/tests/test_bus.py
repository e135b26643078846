"""The bus: ranges, insert/remove, typed errors, routing of reads and writes."""

from __future__ import annotations

import pytest
from vm_devices import (
    MMIO_LIMIT,
    PIO_LIMIT,
    Bus,
    BusAddressOverflowError,
    BusNotFoundError,
    BusOverlapError,
    BusRange,
    BusZeroLengthError,
    MmioBus,
    PioBus,
)


class Recorder:
    """A device that logs every access and answers reads with its offset bytes."""

    def __init__(self) -> None:
        self.accesses: list[tuple[str, int, int, bytes]] = []

    def read(self, base: int, offset: int, data: memoryview) -> None:
        self.accesses.append(("read", base, offset, bytes(len(data))))
        for index in range(len(data)):
            data[index] = (offset + index) & 0xFF

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        self.accesses.append(("write", base, offset, bytes(data)))


def test_resolve_finds_the_device_whose_range_contains_the_address() -> None:
    bus = Bus()
    first, second = Recorder(), Recorder()
    bus.insert(first, 0x100, 0x10)
    bus.insert(second, 0x200, 0x8)
    assert bus.resolve(0x100) == (0x100, first)
    assert bus.resolve(0x10F) == (0x100, first)
    assert bus.resolve(0x207) == (0x200, second)


def test_resolve_is_none_outside_every_range() -> None:
    bus = Bus()
    bus.insert(Recorder(), 0x100, 0x10)
    for address in (0, 0xFF, 0x110, 0x1FF, MMIO_LIMIT - 1, -1):
        assert bus.resolve(address) is None


def test_read_passes_base_and_offset_and_lets_the_device_fill_data() -> None:
    bus = Bus()
    device = Recorder()
    bus.insert(device, 0x3F8, 8)
    data = bytearray(2)
    assert bus.read(0x3FB, memoryview(data))
    assert device.accesses == [("read", 0x3F8, 3, b"\0\0")]
    assert data == bytes([3, 4])


def test_write_passes_base_offset_and_the_bytes() -> None:
    bus = Bus()
    device = Recorder()
    bus.insert(device, 0x3F8, 8)
    assert bus.write(0x3F8, b"\x41")
    assert bus.write(0x3FF, memoryview(b"\x42"))
    assert device.accesses == [("write", 0x3F8, 0, b"A"), ("write", 0x3F8, 7, b"B")]


def test_unclaimed_read_returns_false_and_leaves_data_alone() -> None:
    bus = Bus()
    bus.insert(Recorder(), 0x100, 4)
    data = bytearray(b"\x12")
    assert not bus.read(0x104, memoryview(data))
    assert data == b"\x12"


def test_unclaimed_write_returns_false() -> None:
    bus = Bus()
    device = Recorder()
    bus.insert(device, 0x100, 4)
    assert not bus.write(0xFF, b"\0")
    assert device.accesses == []


def test_access_running_past_the_end_of_a_range_is_unclaimed() -> None:
    bus = Bus()
    device = Recorder()
    bus.insert(device, 0x100, 4)
    assert not bus.read(0x103, memoryview(bytearray(2)))
    assert not bus.write(0x102, b"\0\0\0")
    assert bus.read(0x102, memoryview(bytearray(2)))
    assert [access[:3] for access in device.accesses] == [("read", 0x100, 2)]


def test_one_device_may_be_inserted_at_several_ranges() -> None:
    bus = Bus()
    device = Recorder()
    bus.insert(device, 0x60, 1)
    bus.insert(device, 0x64, 1)
    bus.write(0x60, b"\1")
    bus.write(0x64, b"\2")
    assert [(base, offset) for _, base, offset, _ in device.accesses] == [(0x60, 0), (0x64, 0)]


def test_adjacent_ranges_do_not_overlap() -> None:
    bus = Bus()
    left, right = Recorder(), Recorder()
    bus.insert(right, 0x10, 0x10)
    bus.insert(left, 0x0, 0x10)
    assert bus.resolve(0xF) == (0, left)
    assert bus.resolve(0x10) == (0x10, right)


@pytest.mark.parametrize(
    ("base", "length"),
    [(0x100, 0x10), (0xF8, 0x10), (0x108, 0x4), (0x10C, 0x100), (0x0, 0x1000)],
)
def test_overlapping_insert_raises_with_both_ranges(base: int, length: int) -> None:
    bus = Bus()
    bus.insert(Recorder(), 0x100, 0x10)
    with pytest.raises(BusOverlapError) as raised:
        bus.insert(Recorder(), base, length)
    assert raised.value.range == BusRange(base, length)
    assert raised.value.other == BusRange(0x100, 0x10)
    assert isinstance(raised.value, ValueError)


def test_overlap_with_the_following_range_names_it() -> None:
    bus = Bus()
    bus.insert(Recorder(), 0x100, 0x10)
    bus.insert(Recorder(), 0x200, 0x10)
    with pytest.raises(BusOverlapError) as raised:
        bus.insert(Recorder(), 0x180, 0x81)
    assert raised.value.other == BusRange(0x200, 0x10)


def test_failed_insert_changes_nothing() -> None:
    bus = Bus()
    device = Recorder()
    bus.insert(device, 0x100, 0x10)
    with pytest.raises(BusOverlapError):
        bus.insert(Recorder(), 0x80, 0x81)
    assert [(r, d) for r, d in bus.devices()] == [(BusRange(0x100, 0x10), device)]


@pytest.mark.parametrize("length", [0, -1])
def test_zero_length_insert_raises(length: int) -> None:
    with pytest.raises(BusZeroLengthError) as raised:
        Bus().insert(Recorder(), 0x100, length)
    assert raised.value.range == BusRange(0x100, length)


def test_pio_bus_refuses_ranges_beyond_port_0xffff() -> None:
    bus = PioBus()
    bus.insert(Recorder(), 0xFFFF, 1)
    with pytest.raises(BusAddressOverflowError) as raised:
        bus.insert(Recorder(), 0xFFF0, 0x20)
    assert raised.value.range == BusRange(0xFFF0, 0x20)
    assert raised.value.limit == PIO_LIMIT
    assert isinstance(raised.value, OverflowError)


def test_negative_base_is_an_address_overflow() -> None:
    with pytest.raises(BusAddressOverflowError):
        Bus().insert(Recorder(), -1, 2)


def test_mmio_bus_takes_the_last_64_bit_address_and_no_more() -> None:
    bus = MmioBus()
    bus.insert(Recorder(), MMIO_LIMIT - 0x1000, 0x1000)
    assert bus.resolve(MMIO_LIMIT - 1) is not None
    with pytest.raises(BusAddressOverflowError):
        bus.insert(Recorder(), MMIO_LIMIT, 1)


def test_remove_returns_the_device_and_frees_its_range() -> None:
    bus = Bus()
    device = Recorder()
    bus.insert(device, 0x100, 0x10)
    assert bus.remove(0x100) is device
    assert bus.resolve(0x100) is None
    assert not bus.write(0x100, b"\0")
    bus.insert(Recorder(), 0x100, 0x10)


@pytest.mark.parametrize("base", [0x101, 0x0, 0x200])
def test_remove_needs_the_exact_base_of_a_range(base: int) -> None:
    bus = Bus()
    bus.insert(Recorder(), 0x100, 0x10)
    with pytest.raises(BusNotFoundError) as raised:
        bus.remove(base)
    assert raised.value.base == base
    assert raised.value.ranges == (BusRange(0x100, 0x10),)
    assert isinstance(raised.value, LookupError)
    assert len(bus) == 1


def test_devices_lists_ranges_in_address_order() -> None:
    bus = Bus()
    a, b, c = Recorder(), Recorder(), Recorder()
    bus.insert(b, 0x200, 2)
    bus.insert(c, 0x300, 3)
    bus.insert(a, 0x100, 1)
    assert bus.devices() == [
        (BusRange(0x100, 1), a),
        (BusRange(0x200, 2), b),
        (BusRange(0x300, 3), c),
    ]
    assert len(bus) == 3


def test_bus_range_arithmetic() -> None:
    span = BusRange(0x3F8, 8)
    assert span.end == 0x400
    assert [span.contains(a) for a in (0x3F7, 0x3F8, 0x3FF, 0x400)] == [False, True, True, False]
    assert span.overlaps(BusRange(0x3FF, 1))
    assert not span.overlaps(BusRange(0x400, 1))
    assert str(span) == "[0x3f8, 0x400)"


def test_a_bus_needs_a_positive_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        Bus(0)


def test_a_removed_device_gets_no_more_accesses_even_after_it_was_used() -> None:
    bus = Bus()
    old, new = Recorder(), Recorder()
    bus.insert(old, 0x100, 0x10)
    assert bus.write(0x104, b"\1")
    bus.remove(0x100)
    assert not bus.write(0x104, b"\2")
    bus.insert(new, 0x100, 0x10)
    assert bus.write(0x104, b"\3")
    assert [access[3] for access in old.accesses] == [b"\1"]
    assert [access[3] for access in new.accesses] == [b"\3"]


def test_many_distinct_addresses_all_resolve() -> None:
    bus = MmioBus()
    devices = [Recorder() for _ in range(4)]
    for index, device in enumerate(devices):
        bus.insert(device, index << 20, 1 << 20)
    for address in range(0, 4 << 20, 997):  # thousands of addresses: more than the memo keeps
        assert bus.resolve(address) == ((address >> 20) << 20, devices[address >> 20])
    assert bus.resolve(4 << 20) is None
