"""GuestMemoryMmap access: checked, all-or-nothing, across contiguous regions.

The ``memory`` fixture has [0, 0x4000) and [0x4000, 0x6000) back to back, a gap,
and [0x10000, 0x11000).
"""

from __future__ import annotations

import array
import ctypes
import os
import struct
from collections.abc import Callable

import pytest
from vm_memory import GuestAddress, GuestMemoryError, GuestMemoryMmap

BOUNDARY = 0x4000


def _snapshot(memory: GuestMemoryMmap) -> list[bytes]:
    return [region.as_memoryview().tobytes() for region in memory.regions]


# Bytes --------------------------------------------------------------------------


def test_write_then_read(memory: GuestMemoryMmap) -> None:
    memory.write(0x100, b"hello")
    assert memory.read(0x100, 5) == b"hello"
    assert memory.read(GuestAddress(0x101), 3) == b"ell"


def test_write_and_read_cross_into_a_contiguous_region(memory: GuestMemoryMmap) -> None:
    memory.write(BOUNDARY - 3, b"abcdef")
    assert memory.read(BOUNDARY - 3, 6) == b"abcdef"
    assert memory.regions[0].as_memoryview()[-3:].tobytes() == b"abc"
    assert memory.regions[1].as_memoryview()[:3].tobytes() == b"def"


def test_a_range_spanning_both_contiguous_regions_entirely(memory: GuestMemoryMmap) -> None:
    data = os.urandom(0x6000)
    memory.write(0, data)
    assert memory.read(0, 0x6000) == data


@pytest.mark.parametrize(
    ("addr", "length"),
    [
        (0x5FFE, 4),  # runs into the gap
        (0x6000, 1),  # in the gap
        (0x10FFF, 2),  # past the end
        (0x11000, 1),
        (1 << 64, 1),
        ((1 << 64) - 1, 2),
        (-1, 2),
    ],
)
def test_write_outside_memory_raises_and_writes_nothing(
    memory: GuestMemoryMmap, addr: int, length: int
) -> None:
    before = _snapshot(memory)
    with pytest.raises(GuestMemoryError) as info:
        memory.write(addr, b"\xff" * length)
    assert (info.value.addr, info.value.length) == (addr, length)
    assert _snapshot(memory) == before


def test_error_message_names_the_range(memory: GuestMemoryMmap) -> None:
    with pytest.raises(GuestMemoryError) as info:
        memory.read(0x1000_0000, 0x20)
    assert str(info.value) == "guest memory access [0x10000000, +0x20) is outside guest memory"


def test_negative_length_is_an_error(memory: GuestMemoryMmap) -> None:
    with pytest.raises(GuestMemoryError, match="negative length"):
        memory.read(0, -1)


def test_zero_length_access_succeeds_anywhere(memory: GuestMemoryMmap) -> None:
    assert memory.read(0x8000, 0) == b""
    memory.write(0x8000, b"")
    assert memory.get_slices(0x8000, 0) == []
    assert len(memory.get_slice(0x8000, 0)) == 0


def test_write_accepts_any_bytes_like_object(memory: GuestMemoryMmap) -> None:
    memory.write(0, bytearray(b"ab"))
    memory.write(2, memoryview(b"cd"))
    memory.write(4, array.array("H", [0x6665]))
    assert memory.read(0, 6) == b"abcdef"


def test_read_into_fills_a_caller_buffer(memory: GuestMemoryMmap) -> None:
    memory.write(BOUNDARY - 2, b"wxyz")
    target = bytearray(4)
    memory.read_into(BOUNDARY - 2, target)
    assert target == b"wxyz"


def test_failed_read_into_leaves_the_buffer_alone(memory: GuestMemoryMmap) -> None:
    target = bytearray(b"keep")
    with pytest.raises(GuestMemoryError):
        memory.read_into(0x5FFE, target)
    assert target == b"keep"


# ctypes objects and struct records ----------------------------------------------


class _Header(ctypes.LittleEndianStructure):
    _pack_ = 1
    _fields_ = [("kind", ctypes.c_uint8), ("length", ctypes.c_uint32), ("tag", ctypes.c_uint16)]


def test_write_obj_then_read_obj(memory: GuestMemoryMmap) -> None:
    memory.write_obj(0x200, _Header(kind=1, length=0x12345678, tag=0xBEEF))
    header = memory.read_obj(0x200, _Header)
    assert (header.kind, header.length, header.tag) == (1, 0x12345678, 0xBEEF)
    assert memory.read(0x200, 7) == bytes.fromhex("01 78563412 efbe")


def test_objects_cross_contiguous_regions(memory: GuestMemoryMmap) -> None:
    memory.write_obj(BOUNDARY - 3, ctypes.c_uint64(0x0102030405060708))
    assert memory.read_obj(BOUNDARY - 3, ctypes.c_uint64).value == 0x0102030405060708


def test_read_obj_is_a_copy(memory: GuestMemoryMmap) -> None:
    value = memory.read_obj(0x300, ctypes.c_uint32)
    memory.write_u32(0x300, 5)
    assert value.value == 0


def test_read_obj_outside_memory_raises(memory: GuestMemoryMmap) -> None:
    with pytest.raises(GuestMemoryError) as info:
        memory.read_obj(0x10FFE, _Header)
    assert info.value.length == ctypes.sizeof(_Header)


def test_struct_records(memory: GuestMemoryMmap) -> None:
    descriptor = struct.Struct("<QIHH")
    memory.write_struct(0x400, descriptor, 0xDEAD_BEEF_0000, 0x200, 1, 7)
    assert memory.read_struct(0x400, descriptor) == (0xDEAD_BEEF_0000, 0x200, 1, 7)
    memory.write_struct(BOUNDARY - 8, descriptor, 1, 2, 3, 4)
    assert memory.read_struct(BOUNDARY - 8, descriptor) == (1, 2, 3, 4)


def test_struct_record_outside_memory_writes_nothing(memory: GuestMemoryMmap) -> None:
    before = _snapshot(memory)
    with pytest.raises(GuestMemoryError):
        memory.write_struct(0x10FF8, struct.Struct("<QQ"), 1, 2)
    assert _snapshot(memory) == before


# Fixed-width integers ------------------------------------------------------------

_WIDTHS = [
    (GuestMemoryMmap.read_u8, GuestMemoryMmap.write_u8, 1),
    (GuestMemoryMmap.read_u16, GuestMemoryMmap.write_u16, 2),
    (GuestMemoryMmap.read_u32, GuestMemoryMmap.write_u32, 4),
    (GuestMemoryMmap.read_u64, GuestMemoryMmap.write_u64, 8),
]
_Read = Callable[[GuestMemoryMmap, int], int]
_Write = Callable[[GuestMemoryMmap, int, int], None]


@pytest.mark.parametrize(("read", "write", "width"), _WIDTHS)
def test_integers_are_little_endian(
    memory: GuestMemoryMmap, read: _Read, write: _Write, width: int
) -> None:
    value = int.from_bytes(bytes(range(1, width + 1)), "little")
    write(memory, 0x800, value)
    assert memory.read(0x800, width) == bytes(range(1, width + 1))
    assert read(memory, 0x800) == value


@pytest.mark.parametrize(("read", "write", "width"), _WIDTHS)
def test_integers_take_guest_addresses_too(
    memory: GuestMemoryMmap, read: _Read, write: _Write, width: int
) -> None:
    addr = GuestAddress(0x10000)
    write(memory, addr, 0x7F)  # type: ignore[arg-type]
    assert read(memory, addr) == 0x7F  # type: ignore[arg-type]


@pytest.mark.parametrize(("read", "write", "width"), _WIDTHS[1:])
def test_unaligned_integers_cross_contiguous_regions(
    memory: GuestMemoryMmap, read: _Read, write: _Write, width: int
) -> None:
    value = (1 << (8 * width)) - 2
    write(memory, BOUNDARY - 1, value)
    assert read(memory, BOUNDARY - 1) == value
    assert memory.read(BOUNDARY - 1, width) == value.to_bytes(width, "little")


@pytest.mark.parametrize(("read", "write", "width"), _WIDTHS)
@pytest.mark.parametrize("addr", [0x6000, 0x10FFF + 1, 1 << 64, -1])
def test_integers_outside_memory_raise_and_write_nothing(
    memory: GuestMemoryMmap, read: _Read, write: _Write, width: int, addr: int
) -> None:
    before = _snapshot(memory)
    with pytest.raises(GuestMemoryError) as info:
        write(memory, addr, 1)
    assert (info.value.addr, info.value.length) == (addr, width)
    with pytest.raises(GuestMemoryError):
        read(memory, addr)
    assert _snapshot(memory) == before


@pytest.mark.parametrize(("read", "write", "width"), _WIDTHS[1:])
def test_integers_straddling_the_end_of_memory_raise(
    memory: GuestMemoryMmap, read: _Read, write: _Write, width: int
) -> None:
    before = _snapshot(memory)
    with pytest.raises(GuestMemoryError):
        write(memory, 0x11000 - width + 1, 0)
    with pytest.raises(GuestMemoryError):
        read(memory, 0x6000 - width + 1)
    assert _snapshot(memory) == before


def test_integer_out_of_range_for_its_width_is_refused(memory: GuestMemoryMmap) -> None:
    with pytest.raises(struct.error):
        memory.write_u16(0, 0x10000)


# Zero-copy slices ----------------------------------------------------------------


def test_get_slice_is_a_writable_view_of_guest_memory(memory: GuestMemoryMmap) -> None:
    view = memory.get_slice(0x1000, 16)
    assert len(view) == 16
    assert not view.readonly
    view[0:4] = b"view"
    assert memory.read(0x1000, 4) == b"view"
    memory.write(0x1004, b"back")
    assert view[4:8].tobytes() == b"back"
    view.release()


def test_get_slice_must_stay_in_one_region(memory: GuestMemoryMmap) -> None:
    with pytest.raises(GuestMemoryError, match="crosses a memory region boundary"):
        memory.get_slice(BOUNDARY - 1, 2)


def test_get_slice_outside_memory_raises(memory: GuestMemoryMmap) -> None:
    with pytest.raises(GuestMemoryError, match="outside guest memory"):
        memory.get_slice(0x5FFF, 2)


def test_get_slices_splits_at_region_boundaries(memory: GuestMemoryMmap) -> None:
    views = memory.get_slices(BOUNDARY - 4, 12)
    assert [len(view) for view in views] == [4, 8]
    views[0][:] = b"1234"
    views[1][:] = b"56789abc"
    assert memory.read(BOUNDARY - 4, 12) == b"123456789abc"
    for view in views:
        view.release()


def test_get_slices_outside_memory_raises(memory: GuestMemoryMmap) -> None:
    with pytest.raises(GuestMemoryError):
        memory.get_slices(0x5000, 0x2000)


def test_vectored_io_goes_straight_into_guest_memory(memory: GuestMemoryMmap) -> None:
    payload = os.urandom(0x3000)
    read_end, write_end = os.pipe()
    try:
        views = memory.get_slices(BOUNDARY - 0x1000, len(payload))
        os.write(write_end, payload)
        assert os.readv(read_end, views) == len(payload)
        assert memory.read(BOUNDARY - 0x1000, len(payload)) == payload
        assert os.writev(write_end, views) == len(payload)
        assert os.read(read_end, len(payload)) == payload
        for view in views:
            view.release()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_accesses_alternating_between_regions_each_land_in_their_own(
    memory: GuestMemoryMmap,
) -> None:
    targets = [0x10, 0x10010, 0x4010, 0x10, 0x10010, 0x3FF0, 0x4010]
    for number, addr in enumerate(targets):
        memory.write_u32(addr, 0xA000 + number)
        assert memory.read_u32(addr) == 0xA000 + number
        assert memory.read(addr, 4) == (0xA000 + number).to_bytes(4, "little")
        assert memory.get_slice(addr, 4).tobytes() == memory.read(addr, 4)
    assert [memory.read_u32(addr) for addr in (0x10, 0x10010, 0x4010, 0x3FF0)] == [
        0xA003,
        0xA004,
        0xA006,
        0xA005,
    ]
