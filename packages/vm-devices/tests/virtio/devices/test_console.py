"""virtio-console: guest output to a host fd, host input (pipe, terminal) to the guest."""

from __future__ import annotations

import contextlib
import os
import select
import struct
import tty
from collections.abc import Iterator

import pytest
from virtio_harness import Guest
from vm_devices.virtio import DeviceType
from vm_devices.virtio.devices import Console
from vm_devices.virtio.devices.console import (
    VIRTIO_CONSOLE_F_EMERG_WRITE,
    VIRTIO_CONSOLE_F_SIZE,
)

RX, TX = 0, 1
Pipes = tuple[tuple[int, int], tuple[int, int]]


def read_available(fd: int, count: int, timeout: float = 5.0) -> bytes:
    """``count`` bytes from ``fd``, waiting for each piece."""
    out = b""
    while len(out) < count:
        if not select.select([fd], [], [], timeout)[0]:
            break
        out += os.read(fd, count - len(out))
    return out


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    """(guest output read end, write end), (guest input read end, write end)."""
    output = os.pipe()
    input_ = os.pipe()
    yield output, input_
    for fd in (*output, *input_):
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest.fixture
def guest(pipes: Pipes) -> Iterator[Guest[Console]]:
    (_, out_w), (in_r, _) = pipes
    guest = Guest(Console(out_w, in_r, cols=80, rows=25))
    guest.activate()
    yield guest
    guest.close()


def test_console_has_two_queues_and_one_port() -> None:
    device = Console(None, cols=132, rows=50)
    assert device.device_type == DeviceType.CONSOLE
    assert device.queue_max_sizes == (256, 256)
    config = memoryview(bytearray(12))
    device.read_config(0, config)
    assert struct.unpack("<HHII", config) == (132, 50, 1, 0)
    assert device.device_features & VIRTIO_CONSOLE_F_SIZE


def test_size_is_offered_only_when_known() -> None:
    assert not Console(None).device_features & VIRTIO_CONSOLE_F_SIZE


def test_guest_output_reaches_the_output_fd(guest: Guest[Console], pipes: Pipes) -> None:
    (out_r, _), _ = pipes
    chain = guest.queues[TX].submit([b"hello, ", b"world\n"])
    (used,) = guest.wait_used(TX, 1)
    assert (used.id, used.len) == (chain.head, 0)
    assert read_available(out_r, 13) == b"hello, world\n"
    assert guest.device.counters()["tx_bytes"] == 13


def test_output_without_an_fd_is_dropped() -> None:
    guest = Guest(Console(None))
    guest.activate()
    try:
        guest.queues[TX].submit([b"lost"])
        assert guest.wait_used(TX, 1)[0].len == 0
        assert guest.device.counters()["tx_bytes"] == 4
    finally:
        guest.close()


def test_host_input_fills_the_guest_receive_buffer(guest: Guest[Console], pipes: Pipes) -> None:
    _, (_, in_w) = pipes
    chain = guest.queues[RX].submit(writable=[64])
    os.write(in_w, b"ls -l\n")
    (used,) = guest.wait_used(RX, 1)
    assert (used.id, used.len) == (chain.head, 6)
    assert guest.queues[RX].driver.read_written(chain, 6) == b"ls -l\n"
    assert guest.interrupt.wait_for(RX, 1)


def test_input_waits_for_the_guest_to_post_buffers(guest: Guest[Console], pipes: Pipes) -> None:
    _, (_, in_w) = pipes
    os.write(in_w, b"early")
    guest.assert_idle(RX)
    chain = guest.queues[RX].submit(writable=[64])  # submit kicks the queue
    (used,) = guest.wait_used(RX, 1)
    assert guest.queues[RX].driver.read_written(chain, used.len) == b"early"


def test_input_larger_than_a_buffer_continues_in_the_next(
    guest: Guest[Console], pipes: Pipes
) -> None:
    _, (_, in_w) = pipes
    first = guest.queues[RX].submit(writable=[4])
    second = guest.queues[RX].submit(writable=[16])
    os.write(in_w, b"abcdefgh")
    lengths = [u.len for u in guest.wait_used(RX, 2)]
    assert lengths == [4, 4]
    driver = guest.queues[RX].driver
    assert driver.read_written(first, 4) + driver.read_written(second, 4) == b"abcdefgh"


def test_end_of_input_stops_reading_but_output_goes_on(guest: Guest[Console], pipes: Pipes) -> None:
    (out_r, _), (_, in_w) = pipes
    os.close(in_w)
    guest.queues[RX].submit(writable=[16])
    guest.assert_idle(RX)
    guest.queues[TX].submit([b"still here"])
    guest.wait_used(TX, 1)
    assert read_available(out_r, 10) == b"still here"


def test_input_from_a_terminal(pipes: Pipes) -> None:
    (_, out_w), _ = pipes
    controller, terminal = os.openpty()
    tty.setraw(terminal)
    guest = Guest(Console(out_w, terminal))
    guest.activate()
    try:
        chain = guest.queues[RX].submit(writable=[32])
        os.write(controller, b"\x03q")  # raw: Ctrl-C is just a byte for the guest
        (used,) = guest.wait_used(RX, 1)
        assert guest.queues[RX].driver.read_written(chain, used.len) == b"\x03q"
    finally:
        guest.close()
        os.close(controller)
        os.close(terminal)


def test_resize_changes_the_config_and_interrupts(guest: Guest[Console]) -> None:
    guest.device.resize(100, 40)
    config = memoryview(bytearray(4))
    guest.device.read_config(0, config)
    assert struct.unpack("<HH", config) == (100, 40)
    assert guest.interrupt.config == 1


def test_emergency_write_goes_straight_out(guest: Guest[Console], pipes: Pipes) -> None:
    (out_r, _), _ = pipes
    assert guest.device.device_features & VIRTIO_CONSOLE_F_EMERG_WRITE
    guest.device.write_config(8, struct.pack("<I", ord("!")))
    assert read_available(out_r, 1) == b"!"


def test_transmit_chain_without_readable_data_writes_nothing(
    guest: Guest[Console], pipes: Pipes
) -> None:
    (out_r, _), _ = pipes
    guest.queues[TX].submit(writable=[16])
    guest.queues[TX].submit([b"ok"])
    assert [u.len for u in guest.wait_used(TX, 2)] == [0, 0]
    assert read_available(out_r, 2) == b"ok"


def test_receive_chain_without_writable_buffers_is_returned_empty(
    guest: Guest[Console],
    pipes: Pipes,
) -> None:
    _, (_, in_w) = pipes
    bad = guest.queues[RX].submit([b"readable only"])
    good = guest.queues[RX].submit(writable=[8])
    os.write(in_w, b"x")
    used = guest.wait_used(RX, 2)
    assert [(u.id, u.len) for u in used] == [(bad.head, 0), (good.head, 1)]
