"""Reader and Writer: a chain's buffers as one stream, moved without copies."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from virtio_queue import (
    IOV_MAX,
    ChainTooShortError,
    DescriptorChain,
    MockChain,
    MockSplitQueue,
    Queue,
    UnexpectedEofError,
    Writer,
)
from virtio_queue import io as io_module
from vm_memory import GuestMemory, GuestMemoryMmap

HEADER = struct.Struct("<IIQ")  # a virtio-blk request header


def pop(memory: GuestMemory, queue: Queue) -> DescriptorChain:
    chain = queue.pop_descriptor_chain(memory)
    assert chain is not None
    return chain


@pytest.fixture
def big_driver(memory: GuestMemoryMmap) -> MockSplitQueue:
    """A queue large enough for chains longer than IOV_MAX."""
    return MockSplitQueue(memory, 2048)


@pytest.fixture
def data_file(tmp_path: Path) -> Iterator[int]:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(range(256)) * 64)  # 16 KiB
    fd = os.open(path, os.O_RDWR)
    yield fd
    os.close(fd)


def test_reading_crosses_descriptor_boundaries(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.add_request([b"abc", b"defgh", b"ij"])
    reader = pop(memory, queue).reader()
    assert reader.read(4) == b"abcd"
    buffer = bytearray(5)
    assert reader.read_into(buffer) == 5
    assert buffer == b"efghi"
    assert reader.read() == b"j"
    assert (reader.bytes_read, reader.available_bytes) == (10, 0)
    assert reader.read() == b""


def test_read_struct_parses_a_header_split_over_buffers(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    header = HEADER.pack(1, 0, 42)
    driver.add_request([header[:5], header[5:]])
    assert pop(memory, queue).reader().read_struct(HEADER) == (1, 0, 42)


def test_asking_for_more_than_the_chain_holds_moves_nothing(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.add_request([b"short"], [2])
    chain = pop(memory, queue)
    reader, writer = chain.reader(), chain.writer()
    with pytest.raises(ChainTooShortError) as error:
        reader.read_exact_into(bytearray(6))
    assert (error.value.wanted, error.value.available, error.value.direction) == (6, 5, "readable")
    assert reader.bytes_read == 0
    with pytest.raises(ChainTooShortError):
        writer.write_all(b"abc")
    with pytest.raises(ChainTooShortError):
        reader.read_struct(HEADER)
    assert writer.bytes_written == 0


def test_writing_crosses_descriptor_boundaries(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    request = driver.add_request([], [3, 4, 5])
    writer = pop(memory, queue).writer()
    assert writer.write(b"0123456") == 7
    writer.write_struct(struct.Struct("<H"), 0x4241)
    assert writer.write(b"xyz") == 3 - 0  # only three bytes were left
    assert writer.bytes_written == 12
    assert driver.read_written(request, 12) == b"0123456ABxyz"


def test_split_at_separates_data_from_a_status_byte(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    request = driver.add_request([], [6, 3])  # 8 bytes of data, 1 status byte
    writer = pop(memory, queue).writer()
    status = writer.split_at(8)
    assert (writer.available_bytes, status.available_bytes) == (8, 1)
    status.write(b"\x00")
    writer.write_all(b"datadata")
    assert writer.bytes_written + status.bytes_written == 9
    assert driver.read_written(request, 9) == b"datadata\x00"


def test_views_and_skip_give_zero_copy_access(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    request = driver.add_request([b"hello", b"world"])
    reader = pop(memory, queue).reader()
    reader.skip(3)
    views = reader.views(4)
    assert [bytes(view) for view in views] == [b"lo", b"wo"]
    memory.write(request.readable[1][0], b"W")
    assert bytes(views[1]) == b"Wo"  # the same memory, not a copy
    assert reader.bytes_read == 3


def test_preadv_fills_guest_buffers_straight_from_a_file(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue, data_file: int
) -> None:
    request = driver.add_request([], [100, 4000, 96])
    writer = pop(memory, queue).writer()
    writer.write_all_from_at(data_file, 4196, 10)
    expected = (bytes(range(256)) * 64)[10 : 10 + 4196]
    assert driver.read_written(request, 4196) == expected
    assert writer.bytes_written == 4196


def test_pwritev_writes_guest_buffers_straight_to_a_file(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue, data_file: int
) -> None:
    driver.add_request([b"AAAA", b"BBBBBB"])
    pop(memory, queue).reader().read_exact_to_at(data_file, 10, 100)
    assert os.pread(data_file, 12, 99) == bytes([99]) + b"AAAABBBBBB" + bytes([110])


def test_readv_and_writev_move_data_through_a_socket(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    driver.add_request([b"ping", b"-pong"])
    incoming = driver.add_request([], [2, 7])
    left, right = socket.socketpair()
    with left, right:
        pop(memory, queue).reader().read_exact_to(left, 9)
        pop(memory, queue).writer().write_all_from(right, 9)
    assert driver.read_written(incoming, 9) == b"ping-pong"


def test_one_call_moves_at_most_what_the_kernel_returns(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    incoming = driver.add_request([], [8])
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"abc")
        writer = pop(memory, queue).writer()
        assert writer.write_from(read_end, 8) == 3  # a short read is returned as is
        os.write(write_end, b"defgh")
        assert writer.write_from(read_end, 5) == 5
        assert driver.read_written(incoming, 8) == b"abcdefgh"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_short_reads_are_retried_until_done(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue
) -> None:
    incoming = driver.add_request([], [3, 3])
    left, right = socket.socketpair()
    with left, right:
        left.send(b"abcd")  # the first readv gets these four bytes only
        later = threading.Timer(0.2, left.send, [b"ef"])
        later.start()
        writer = pop(memory, queue).writer()
        writer.write_all_from(right, 6)
        later.join()
    assert driver.read_written(incoming, 6) == b"abcdef"
    assert writer.bytes_written == 6


@pytest.mark.parametrize("direction", ["preadv", "pwritev"])
@pytest.mark.usefixtures("memory")
def test_a_short_positioned_transfer_is_continued_where_it_stopped(
    driver: MockSplitQueue,
    queue: Queue,
    data_file: int,
    monkeypatch: pytest.MonkeyPatch,
    direction: str,
) -> None:
    memory = driver.memory
    calls: list[int] = []

    def five_bytes_at_a_time(fd: int, buffers: list[memoryview], offset: int) -> int:
        calls.append(offset)
        real = os.preadv if direction == "preadv" else os.pwritev
        return real(fd, [memoryview(buffers[0]).cast("B")[:5]], offset)

    monkeypatch.setattr(io_module, f"_{direction}", five_bytes_at_a_time)
    if direction == "preadv":
        request = driver.add_request([], [8, 4])
        writer = pop(memory, queue).writer()
        writer.write_all_from_at(data_file, 12, 100)
        assert driver.read_written(request, 12) == os.pread(data_file, 12, 100)
        assert writer.bytes_written == 12
    else:
        driver.add_request([b"abcdefgh", b"ijkl"])
        reader = pop(memory, queue).reader()
        reader.read_exact_to_at(data_file, 12, 100)
        assert os.pread(data_file, 12, 100) == b"abcdefghijkl"
        assert reader.bytes_read == 12
    assert calls == [100, 105, 108]  # 5 bytes, the 3 left of the first buffer, the second


def test_end_of_file_before_the_count_is_an_error(
    memory: GuestMemoryMmap, driver: MockSplitQueue, queue: Queue, data_file: int
) -> None:
    driver.add_request([], [64])
    writer = pop(memory, queue).writer()
    with pytest.raises(UnexpectedEofError) as error:
        writer.write_all_from_at(data_file, 64, 16384 - 10)
    assert (error.value.wanted, error.value.done) == (64, 10)
    assert writer.bytes_written == 10  # what arrived stays written


def test_chains_longer_than_iov_max_take_several_calls(
    memory: GuestMemoryMmap, big_driver: MockSplitQueue, data_file: int
) -> None:
    queue = big_driver.create_queue()
    count = IOV_MAX + 10
    request = big_driver.add_request([], [4] * count)
    writer = pop(memory, queue).writer()
    assert writer.write_from_at(data_file, 4 * count, 0) == 4 * IOV_MAX
    writer.write_all_from_at(data_file, 40, 4 * IOV_MAX)
    assert big_driver.read_written(request, 4 * count) == (bytes(range(256)) * 64)[: 4 * count]
    del writer
    assert isinstance(request, MockChain)


def test_pwritev_of_more_than_iov_max_buffers_writes_them_all(
    memory: GuestMemoryMmap, big_driver: MockSplitQueue, data_file: int
) -> None:
    queue = big_driver.create_queue()
    count = IOV_MAX + 1
    big_driver.add_request([bytes([i % 251]) for i in range(count)])
    pop(memory, queue).reader().read_exact_to_at(data_file, count, 0)
    assert os.pread(data_file, count, 0) == bytes(i % 251 for i in range(count))


def test_a_writer_can_be_made_from_any_views() -> None:
    target = bytearray(6)
    view = memoryview(target)
    writer = Writer([view[:2], view[2:]], 6)
    writer.write_all(b"python")
    assert target == b"python"
