"""BAR placement in the MMIO windows: natural alignment, first fit, exhaustion as an error."""

from __future__ import annotations

import pytest
from vm_devices.errors import DeviceConfigError
from vm_devices.pci import AddressAllocator, AddressSpaceExhaustedError, BarAllocator, BarKind


def test_allocations_are_aligned_to_their_size() -> None:
    window = AddressAllocator(0xC000_1000, 0x100_0000)
    assert window.allocate(0x1000) == 0xC000_1000
    assert window.allocate(0x8_0000) == 0xC008_0000
    assert window.allocate(0x1000) == 0xC000_2000, "first fit fills the gap below"


def test_exhaustion_is_an_error_with_the_request_and_window() -> None:
    window = AddressAllocator(0x1000, 0x2000)
    window.allocate(0x1000)
    window.allocate(0x1000)
    with pytest.raises(AddressSpaceExhaustedError) as error:
        window.allocate(0x1000)
    assert (error.value.size, error.value.base, error.value.length) == (0x1000, 0x1000, 0x2000)


def test_freed_range_is_reused() -> None:
    window = AddressAllocator(0, 0x2000)
    first = window.allocate(0x1000)
    window.allocate(0x1000)
    assert window.free(first)
    assert not window.free(first)
    assert window.allocate(0x1000) == first


def test_bad_requests_and_windows_are_refused() -> None:
    with pytest.raises(DeviceConfigError):
        AddressAllocator(0, 0)
    window = AddressAllocator(0, 0x1000)
    with pytest.raises(DeviceConfigError):
        window.allocate(0x100, 3)
    with pytest.raises(DeviceConfigError):
        BarAllocator(AddressAllocator(0xF000_0000, 0x2000_0000))


def test_64_bit_bars_go_to_the_64_bit_window() -> None:
    bars = BarAllocator(
        AddressAllocator(0xC000_0000, 0x1000_0000), AddressAllocator(1 << 40, 1 << 30)
    )
    assert bars.allocate(0x8_0000, BarKind.MEMORY64) == 1 << 40
    assert bars.allocate(0x1000, BarKind.MEMORY32) == 0xC000_0000


def test_64_bit_bars_fall_back_below_4g() -> None:
    bars = BarAllocator(
        AddressAllocator(0xC000_0000, 0x1000_0000), AddressAllocator(1 << 40, 0x1000)
    )
    assert bars.allocate(0x8_0000, BarKind.MEMORY64) == 0xC000_0000
    bars.free(0xC000_0000)
    assert bars.allocate(0x1000, BarKind.MEMORY32) == 0xC000_0000
