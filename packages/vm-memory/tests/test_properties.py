"""Property: any access either succeeds with every byte inside guest memory, or
raises GuestMemoryError and changes nothing. Never a partial or stray access.

The memory under test has two contiguous regions, a lone region, and a region
that ends at the very top of the 64-bit address space; addresses are drawn
from everywhere and, mostly, from around the edges of those regions.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vm_memory import GuestAddress, GuestMemoryError, GuestMemoryMmap

TOP = 1 << 64
LAYOUT = [(0, 0x3000), (0x3000, 0x2000), (0x8000, 0x1000), (TOP - 0x2000, 0x2000)]
# Runs of guest memory with no hole, from the layout above.
SPANS = [(0, 0x5000), (0x8000, 0x9000), (TOP - 0x2000, TOP)]
EDGES = sorted({edge for start, size in LAYOUT for edge in (start, start + size)})


@pytest.fixture(scope="module")
def memory() -> Iterator[GuestMemoryMmap]:
    with GuestMemoryMmap.from_ranges(LAYOUT) as mem:
        yield mem


addresses = st.one_of(
    st.builds(lambda edge, delta: edge + delta, st.sampled_from(EDGES), st.integers(-40, 40)),
    st.integers(0, TOP - 1),
    st.integers(-(1 << 70), (1 << 70)),
)
lengths = st.one_of(st.integers(0, 64), st.integers(0, 0x5100), st.integers(-8, -1))


def inside(addr: int, length: int) -> bool:
    """The specification: whether every byte of [addr, addr + length) is memory."""
    if length < 0:
        return False
    if length == 0:
        return 0 <= addr < TOP
    return any(start <= addr and addr + length <= end for start, end in SPANS)


def within_one_region(addr: int, length: int) -> bool:
    return any(start <= addr and addr + length <= start + size for start, size in LAYOUT)


def snapshot(memory: GuestMemoryMmap) -> list[bytes]:
    views = [region.as_memoryview() for region in memory.regions]
    contents = [view.tobytes() for view in views]
    for view in views:
        view.release()
    return contents


def expected_after_write(before: list[bytes], addr: int, data: bytes) -> list[bytes]:
    """The model: ``before`` with ``data`` placed at ``addr``, byte by byte."""
    images = [bytearray(content) for content in before]
    for index, byte in enumerate(data):
        for (start, size), image in zip(LAYOUT, images, strict=True):
            if start <= addr + index < start + size:
                image[addr + index - start] = byte
                break
        else:
            raise AssertionError("the model only writes inside memory")
    return [bytes(image) for image in images]


def model_read(contents: list[bytes], addr: int, length: int) -> bytes:
    out = bytearray()
    for position in range(addr, addr + length):
        for (start, size), content in zip(LAYOUT, contents, strict=True):
            if start <= position < start + size:
                out.append(content[position - start])
    return bytes(out)


@given(addr=addresses, length=lengths, seed=st.integers(0, 255))
def test_write_is_all_or_nothing(
    memory: GuestMemoryMmap, addr: int, length: int, seed: int
) -> None:
    data = bytes((seed + i) & 0xFF for i in range(max(length, 0)))
    before = snapshot(memory)
    failure: GuestMemoryError | None = None
    try:
        memory.write(addr, data)
    except GuestMemoryError as error:
        failure = error
    if failure is None:
        assert inside(addr, len(data))
        assert snapshot(memory) == expected_after_write(before, addr, data)
    else:
        assert not inside(addr, len(data))
        assert (failure.addr, failure.length) == (addr, len(data))
        assert snapshot(memory) == before


@given(addr=addresses, length=lengths)
def test_read_returns_exactly_the_bytes_or_raises(
    memory: GuestMemoryMmap, addr: int, length: int
) -> None:
    contents = snapshot(memory)
    try:
        data = memory.read(addr, length)
    except GuestMemoryError:
        assert not inside(addr, length)
    else:
        assert inside(addr, length)
        assert data == model_read(contents, addr, length)


@given(addr=addresses, length=lengths)
def test_check_range_is_the_specification(memory: GuestMemoryMmap, addr: int, length: int) -> None:
    assert memory.check_range(addr, length) == inside(addr, length)


@given(addr=addresses, length=lengths)
def test_get_slices_cover_exactly_the_range(
    memory: GuestMemoryMmap, addr: int, length: int
) -> None:
    try:
        views = memory.get_slices(addr, length)
    except GuestMemoryError:
        assert not inside(addr, length)
        return
    assert inside(addr, length)
    assert sum(len(view) for view in views) == length
    assert all(len(view) > 0 for view in views)
    assert b"".join(views) == memory.read(addr, length)
    for view in views:
        view.release()


@given(addr=addresses, length=lengths)
def test_get_slice_only_within_one_region(memory: GuestMemoryMmap, addr: int, length: int) -> None:
    try:
        view = memory.get_slice(addr, length)
    except GuestMemoryError:
        assert not (inside(addr, length) and (length == 0 or within_one_region(addr, length)))
        return
    assert inside(addr, length)
    assert length == 0 or within_one_region(addr, length)
    assert len(view) == length
    view.release()


WIDTHS = st.sampled_from([(1, "u8"), (2, "u16"), (4, "u32"), (8, "u64")])


@given(addr=addresses, width=WIDTHS, value=st.integers(0, (1 << 64) - 1))
def test_integer_store_is_all_or_nothing(
    memory: GuestMemoryMmap, addr: int, width: tuple[int, str], value: int
) -> None:
    size, name = width
    value &= (1 << (8 * size)) - 1
    before = snapshot(memory)
    try:
        getattr(memory, f"write_{name}")(addr, value)
    except GuestMemoryError:
        assert not inside(addr, size)
        assert snapshot(memory) == before
        return
    assert inside(addr, size)
    assert snapshot(memory) == expected_after_write(before, addr, value.to_bytes(size, "little"))
    assert getattr(memory, f"read_{name}")(GuestAddress(addr)) == value


@given(addr=addresses)
def test_struct_load_matches_bytes(memory: GuestMemoryMmap, addr: int) -> None:
    record = struct.Struct("<QIHH")
    try:
        values = memory.read_struct(addr, record)
    except GuestMemoryError:
        assert not inside(addr, record.size)
        return
    assert values == record.unpack(memory.read(addr, record.size))
