"""virtio-blk against real image files, driven through activate() by a mock driver."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from virtio_harness import Guest
from virtio_queue import MockChain
from vm_devices import DeviceConfigError
from vm_devices.virtio import VIRTIO_F_VERSION_1, DeviceType
from vm_devices.virtio.devices import Block, RequestType, Status
from vm_devices.virtio.devices.block import (
    CONFIG,
    VIRTIO_BLK_F_DISCARD,
    VIRTIO_BLK_F_FLUSH,
    VIRTIO_BLK_F_MQ,
    VIRTIO_BLK_F_RO,
    VIRTIO_BLK_F_WRITE_ZEROES,
)

HEADER = struct.Struct("<IIQ")
SEGMENT = struct.Struct("<QII")
SECTORS = 2048  # a 1 MiB image


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(SECTORS * 512))
    return path


@pytest.fixture
def guest(image: Path) -> Iterator[Guest[Block]]:
    guest = Guest(Block(image, serial="test-disk"))
    guest.activate()
    yield guest
    guest.close()
    guest.device.shutdown()


def submit(
    guest: Guest[Block],
    kind: int,
    sector: int = 0,
    *,
    data: bytes = b"",
    read: int = 0,
    queue: int = 0,
    indirect: bool = False,
) -> MockChain:
    """A well-formed request: header, data (out or in), status byte."""
    readable = [HEADER.pack(kind, 0, sector)] + ([data] if data else [])
    writable = ([read] if read else []) + [1]
    return guest.queues[queue].submit(readable, writable, indirect=indirect)


def status(guest: Guest[Block], chain: MockChain) -> int:
    addr, length = chain.writable[-1]
    return guest.memory.read(addr + length - 1, 1)[0]


def complete(guest: Guest[Block], chain: MockChain, queue: int = 0) -> tuple[int, int]:
    """Wait for ``chain``; (status byte, used length)."""
    (used,) = guest.wait_used(queue, 1)
    assert used.id == chain.head
    return status(guest, chain), used.len


def sectors(image: Path, first: int, count: int) -> bytes:
    return image.read_bytes()[first * 512 : (first + count) * 512]


# Configuration --------------------------------------------------------------------------


def test_config_space_describes_the_image(image: Path) -> None:
    device = Block(image, num_queues=4, queue_size=64)
    config = memoryview(bytearray(CONFIG.size))
    device.read_config(0, config)
    fields = CONFIG.unpack(config)
    assert fields[0] == SECTORS  # capacity
    assert fields[2] == 62  # seg_max: queue size less header and status
    assert fields[6] == 512  # blk_size
    assert fields[13] == 4  # num_queues
    assert fields[14:17] == (0xFFFF_FFFF, 16, 1)  # discard limits
    assert fields[17:20] == (0xFFFF_FFFF, 16, 1)  # write zeroes limits, may unmap
    assert device.device_type == DeviceType.BLOCK
    assert device.queue_max_sizes == (64, 64, 64, 64)
    device.shutdown()


def test_writable_image_offers_flush_discard_write_zeroes_and_mq(image: Path) -> None:
    device = Block(image, num_queues=2)
    features = device.device_features
    assert features & VIRTIO_BLK_F_FLUSH
    assert features & VIRTIO_BLK_F_DISCARD
    assert features & VIRTIO_BLK_F_WRITE_ZEROES
    assert features & VIRTIO_BLK_F_MQ
    assert features & VIRTIO_F_VERSION_1
    assert not features & VIRTIO_BLK_F_RO
    device.shutdown()


def test_readonly_image_offers_ro_and_no_discard(image: Path) -> None:
    device = Block(image, readonly=True)
    assert device.device_features & VIRTIO_BLK_F_RO
    assert not device.device_features & (VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES)
    assert not device.device_features & VIRTIO_BLK_F_MQ
    device.shutdown()


@pytest.mark.parametrize(
    ("option", "value"), [("num_queues", 0), ("queue_size", 100), ("serial", "x" * 21)]
)
def test_bad_options_are_refused_with_the_value(image: Path, option: str, value: object) -> None:
    with pytest.raises(DeviceConfigError) as caught:
        Block(image, **{option: value})  # type: ignore[arg-type]
    assert caught.value.value == value


# Requests -------------------------------------------------------------------------------


@pytest.mark.parametrize("indirect", [False, True])
def test_in_reads_sectors_into_guest_memory(
    guest: Guest[Block], image: Path, indirect: bool
) -> None:
    chain = submit(guest, RequestType.IN, 10, read=4096, indirect=indirect)
    assert complete(guest, chain) == (Status.OK, 4097)
    assert guest.queues[0].driver.read_written(chain, 4096) == sectors(image, 10, 8)


def test_in_fills_a_request_split_over_many_buffers(guest: Guest[Block], image: Path) -> None:
    chain = guest.queues[0].submit([HEADER.pack(RequestType.IN, 0, 3)], [512, 1000, 24, 512, 1])
    assert complete(guest, chain) == (Status.OK, 2049)
    assert guest.queues[0].driver.read_written(chain, 2048) == sectors(image, 3, 4)


def test_out_writes_guest_data_to_the_image(guest: Guest[Block], image: Path) -> None:
    data = os.urandom(8192)
    chain = submit(guest, RequestType.OUT, 100, data=data)
    assert complete(guest, chain) == (Status.OK, 1)
    assert sectors(image, 100, 16) == data


def test_out_takes_data_from_the_header_buffer_too(guest: Guest[Block], image: Path) -> None:
    data = os.urandom(1024)
    chain = guest.queues[0].submit([HEADER.pack(RequestType.OUT, 0, 7) + data], [1])
    assert complete(guest, chain) == (Status.OK, 1)
    assert sectors(image, 7, 2) == data


def test_last_sector_is_readable_and_writable(guest: Guest[Block], image: Path) -> None:
    chain = submit(guest, RequestType.OUT, SECTORS - 1, data=b"\xaa" * 512)
    assert complete(guest, chain) == (Status.OK, 1)
    chain = submit(guest, RequestType.IN, SECTORS - 1, read=512)
    assert complete(guest, chain) == (Status.OK, 513)
    assert guest.queues[0].driver.read_written(chain, 512) == b"\xaa" * 512


def test_flush_answers_ok(guest: Guest[Block]) -> None:
    chain = submit(guest, RequestType.FLUSH)
    assert complete(guest, chain) == (Status.OK, 1)


def test_get_id_returns_the_serial_padded_to_20_bytes(guest: Guest[Block]) -> None:
    chain = submit(guest, RequestType.GET_ID, read=20)
    assert complete(guest, chain) == (Status.OK, 21)
    assert guest.queues[0].driver.read_written(chain, 20) == b"test-disk".ljust(20, b"\0")


def test_default_serial_comes_from_the_image_file(image: Path) -> None:
    info = image.stat()
    device = Block(image)
    assert device.serial == f"{info.st_dev:x}{info.st_rdev:x}{info.st_ino:x}".encode()[:20]
    device.shutdown()


def test_discard_punches_a_hole(guest: Guest[Block], image: Path) -> None:
    before = image.stat().st_blocks
    segment = SEGMENT.pack(0, 1024, 0)
    chain = submit(guest, RequestType.DISCARD, data=segment)
    assert complete(guest, chain) == (Status.OK, 1)
    assert image.stat().st_blocks < before
    assert image.stat().st_size == SECTORS * 512


def test_discard_takes_several_segments(guest: Guest[Block], image: Path) -> None:
    segments = SEGMENT.pack(0, 8, 0) + SEGMENT.pack(512, 8, 0)
    chain = submit(guest, RequestType.DISCARD, data=segments)
    assert complete(guest, chain) == (Status.OK, 1)
    assert sectors(image, 512, 8) == bytes(4096)


@pytest.mark.parametrize("unmap", [0, 1])
def test_write_zeroes_zeroes_the_range(guest: Guest[Block], image: Path, unmap: int) -> None:
    original = image.read_bytes()
    chain = submit(guest, RequestType.WRITE_ZEROES, data=SEGMENT.pack(16, 32, unmap))
    assert complete(guest, chain) == (Status.OK, 1)
    after = image.read_bytes()
    assert after[16 * 512 : 48 * 512] == bytes(32 * 512)
    assert after[: 16 * 512] == original[: 16 * 512]
    assert after[48 * 512 :] == original[48 * 512 :]


def test_unknown_request_type_is_unsupported(guest: Guest[Block]) -> None:
    chain = submit(guest, 99)
    assert complete(guest, chain) == (Status.UNSUPP, 1)


def test_counters_count_bytes_and_operations(guest: Guest[Block]) -> None:
    complete(guest, submit(guest, RequestType.IN, 0, read=4096))
    complete(guest, submit(guest, RequestType.IN, 8, read=512))
    complete(guest, submit(guest, RequestType.OUT, 0, data=bytes(1024)))
    assert guest.device.counters() == {
        "read_bytes": 4608,
        "read_ops": 2,
        "write_bytes": 1024,
        "write_ops": 1,
    }


def test_interrupt_follows_each_batch(guest: Guest[Block]) -> None:
    complete(guest, submit(guest, RequestType.FLUSH))
    assert guest.interrupt.wait_for(0, 1)
    assert guest.interrupt.queues == [0]


def test_event_idx_interrupts_only_past_used_event(image: Path) -> None:
    guest = Guest(Block(image), event_idx=True)
    guest.activate()
    try:
        driver = guest.queues[0].driver
        driver.set_used_event(1)  # interrupt once the second chain is used
        complete(guest, submit(guest, RequestType.FLUSH))
        assert guest.interrupt.count(0) == 0
        complete(guest, submit(guest, RequestType.FLUSH))
        assert guest.interrupt.wait_for(0, 1)
    finally:
        guest.close()
        guest.device.shutdown()


def test_driver_kicking_only_when_asked_gets_every_request_served(image: Path) -> None:
    guest = Guest(Block(image), event_idx=True, kick_when_needed=True)
    guest.activate()
    try:
        chains = [submit(guest, RequestType.IN, i, read=512) for i in range(40)]
        used = guest.wait_used(0, 40)
        assert sorted(u.id for u in used) == sorted(c.head for c in chains)
        assert {status(guest, c) for c in chains} == {Status.OK}
    finally:
        guest.close()
        guest.device.shutdown()


def test_queues_serve_requests_independently(image: Path) -> None:
    guest = Guest(Block(image, num_queues=2))
    guest.activate()
    try:
        first = submit(guest, RequestType.IN, 0, read=512, queue=0)
        second = submit(guest, RequestType.IN, 1, read=512, queue=1)
        assert complete(guest, first, queue=0) == (Status.OK, 513)
        assert complete(guest, second, queue=1) == (Status.OK, 513)
        assert guest.queues[1].driver.read_written(second, 512) == sectors(image, 1, 1)
    finally:
        guest.close()
        guest.device.shutdown()


def test_requests_published_before_activation_are_served(image: Path) -> None:
    guest = Guest(Block(image))
    chain = guest.queues[0].driver.add_request([HEADER.pack(RequestType.FLUSH, 0, 0)], [1])
    guest.activate()  # no kick after this
    try:
        assert complete(guest, chain) == (Status.OK, 1)
    finally:
        guest.close()
        guest.device.shutdown()


# A thick image (--disk sparse=off) ------------------------------------------------------


def test_a_thick_image_is_preallocated_and_offers_no_discard(tmp_path: Path) -> None:
    path = tmp_path / "thick.img"
    with path.open("wb") as file:
        file.truncate(SECTORS * 512)  # all hole
    assert path.stat().st_blocks == 0
    device = Block(path, sparse=False)
    assert path.stat().st_blocks * 512 >= SECTORS * 512
    assert path.stat().st_size == SECTORS * 512
    assert not device.device_features & VIRTIO_BLK_F_DISCARD
    assert device.device_features & VIRTIO_BLK_F_WRITE_ZEROES
    config = memoryview(bytearray(CONFIG.size))
    device.read_config(0, config)
    assert CONFIG.unpack(config)[19] == 0  # write zeroes may not unmap
    device.shutdown()


def test_a_thick_image_keeps_its_storage_on_discard_and_unmapping_zeroes(image: Path) -> None:
    guest = Guest(Block(image, sparse=False))
    guest.activate()
    try:
        allocated = image.stat().st_blocks
        chain = submit(guest, RequestType.WRITE_ZEROES, data=SEGMENT.pack(0, 1024, 1))
        assert complete(guest, chain) == (Status.OK, 1)
        assert sectors(image, 0, 1024) == bytes(1024 * 512)
        # A driver that sends DISCARD although it was not offered changes nothing.
        before = image.read_bytes()
        chain = submit(guest, RequestType.DISCARD, data=SEGMENT.pack(1024, 1024, 0))
        assert complete(guest, chain)[0] == Status.OK
        assert image.read_bytes() == before
        assert image.stat().st_blocks >= allocated
    finally:
        guest.close()
        guest.device.shutdown()


def test_a_thick_readonly_image_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "ro.img"
    with path.open("wb") as file:
        file.truncate(SECTORS * 512)
    Block(path, readonly=True, sparse=False).shutdown()
    assert path.stat().st_blocks == 0
