"""virtio-rng: guest buffers filled from the host source, driven through activate()."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from virtio_harness import Guest
from vm_devices import DeviceConfigError
from vm_devices.virtio import DeviceType
from vm_devices.virtio.devices import Rng
from vm_devices.virtio.devices.rng import MAX_REQUEST_BYTES

SOURCE = bytes(range(256)) * 1024  # 256 KiB of known "entropy"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "entropy"
    path.write_bytes(SOURCE)
    return path


def start(src: str | Path) -> Guest[Rng]:
    guest = Guest(Rng(src))
    guest.activate()
    return guest


@pytest.fixture
def guest(source: Path) -> Iterator[Guest[Rng]]:
    guest = start(source)
    yield guest
    guest.close()
    guest.device.shutdown()


def test_rng_is_device_type_4_with_one_queue(source: Path) -> None:
    device = Rng(source)
    assert (device.device_type, device.queue_max_sizes) == (DeviceType.RNG, (256,))
    device.shutdown()


def test_buffers_are_filled_from_the_source_in_order(guest: Guest[Rng]) -> None:
    first = guest.queues[0].submit(writable=[100])
    (used,) = guest.wait_used(0, 1)
    assert (used.id, used.len) == (first.head, 100)
    second = guest.queues[0].submit(writable=[50, 30])
    (used,) = guest.wait_used(0, 1)
    assert (used.id, used.len) == (second.head, 80)
    assert guest.queues[0].driver.read_written(first, 100) == SOURCE[:100]
    assert guest.queues[0].driver.read_written(second, 80) == SOURCE[100:180]
    assert guest.interrupt.wait_for(0, 2)


def test_default_source_is_urandom() -> None:
    guest = start("/dev/urandom")
    try:
        chain = guest.queues[0].submit(writable=[4096])
        (used,) = guest.wait_used(0, 1)
        assert used.len == 4096
        assert guest.queues[0].driver.read_written(chain, 4096) != bytes(4096)
    finally:
        guest.close()
        guest.device.shutdown()


def test_a_huge_request_gets_at_most_the_limit(guest: Guest[Rng]) -> None:
    guest.queues[0].submit(writable=[MAX_REQUEST_BYTES * 2])
    (used,) = guest.wait_used(0, 1)
    assert used.len == MAX_REQUEST_BYTES


def test_chain_without_writable_buffers_gets_nothing(guest: Guest[Rng]) -> None:
    bad = guest.queues[0].submit(readable=[b"x" * 16])
    good = guest.queues[0].submit(writable=[8])
    assert [(u.id, u.len) for u in guest.wait_used(0, 2)] == [(bad.head, 0), (good.head, 8)]
    assert guest.queues[0].driver.read_written(good, 8) == SOURCE[:8]


def test_malformed_chain_is_returned_empty_and_serving_goes_on(guest: Guest[Rng]) -> None:
    driver = guest.queues[0].driver
    bad = driver.add_chain(writable=[(1 << 40, 64)])  # outside guest memory
    good = guest.queues[0].submit(writable=[8])
    assert [(u.id, u.len) for u in guest.wait_used(0, 2)] == [(bad, 0), (good.head, 8)]


def test_source_at_its_end_gives_empty_buffers(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(b"0123456789")
    guest = start(path)
    try:
        guest.queues[0].submit(writable=[8])
        guest.queues[0].submit(writable=[8])
        guest.queues[0].submit(writable=[8])
        assert [u.len for u in guest.wait_used(0, 3)] == [8, 2, 0]
    finally:
        guest.close()
        guest.device.shutdown()


def test_counters_count_bytes_and_requests(guest: Guest[Rng]) -> None:
    guest.queues[0].submit(writable=[10])
    guest.queues[0].submit(writable=[20])
    guest.wait_used(0, 2)
    assert guest.device.counters() == {"bytes": 30, "requests": 2}


def test_unreadable_source_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceConfigError) as caught:
        Rng(tmp_path / "missing")
    assert caught.value.name == "src"


def test_shutdown_closes_the_source(source: Path) -> None:
    device = Rng(source)
    fd = device.fd
    device.shutdown()
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


def test_a_paused_device_serves_no_request_until_resumed(guest: Guest[Rng]) -> None:
    guest.device.pause()
    chain = guest.queues[0].submit(writable=[16])
    guest.assert_idle(0)
    guest.device.resume()
    (used,) = guest.wait_used(0, 1)
    assert (used.id, used.len) == (chain.head, 16)


def test_a_paused_device_can_be_reset(guest: Guest[Rng]) -> None:
    guest.device.pause()
    guest.device.reset()
    assert not guest.device.active
