"""GuestMemoryAtomic: replacing the memory map while device threads use it."""

from __future__ import annotations

import threading
import time

import pytest
from vm_memory import (
    GuestMemoryAtomic,
    GuestMemoryMmap,
    GuestMemoryRegion,
    RegionNotFoundError,
    RegionOverlapError,
)

PAGE = 0x1000


def test_memory_returns_the_current_map(memory: GuestMemoryMmap) -> None:
    assert GuestMemoryAtomic(memory).memory() is memory


def test_replace_publishes_and_returns_the_old_map(memory: GuestMemoryMmap) -> None:
    atomic = GuestMemoryAtomic(memory)
    other = GuestMemoryMmap(memory.regions[:1])
    assert atomic.replace(other) is memory
    assert atomic.memory() is other


def test_add_region_publishes_a_map_sharing_the_old_regions(memory: GuestMemoryMmap) -> None:
    atomic = GuestMemoryAtomic(memory)
    snapshot = atomic.memory()
    with GuestMemoryRegion.memfd(0x1_0000_0000, PAGE) as hotplugged:
        new = atomic.add_region(hotplugged)
        assert atomic.memory() is new
        assert new.regions[:3] == memory.regions
        assert new.find_region(0x1_0000_0000) is hotplugged
        assert snapshot.find_region(0x1_0000_0000) is None  # old snapshots stay as they were


def test_failed_update_keeps_the_current_map(memory: GuestMemoryMmap) -> None:
    atomic = GuestMemoryAtomic(memory)
    with GuestMemoryRegion.anonymous(0, PAGE) as clash, pytest.raises(RegionOverlapError):
        atomic.add_region(clash)
    assert atomic.memory() is memory


def test_remove_region_hands_back_the_open_region(memory: GuestMemoryMmap) -> None:
    atomic = GuestMemoryAtomic(memory)
    removed = atomic.remove_region(0x10000, PAGE)
    assert removed is memory.regions[2]
    assert not atomic.memory().address_in_range(0x10000)
    with pytest.raises(RegionNotFoundError):
        atomic.remove_region(0x10000, PAGE)


def test_update_applies_a_change_under_the_lock(memory: GuestMemoryMmap) -> None:
    atomic = GuestMemoryAtomic(memory)
    new = atomic.update(lambda current: GuestMemoryMmap(current.regions[1:]))
    assert atomic.memory() is new
    assert new.num_regions == 2


def test_readers_see_whole_maps_while_regions_are_hot_added() -> None:
    base = GuestMemoryMmap.from_ranges([(0, PAGE)])
    base.write_u32(0, 0xC0FFEE)
    atomic = GuestMemoryAtomic(base)
    added = [GuestMemoryRegion.anonymous(PAGE * (2 + 2 * i), PAGE) for i in range(50)]
    stop = threading.Event()
    failures: list[str] = []
    seen_sizes: set[int] = set()

    def device() -> None:
        while not stop.is_set():
            memory = atomic.memory()
            regions = memory.num_regions
            # Every snapshot is a complete, valid map: its regions are all usable.
            if memory.read_u32(0) != 0xC0FFEE:
                failures.append("lost the boot region")
            for region in memory.regions[1:]:
                memory.write_u8(region.start, 1)
            if memory.num_regions != regions:
                failures.append("a snapshot changed under the reader")
            seen_sizes.add(regions)

    readers = [threading.Thread(target=device) for _ in range(2)]
    for reader in readers:
        reader.start()

    def wait_until_seen(num_regions: int) -> None:
        deadline = time.monotonic() + 10
        while num_regions not in seen_sizes and time.monotonic() < deadline:
            time.sleep(0.0005)  # let a device thread pick the map up

    wait_until_seen(1)
    for region in added:
        wait_until_seen(atomic.add_region(region).num_regions)
    stop.set()
    for reader in readers:
        reader.join()

    assert failures == []
    assert atomic.memory().num_regions == 51
    assert seen_sizes == set(range(1, 52))  # readers used every map as it was published
    atomic.memory().close()
