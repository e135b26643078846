"""virtio-blk against a hostile driver: every bad request fails alone, with a
status when there is a place for one, and the device goes on serving."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from virtio_harness import Guest
from virtio_queue import MockChain
from vm_devices.virtio.devices import Block, RequestType, Status

HEADER = struct.Struct("<IIQ")
SEGMENT = struct.Struct("<QII")
SECTORS = 2048
IN, OUT = RequestType.IN, RequestType.OUT
DISCARD, WRITE_ZEROES = RequestType.DISCARD, RequestType.WRITE_ZEROES


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(SECTORS * 512))
    return path


def make_guest(image: Path, **options: object) -> Iterator[Guest[Block]]:
    guest = Guest(Block(image, **options))  # type: ignore[arg-type]
    guest.activate()
    yield guest
    guest.close()
    guest.device.shutdown()


@pytest.fixture
def guest(image: Path) -> Iterator[Guest[Block]]:
    yield from make_guest(image)


@pytest.fixture
def readonly_guest(image: Path) -> Iterator[Guest[Block]]:
    yield from make_guest(image, readonly=True)


def answer(guest: Guest[Block], chain: MockChain) -> tuple[int, int]:
    """(status byte, used length) of ``chain`` once the device returned it."""
    (used,) = guest.wait_used(0, 1)
    assert used.id == chain.head
    addr, length = chain.writable[-1]
    return guest.memory.read(addr + length - 1, 1)[0], used.len


def still_serving(guest: Guest[Block], image: Path) -> None:
    """A good request after the bad one is answered, with the right data."""
    chain = guest.queues[0].submit([HEADER.pack(IN, 0, 5)], [512, 1])
    assert answer(guest, chain) == (Status.OK, 513)
    assert guest.queues[0].driver.read_written(chain, 512) == image.read_bytes()[2560:3072]


# Chains of the wrong shape --------------------------------------------------------------

SHAPES = {
    "header too short": ([HEADER.pack(IN, 0, 0)[:8]], [512, 1]),
    "no readable header": ((), [512, 1]),
    "read with its data readable": ([HEADER.pack(IN, 0, 0), bytes(512)], [1]),
    "write with its data writable": ([HEADER.pack(OUT, 0, 0)], [512, 1]),
    "flush with extra writable bytes": ([HEADER.pack(RequestType.FLUSH, 0, 0)], [512, 1]),
    "get id with readable data": ([HEADER.pack(RequestType.GET_ID, 0, 0), bytes(20)], [20, 1]),
    "discard with writable data": ([HEADER.pack(DISCARD, 0, 0), SEGMENT.pack(0, 8, 0)], [16, 1]),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_chain_of_the_wrong_shape_gets_ioerr(guest: Guest[Block], image: Path, shape: str) -> None:
    original = image.read_bytes()
    readable, writable = SHAPES[shape]
    chain = guest.queues[0].submit(readable, writable)
    assert answer(guest, chain) == (Status.IOERR, 1)
    assert image.read_bytes() == original
    still_serving(guest, image)


def test_chain_without_a_status_byte_is_returned_empty(guest: Guest[Block], image: Path) -> None:
    chain = guest.queues[0].submit([HEADER.pack(IN, 0, 0)])
    (used,) = guest.wait_used(0, 1)
    assert (used.id, used.len) == (chain.head, 0)
    still_serving(guest, image)


def test_status_is_the_last_byte_of_a_shared_data_buffer(guest: Guest[Block], image: Path) -> None:
    chain = guest.queues[0].submit([HEADER.pack(IN, 0, 1)], [513])
    assert answer(guest, chain) == (Status.OK, 513)
    assert guest.queues[0].driver.read_written(chain, 512) == image.read_bytes()[512:1024]


# Ranges -----------------------------------------------------------------------------------

RANGES = {
    "first sector past the end": (IN, SECTORS, 512),
    "read running past the end": (IN, SECTORS - 1, 1024),
    "write running past the end": (OUT, SECTORS - 1, 1024),
    "sector near 2**64": (IN, 2**64 - 1, 512),
    "read of a partial sector": (IN, 0, 100),
    "write of a partial sector": (OUT, 0, 700),
    "read larger than the disk": (IN, 0, 4 << 20),
}


@pytest.mark.parametrize("case", sorted(RANGES))
def test_out_of_range_or_partial_sector_gets_ioerr(
    guest: Guest[Block], image: Path, case: str
) -> None:
    original = image.read_bytes()
    kind, sector, length = RANGES[case]
    header = HEADER.pack(kind, 0, sector)
    if kind == IN:
        chain = guest.queues[0].submit([header], [length, 1])
    else:
        chain = guest.queues[0].submit([header, os.urandom(length)], [1])
    assert answer(guest, chain) == (Status.IOERR, 1)
    assert image.read_bytes() == original
    still_serving(guest, image)


# Discard and write zeroes ---------------------------------------------------------------

SEGMENT_CASES = {
    "discard with the unmap flag": (DISCARD, SEGMENT.pack(0, 8, 1), Status.UNSUPP),
    "write zeroes with an unknown flag": (WRITE_ZEROES, SEGMENT.pack(0, 8, 2), Status.UNSUPP),
    "no segment": (DISCARD, b"", Status.IOERR),
    "a partial segment": (DISCARD, SEGMENT.pack(0, 8, 0)[:12], Status.IOERR),
    "more segments than max_discard_seg": (DISCARD, SEGMENT.pack(0, 1, 0) * 17, Status.IOERR),
    "a segment past the end": (WRITE_ZEROES, SEGMENT.pack(SECTORS - 4, 8, 0), Status.IOERR),
    "a bad segment after a good one": (
        WRITE_ZEROES,
        SEGMENT.pack(0, 8, 0) + SEGMENT.pack(2**63, 8, 0),
        Status.IOERR,
    ),
}


@pytest.mark.parametrize("case", sorted(SEGMENT_CASES))
def test_bad_discard_or_write_zeroes_changes_nothing(
    guest: Guest[Block], image: Path, case: str
) -> None:
    original = image.read_bytes()
    kind, segments, expected = SEGMENT_CASES[case]
    chain = guest.queues[0].submit([HEADER.pack(kind, 0, 0) + segments], [1])
    assert answer(guest, chain) == (expected, 1)
    assert image.read_bytes() == original
    still_serving(guest, image)


# Read-only disks and host errors --------------------------------------------------------

READONLY_CASES = {
    "write": ([HEADER.pack(OUT, 0, 0), bytes(512)], [1]),
    "discard": ([HEADER.pack(DISCARD, 0, 0), SEGMENT.pack(0, 8, 0)], [1]),
    "write zeroes": ([HEADER.pack(WRITE_ZEROES, 0, 0), SEGMENT.pack(0, 8, 0)], [1]),
}


@pytest.mark.parametrize("case", sorted(READONLY_CASES))
def test_readonly_disk_refuses_changes_with_ioerr(
    readonly_guest: Guest[Block], image: Path, case: str
) -> None:
    original = image.read_bytes()
    readable, writable = READONLY_CASES[case]
    chain = readonly_guest.queues[0].submit(readable, writable)
    assert answer(readonly_guest, chain) == (Status.IOERR, 1)
    assert image.read_bytes() == original
    still_serving(readonly_guest, image)


def test_host_read_error_becomes_ioerr(guest: Guest[Block], image: Path) -> None:
    os.truncate(image, 1024 * 512)  # someone shrank the image under the device
    chain = guest.queues[0].submit([HEADER.pack(IN, 0, 1500)], [512, 1])
    assert answer(guest, chain) == (Status.IOERR, 1)
    still_serving(guest, image)


# Malformed chains and rings -------------------------------------------------------------


def test_looping_chain_is_returned_empty(guest: Guest[Block], image: Path) -> None:
    driver = guest.queues[0].driver
    buffer = driver.alloc(16)
    head = driver.add_chain([(buffer, 16)], [(driver.alloc(1), 1)])
    second = driver.read_descriptor(head).next
    driver.write_descriptor(second, driver.read_descriptor(second)._replace(flags=3, next=head))
    guest.queues[0].kick()
    (used,) = guest.wait_used(0, 1)
    assert (used.id, used.len) == (head, 0)
    still_serving(guest, image)


def test_buffer_outside_guest_memory_is_returned_empty(guest: Guest[Block], image: Path) -> None:
    driver = guest.queues[0].driver
    head = driver.add_chain([(driver.alloc(16), 16)], [(1 << 40, 513)])
    guest.queues[0].kick()
    (used,) = guest.wait_used(0, 1)
    assert (used.id, used.len) == (head, 0)
    still_serving(guest, image)


def test_head_index_outside_the_table_is_skipped(guest: Guest[Block], image: Path) -> None:
    guest.queues[0].driver.publish(4000)
    guest.queues[0].kick()
    still_serving(guest, image)


def test_avail_index_running_ahead_stops_only_that_queue(image: Path) -> None:
    for guest in make_guest(image, num_queues=2):
        broken = guest.queues[1].driver
        broken.set_avail_idx(broken.avail_idx + 1000)
        guest.queues[1].kick()
        still_serving(guest, image)  # queue 0
        guest.assert_idle(1)
        assert guest.device.needs_reset
