"""virtio-blk's life: activation, reset, re-activation, shutdown, direct I/O."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from virtio_harness import Guest
from vm_devices.virtio import ActiveQueue
from vm_devices.virtio.devices import ActivationError, Block, RequestType, Status

HEADER = struct.Struct("<IIQ")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(1 << 20))
    return path


def read_sector(guest: Guest[Block], sector: int) -> bytes:
    chain = guest.queues[0].submit([HEADER.pack(RequestType.IN, 0, sector)], [512, 1])
    (used,) = guest.wait_used(0, 1)
    assert (used.id, used.len) == (chain.head, 513)
    assert guest.memory.read(chain.writable[1][0], 1)[0] == Status.OK
    return guest.queues[0].driver.read_written(chain, 512)


def test_reset_stops_serving_the_queues(image: Path) -> None:
    device = Block(image)
    guest = Guest(device)
    guest.activate()
    read_sector(guest, 0)
    device.reset()
    assert not device.active
    guest.queues[0].submit([HEADER.pack(RequestType.IN, 0, 0)], [512, 1])
    guest.assert_idle(0)
    guest.close()
    device.shutdown()


def test_device_serves_again_after_reset_and_keeps_its_counters(image: Path) -> None:
    device = Block(image)
    first = Guest(device)
    first.activate()
    read_sector(first, 0)
    first.close()  # resets the device
    second = Guest(device)
    second.activate()
    assert read_sector(second, 3) == image.read_bytes()[1536:2048]
    assert device.counters()["read_ops"] == 2
    second.close()
    device.shutdown()


def test_activating_twice_is_refused(image: Path) -> None:
    device = Block(image)
    guest = Guest(device)
    guest.activate()
    with pytest.raises(ActivationError, match="twice"):
        guest.activate()
    guest.close()
    device.shutdown()


def test_activating_an_unknown_queue_is_refused(image: Path) -> None:
    device = Block(image)
    guest = Guest(device)
    stray = ActiveQueue(5, guest.queues[0].active.queue, guest.queues[0].active.eventfd)
    with pytest.raises(ActivationError, match="no queue 5"):
        device.activate(guest.memory, guest.interrupt, [stray])
    assert not device.active
    guest.close()
    device.shutdown()


def test_shutdown_releases_the_image(image: Path) -> None:
    device = Block(image)
    device.shutdown()
    assert device.disk.fd == -1
    Block(image).shutdown()  # the lock is gone too


def test_direct_device_reads_and_writes(image: Path) -> None:
    device = Block(image, direct=True)
    guest = Guest(device)
    guest.activate()
    data = os.urandom(4096)
    chain = guest.queues[0].submit([HEADER.pack(RequestType.OUT, 0, 8), data], [1])
    (used,) = guest.wait_used(0, 1)
    assert (used.id, guest.memory.read(chain.writable[0][0], 1)[0]) == (chain.head, Status.OK)
    assert image.read_bytes()[4096:8192] == data
    assert read_sector(guest, 9) == data[512:1024]
    guest.close()
    device.shutdown()
