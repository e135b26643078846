"""Property: a Reader or Writer over any split of a buffer into views behaves
like a position in one flat byte string, whatever the sequence of calls."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from virtio_queue import ChainTooShortError, Reader, Writer

PAIR = struct.Struct("<HB")

LENGTHS = st.lists(st.integers(1, 24), min_size=0, max_size=6)
COUNTS = st.integers(0, 40)
READS = st.lists(
    st.tuples(st.sampled_from(["read", "read_into", "read_exact_into", "skip", "struct"]), COUNTS),
    max_size=12,
)
WRITES = st.lists(
    st.tuples(st.sampled_from(["write", "write_all", "skip", "struct"]), COUNTS), max_size=12
)


def split(backing: bytearray, lengths: list[int]) -> list[memoryview]:
    views, start = [], 0
    whole = memoryview(backing)
    for length in lengths:
        views.append(whole[start : start + length])
        start += length
    return views


def read_exactly(reader: Reader, call: str, size: int) -> bytes:
    """One all-or-nothing read of ``size`` bytes; what it returned."""
    if call == "read_exact_into":
        target = bytearray(size)
        reader.read_exact_into(target)
        return bytes(target)
    if call == "skip":
        reader.skip(size)
        return b""
    return PAIR.pack(*reader.read_struct(PAIR))


def write_exactly(writer: Writer, call: str, payload: bytes) -> bytes | None:
    """One all-or-nothing write of ``payload``; the bytes it stored (None: skipped)."""
    if call == "write_all":
        writer.write_all(payload)
        return payload
    if call == "skip":
        writer.skip(len(payload))
        return None
    writer.write_struct(PAIR, *PAIR.unpack(payload))
    return payload


@settings(max_examples=300, deadline=None)
@given(lengths=LENGTHS, calls=READS)
def test_a_reader_reads_like_a_flat_byte_string(
    lengths: list[int], calls: list[tuple[str, int]]
) -> None:
    data = bytearray(bytes(range(7, 7 + sum(lengths))))
    reader = Reader(split(data, lengths), len(data))
    position = 0
    for call, count in calls:
        left = len(data) - position
        if call == "read":
            assert reader.read(count) == data[position : position + count]
            position += min(count, left)
        elif call == "read_into":
            target = bytearray(count)
            moved = reader.read_into(target)
            assert moved == min(count, left)
            assert target[:moved] == data[position : position + moved]
            position += moved
        else:
            size = PAIR.size if call == "struct" else count
            if size > left:
                with pytest.raises(ChainTooShortError):  # and nothing moves
                    read_exactly(reader, call, size)
            else:
                got = read_exactly(reader, call, size)
                assert call == "skip" or got == data[position : position + size]
                position += size
        assert reader.available_bytes == len(data) - position
        assert reader.bytes_read == position
    assert reader.read() == data[position:]


@settings(max_examples=300, deadline=None)
@given(lengths=LENGTHS, calls=WRITES)
def test_a_writer_writes_like_a_flat_byte_string(
    lengths: list[int], calls: list[tuple[str, int]]
) -> None:
    backing = bytearray(sum(lengths))
    expected = bytearray(len(backing))
    writer = Writer(split(backing, lengths), len(backing))
    position = 0
    for step, (call, count) in enumerate(calls):
        left = len(backing) - position
        payload = PAIR.pack(step, 0x5A) if call == "struct" else bytes([step + 1]) * count
        if call == "write":
            moved = writer.write(payload)
            assert moved == min(count, left)
            expected[position : position + moved] = payload[:moved]
            position += moved
        elif len(payload) > left:
            with pytest.raises(ChainTooShortError):  # and nothing moves
                write_exactly(writer, call, payload)
        else:
            stored = write_exactly(writer, call, payload)
            if stored is not None:
                expected[position : position + len(stored)] = stored
            position += len(payload)
        assert backing == expected
        assert writer.bytes_written == position
        assert writer.available_bytes == len(backing) - position
