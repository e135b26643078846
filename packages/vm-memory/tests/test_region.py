"""GuestMemoryRegion: one host mapping behind a range of guest memory."""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

import pytest
from vm_memory import (
    PAGE_SIZE,
    FileOffset,
    GuestAddress,
    GuestMemoryRegion,
    HugePagesUnavailableError,
    InvalidRegionError,
    KvmMemoryFlags,
    MappingOptions,
    RegionInUseError,
    RegionMappingError,
)

MIB = 1 << 20


def _hugepages_free() -> int:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


def test_anonymous_region_geometry() -> None:
    with GuestMemoryRegion.anonymous(GuestAddress(0x10_0000), 2 * MIB) as region:
        assert region.start == GuestAddress(0x10_0000)
        assert region.size == 2 * MIB
        assert region.end == 0x30_0000
        assert region.last_addr == GuestAddress(0x2F_FFFF)
        assert region.contains(0x10_0000)
        assert region.contains(GuestAddress(0x2F_FFFF))
        assert not region.contains(0x30_0000)
        assert not region.contains(0xF_FFFF)
        assert region.file_offset is None


def test_anonymous_memory_starts_zeroed_and_is_writable() -> None:
    with GuestMemoryRegion.anonymous(0, PAGE_SIZE) as region:
        view = region.as_memoryview()
        assert view.tobytes() == bytes(PAGE_SIZE)
        view[10:13] = b"abc"
        assert region.as_memoryview()[10:13].tobytes() == b"abc"
        view.release()


def test_host_address_is_where_the_mapping_lives() -> None:
    with GuestMemoryRegion.anonymous(0, PAGE_SIZE) as region:
        view = region.as_memoryview()
        view[0:4] = b"host"
        assert ctypes.string_at(region.host_address, 4) == b"host"
        ctypes.memmove(region.host_address + 8, b"back", 4)
        assert view[8:12].tobytes() == b"back"
        view.release()


@pytest.mark.parametrize(
    ("start", "size", "reason"),
    [
        (0, 0, "positive"),
        (0, -PAGE_SIZE, "positive"),
        (0x800, PAGE_SIZE, "page size"),
        (0, PAGE_SIZE + 1, "page size"),
        ((1 << 64) - PAGE_SIZE, 2 * PAGE_SIZE, "64-bit"),
        (-PAGE_SIZE, PAGE_SIZE, "64-bit"),
    ],
)
def test_rejects_layouts_kvm_could_not_map(start: int, size: int, reason: str) -> None:
    with pytest.raises(InvalidRegionError) as info:
        GuestMemoryRegion.anonymous(start, size)
    assert (info.value.start, info.value.size) == (start, size)
    assert reason in info.value.reason


def test_region_may_end_at_the_top_of_the_address_space() -> None:
    with GuestMemoryRegion.anonymous((1 << 64) - PAGE_SIZE, PAGE_SIZE) as region:
        assert region.end == 1 << 64
        assert region.last_addr == GuestAddress((1 << 64) - 1)


def test_wraps_a_mapping_made_by_the_caller() -> None:
    mapping = mmap.mmap(-1, 2 * PAGE_SIZE)
    with GuestMemoryRegion(0x4000, mapping) as region:
        assert region.size == 2 * PAGE_SIZE
    assert mapping.closed


def test_refuses_a_read_only_mapping() -> None:
    mapping = mmap.mmap(-1, PAGE_SIZE, prot=mmap.PROT_READ)
    with pytest.raises(InvalidRegionError, match="read-only"):
        GuestMemoryRegion(0, mapping)
    mapping.close()


def test_memfd_region_is_shared_with_a_second_mapping_of_its_fd() -> None:
    with GuestMemoryRegion.memfd(0, 2 * PAGE_SIZE, name="test-ram") as region:
        assert region.file_offset is not None
        assert region.file_offset.offset == 0
        other = mmap.mmap(region.file_offset.fd, 2 * PAGE_SIZE, flags=mmap.MAP_SHARED)
        view = region.as_memoryview()
        view[PAGE_SIZE : PAGE_SIZE + 5] = b"guest"
        assert other[PAGE_SIZE : PAGE_SIZE + 5] == b"guest"
        other[0:4] = b"peer"
        assert view[0:4].tobytes() == b"peer"
        view.release()
        other.close()


def test_memfd_fd_is_closed_with_the_region() -> None:
    region = GuestMemoryRegion.memfd(0, PAGE_SIZE)
    assert region.file_offset is not None
    fd = region.file_offset.fd
    os.fstat(fd)
    region.close()
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


def _file_of(path: Path, size: int) -> Path:
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


def test_shared_file_region_writes_reach_the_file(tmp_path: Path) -> None:
    path = _file_of(tmp_path / "ram", 4 * PAGE_SIZE)
    with GuestMemoryRegion.from_file(0, 2 * PAGE_SIZE, path, offset=PAGE_SIZE) as region:
        assert region.file_offset is not None
        assert region.file_offset.offset == PAGE_SIZE
        view = region.as_memoryview()
        assert view[0:3].tobytes() == bytes([0, 1, 2])  # the file's content at the offset
        view[0:5] = b"saved"
        view.release()
    assert path.read_bytes()[PAGE_SIZE : PAGE_SIZE + 5] == b"saved"


def test_private_file_region_writes_stay_in_memory(tmp_path: Path) -> None:
    path = _file_of(tmp_path / "image", 2 * PAGE_SIZE)
    with GuestMemoryRegion.from_file(0, 2 * PAGE_SIZE, path, shared=False) as region:
        view = region.as_memoryview()
        view[0:5] = b"local"
        assert view[0:5].tobytes() == b"local"
        view.release()
    assert path.read_bytes()[:5] == bytes([0, 1, 2, 3, 4])


def test_file_region_from_an_fd_duplicates_it(tmp_path: Path) -> None:
    path = _file_of(tmp_path / "ram", PAGE_SIZE)
    fd = os.open(path, os.O_RDWR)
    try:
        with GuestMemoryRegion.from_file(0, PAGE_SIZE, fd) as region:
            assert region.file_offset is not None
            assert region.file_offset.fd != fd
        os.fstat(fd)  # the caller's fd is still open
    finally:
        os.close(fd)


def test_file_smaller_than_the_region_is_refused(tmp_path: Path) -> None:
    path = _file_of(tmp_path / "small", PAGE_SIZE)
    with pytest.raises(InvalidRegionError, match="fewer than offset"):
        GuestMemoryRegion.from_file(0, 2 * PAGE_SIZE, path)


def test_unaligned_file_offset_is_refused(tmp_path: Path) -> None:
    path = _file_of(tmp_path / "ram", 2 * PAGE_SIZE)
    with pytest.raises(InvalidRegionError, match="file offset"):
        GuestMemoryRegion.from_file(0, PAGE_SIZE, path, offset=512)


def test_missing_file_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(RegionMappingError) as info:
        GuestMemoryRegion.from_file(0, PAGE_SIZE, tmp_path / "absent")
    assert info.value.errno == 2
    assert isinstance(info.value, OSError)


def test_shared_mapping_of_a_read_only_fd_is_a_mapping_error(tmp_path: Path) -> None:
    path = _file_of(tmp_path / "ram", PAGE_SIZE)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(RegionMappingError) as info:
            GuestMemoryRegion.from_file(0, PAGE_SIZE, fd, shared=True)
        assert info.value.errno == 13  # EACCES
    finally:
        os.close(fd)


@pytest.mark.skipif(_hugepages_free() > 0, reason="this host has free huge pages")
@pytest.mark.parametrize("factory", [GuestMemoryRegion.anonymous, GuestMemoryRegion.memfd])
def test_hugepages_without_reserved_pages_fail_clearly(factory: object) -> None:
    create = factory
    assert callable(create)
    with pytest.raises(HugePagesUnavailableError, match="nr_hugepages") as info:
        create(0, 2 * MIB, MappingOptions(hugepages=True))
    assert info.value.errno == 12
    assert (info.value.start, info.value.size) == (0, 2 * MIB)


@pytest.mark.skipif(_hugepages_free() < 1, reason="needs one free 2 MiB huge page")
def test_hugepages_back_the_region_when_reserved() -> None:
    with GuestMemoryRegion.anonymous(0, 2 * MIB, MappingOptions(hugepages=True)) as region:
        view = region.as_memoryview()
        view[0] = 1
        view.release()


def test_hugepage_regions_must_be_multiples_of_the_huge_page() -> None:
    with pytest.raises(InvalidRegionError, match="huge page size"):
        GuestMemoryRegion.anonymous(0, PAGE_SIZE, MappingOptions(hugepages=True))
    with pytest.raises(InvalidRegionError, match="power of two"):
        GuestMemoryRegion.anonymous(
            0, 2 * MIB, MappingOptions(hugepages=True, hugepage_size=3 * MIB)
        )


def test_file_regions_take_huge_pages_from_hugetlbfs_only(tmp_path: Path) -> None:
    path = _file_of(tmp_path / "ram", 2 * MIB)
    with pytest.raises(InvalidRegionError, match="hugetlbfs"):
        GuestMemoryRegion.from_file(0, 2 * MIB, path, options=MappingOptions(hugepages=True))


def _smaps_flags(address: int) -> set[str]:
    """The VmFlags of the mapping at ``address`` in /proc/self/smaps."""
    current = False
    with open("/proc/self/smaps", encoding="ascii") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:
                low, high = (int(part, 16) for part in fields[0].split("-"))
                current = low <= address < high
            elif current and fields[0] == "VmFlags:":
                return set(fields[1:])
    raise AssertionError(f"no mapping at {address:#x}")


def test_advice_reaches_the_kernel() -> None:
    options = MappingOptions(dontdump=True, mergeable=True, transparent_hugepages=True)
    with GuestMemoryRegion.anonymous(0, 2 * MIB, options) as region:
        flags = _smaps_flags(region.host_address)
    assert "dd" in flags  # MADV_DONTDUMP
    assert "mg" in flags  # MADV_MERGEABLE
    assert "hg" in flags  # MADV_HUGEPAGE


def test_no_advice_by_default() -> None:
    with GuestMemoryRegion.anonymous(0, 2 * MIB) as region:
        flags = _smaps_flags(region.host_address)
    assert not {"dd", "mg", "hg"} & flags
    assert "nr" in flags  # MAP_NORESERVE


def test_prefault_populates_every_page() -> None:
    with GuestMemoryRegion.memfd(0, 16 * PAGE_SIZE, MappingOptions(prefault=True)) as region:
        assert region.file_offset is not None
        assert os.fstat(region.file_offset.fd).st_blocks * 512 >= 16 * PAGE_SIZE


def test_memory_slot_describes_the_region_to_kvm() -> None:
    with GuestMemoryRegion.anonymous(0x1_0000_0000, MIB) as region:
        slot = region.memory_slot(3, KvmMemoryFlags.LOG_DIRTY_PAGES)
        assert slot.slot == 3
        assert slot.guest_phys_addr == 0x1_0000_0000
        assert slot.memory_size == MIB
        assert slot.userspace_addr == region.host_address
        assert slot.flags == KvmMemoryFlags.LOG_DIRTY_PAGES
        assert region.memory_slot(0).flags == 0


def test_close_is_refused_while_views_are_alive_and_region_stays_usable() -> None:
    region = GuestMemoryRegion.anonymous(0, PAGE_SIZE)
    view = region.as_memoryview()
    with pytest.raises(RegionInUseError) as info:
        region.close()
    assert (info.value.start, info.value.size) == (0, PAGE_SIZE)
    view[0] = 7
    assert region.as_memoryview()[0] == 7
    view.release()
    region.close()
    assert region.closed
    region.close()  # twice is harmless


def test_repr_names_range_and_backing() -> None:
    with GuestMemoryRegion.memfd(0x2000, PAGE_SIZE) as region:
        assert repr(region).startswith("GuestMemoryRegion([0x2000, +0x1000), file, host=0x")


def test_file_offset_is_plain_data() -> None:
    assert FileOffset(5, 0x1000) == FileOffset(5, 0x1000)
