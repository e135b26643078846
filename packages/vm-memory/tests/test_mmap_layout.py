"""GuestMemoryMmap layout: building, validating and looking up regions."""

from __future__ import annotations

import pytest
from vm_memory import (
    Backing,
    GuestAddress,
    GuestMemoryMmap,
    GuestMemoryRegion,
    InvalidRegionError,
    MappingOptions,
    NoRegionsError,
    RegionInUseError,
    RegionNotFoundError,
    RegionOverlapError,
)
from vm_memory.bytes import GuestMemory

PAGE = 0x1000


def test_regions_are_sorted_by_address() -> None:
    high = GuestMemoryRegion.anonymous(0x10000, PAGE)
    low = GuestMemoryRegion.anonymous(0, PAGE)
    with GuestMemoryMmap([high, low]) as memory:
        assert memory.regions == (low, high)
        assert list(memory) == [low, high]
        assert memory.num_regions == 2


def test_from_ranges_accepts_addresses_and_ints() -> None:
    with GuestMemoryMmap.from_ranges([(GuestAddress(0), PAGE), (0x8000, 2 * PAGE)]) as memory:
        assert [(r.start, r.size) for r in memory.regions] == [
            (GuestAddress(0), PAGE),
            (GuestAddress(0x8000), 2 * PAGE),
        ]


def test_from_ranges_with_memfd_backing_gives_shareable_regions() -> None:
    with GuestMemoryMmap.from_ranges([(0, PAGE), (PAGE, PAGE)], backing=Backing.MEMFD) as memory:
        assert all(region.file_offset is not None for region in memory.regions)


def test_from_ranges_passes_mapping_options_on() -> None:
    options = MappingOptions(prefault=True)
    with GuestMemoryMmap.from_ranges([(0, PAGE)], options=options) as prefaulted:
        assert prefaulted.read(0, 4) == bytes(4)


def test_empty_map_is_refused() -> None:
    with pytest.raises(NoRegionsError):
        GuestMemoryMmap([])
    with pytest.raises(NoRegionsError):
        GuestMemoryMmap.from_ranges([])


def test_overlapping_ranges_are_refused_before_anything_is_mapped() -> None:
    with pytest.raises(RegionOverlapError) as info:
        GuestMemoryMmap.from_ranges([(0, 4 * PAGE), (0x10000, PAGE), (3 * PAGE, PAGE)])
    error = info.value
    assert (error.start, error.size) == (3 * PAGE, PAGE)
    assert (error.other_start, error.other_size) == (0, 4 * PAGE)
    assert isinstance(error, InvalidRegionError)
    assert "overlaps [0x0, +0x4000)" in str(error)


def test_overlapping_regions_are_refused() -> None:
    first = GuestMemoryRegion.anonymous(0, 2 * PAGE)
    second = GuestMemoryRegion.anonymous(PAGE, 2 * PAGE)
    with pytest.raises(RegionOverlapError):
        GuestMemoryMmap([first, second])
    first.close()
    second.close()


def test_the_same_region_twice_is_an_overlap() -> None:
    with GuestMemoryRegion.anonymous(0, PAGE) as region, pytest.raises(RegionOverlapError):
        GuestMemoryMmap([region, region])


@pytest.mark.parametrize(("start", "size"), [(0x800, PAGE), (0, 0), (0, PAGE + 1)])
def test_bad_ranges_are_refused(start: int, size: int) -> None:
    with pytest.raises(InvalidRegionError) as info:
        GuestMemoryMmap.from_ranges([(0, PAGE), (start, size)])
    assert (info.value.start, info.value.size) == (start, size)


def test_closed_regions_are_refused() -> None:
    region = GuestMemoryRegion.anonymous(0, PAGE)
    region.close()
    with pytest.raises(InvalidRegionError, match="closed"):
        GuestMemoryMmap([region])


def test_sizes_and_last_address(memory: GuestMemoryMmap) -> None:
    assert memory.total_size == 7 * PAGE
    assert memory.last_addr == GuestAddress(0x10FFF)


def test_find_region(memory: GuestMemoryMmap) -> None:
    first, second, third = memory.regions
    assert memory.find_region(0) is first
    assert memory.find_region(GuestAddress(0x3FFF)) is first
    assert memory.find_region(0x4000) is second
    assert memory.find_region(0x10FFF) is third
    for outside in (0x6000, 0xFFFF, 0x11000, 1 << 64, -1):
        assert memory.find_region(outside) is None


def test_address_in_range(memory: GuestMemoryMmap) -> None:
    assert memory.address_in_range(0x5FFF)
    assert not memory.address_in_range(0x6000)


def test_check_range_follows_contiguous_regions(memory: GuestMemoryMmap) -> None:
    assert memory.check_range(0, 0x6000)
    assert memory.check_range(0x3FFF, 2)
    assert not memory.check_range(0x5FFF, 2)  # runs into the gap
    assert not memory.check_range(0x10000, 0x1001)
    assert not memory.check_range(0, -1)
    assert memory.check_range(0x8000, 0)  # nothing to access


def test_host_address_of_a_guest_address(memory: GuestMemoryMmap) -> None:
    second = memory.regions[1]
    assert memory.get_host_address(0x4010) == second.host_address + 0x10


def test_host_address_outside_memory_raises(memory: GuestMemoryMmap) -> None:
    from vm_memory import GuestMemoryError

    with pytest.raises(GuestMemoryError):
        memory.get_host_address(0x7000)


def test_insert_region_returns_a_new_map_sharing_regions(memory: GuestMemoryMmap) -> None:
    extra = GuestMemoryRegion.anonymous(0x20000, PAGE)
    bigger = memory.insert_region(extra)
    assert bigger.num_regions == 4
    assert memory.num_regions == 3
    assert bigger.regions[:3] == memory.regions
    bigger.write(0x20000, b"new")
    memory.write(0, b"old")
    assert bigger.read(0, 3) == b"old"
    extra.close()


def test_insert_overlapping_region_is_refused(memory: GuestMemoryMmap) -> None:
    with (
        GuestMemoryRegion.anonymous(0x5000, 2 * PAGE) as clash,
        pytest.raises(RegionOverlapError),
    ):
        memory.insert_region(clash)


def test_remove_region_returns_new_map_and_the_open_region(memory: GuestMemoryMmap) -> None:
    smaller, removed = memory.remove_region(GuestAddress(0x4000), 2 * PAGE)
    assert removed is memory.regions[1]
    assert not removed.closed
    assert smaller.num_regions == 2
    assert not smaller.address_in_range(0x4000)
    assert memory.address_in_range(0x4000)


def test_remove_unknown_region_raises(memory: GuestMemoryMmap) -> None:
    with pytest.raises(RegionNotFoundError) as info:
        memory.remove_region(0x4000, PAGE)
    assert (info.value.start, info.value.size) == (0x4000, PAGE)


def test_close_closes_every_region() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, PAGE), (PAGE, PAGE)])
    memory.close()
    assert all(region.closed for region in memory.regions)


def test_close_closes_what_it_can_and_reports_the_busy_region() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, PAGE), (0x8000, PAGE)])
    view = memory.get_slice(0x8000, 16)
    with pytest.raises(RegionInUseError) as info:
        memory.close()
    assert info.value.start == 0x8000
    assert memory.regions[0].closed
    view.release()
    memory.close()


def test_a_closed_map_refuses_access() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, PAGE)])
    memory.close()
    with pytest.raises(ValueError, match=r"closed|released"):
        memory.read(0, 1)
    with pytest.raises(ValueError, match=r"closed|released"):
        memory.read_u16(0)


def test_repr_lists_ranges(memory: GuestMemoryMmap) -> None:
    assert repr(memory) == (
        "GuestMemoryMmap([0x0, +0x4000), [0x4000, +0x2000), [0x10000, +0x1000))"
    )


def test_implements_the_guest_memory_protocol(memory: GuestMemoryMmap) -> None:
    def first_byte(mem: GuestMemory) -> int:
        return mem.read_u8(0)

    assert first_byte(memory) == 0
