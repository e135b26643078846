"""virtio-net against a hostile driver: bad chains are dropped alone, the
control queue answers ERR, and frames keep flowing."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from net_harness import (
    GUEST_MAC,
    PLAIN,
    NetGuest,
    NetNamespace,
    experimental_frame,
    host_receives,
)
from vm_devices.virtio.devices import net_defs as d

pytestmark = pytest.mark.skipif(
    not Path("/dev/net/tun").exists(), reason="no /dev/net/tun on this host"
)
CTRL = 2


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    namespace = NetNamespace()
    yield namespace
    namespace.close()


@pytest.fixture
def net(netns: NetNamespace) -> Iterator[NetGuest]:
    guest = NetGuest(netns)
    yield guest
    guest.close()


def still_transmits(net: NetGuest) -> None:
    frame = experimental_frame(GUEST_MAC, b"still flowing" * 8)
    net.send(frame)
    assert host_receives(net.host, b"still flowing") == frame


def still_receives(net: NetGuest) -> None:
    """A frame from the host still reaches the guest (after any that waited)."""
    net.post(2048)
    frame = experimental_frame(net.host_mac, b"still arriving" * 8, GUEST_MAC)
    net.host.send(frame)
    while True:
        (data,) = net.receive()
        if data[12:] == frame:
            return
        net.post(2048)


# Transmit -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "readable", [[b"\0" * 12], [b"\0" * 5], []], ids=["header only", "short header", "nothing"]
)
def test_transmit_without_a_frame_is_dropped(net: NetGuest, readable: list[bytes]) -> None:
    chain = net.guest.queues[1].submit(readable, [] if readable else [64])
    (used,) = net.guest.wait_used(1, 1)
    assert (used.id, used.len) == (chain.head, 0)
    assert net.device.counters()["tx_dropped"] == 1
    still_transmits(net)


def test_transmit_chain_outside_memory_is_dropped(net: NetGuest) -> None:
    head = net.guest.queues[1].driver.add_chain([(1 << 40, 100)])
    net.guest.queues[1].kick()
    (used,) = net.guest.wait_used(1, 1)
    assert (used.id, used.len) == (head, 0)
    still_transmits(net)


def test_malformed_offload_header_is_dropped_by_the_tap(net: NetGuest) -> None:
    header = struct.pack("<BBHHHHH", 0, 0x55, 0, 0, 0, 0, 0)  # no such GSO type
    net.guest.queues[1].submit([header, experimental_frame(GUEST_MAC, b"x" * 60)])
    net.guest.wait_used(1, 1)
    assert net.device.counters()["tx_dropped"] == 1
    still_transmits(net)


def test_broken_transmit_ring_stops_only_that_queue(net: NetGuest) -> None:
    driver = net.guest.queues[1].driver
    driver.set_avail_idx(driver.avail_idx + 5000)
    net.guest.queues[1].kick()
    net.guest.assert_idle(1)
    assert net.device.needs_reset
    still_receives(net)


# Receive ------------------------------------------------------------------------------------


def test_receive_buffer_smaller_than_a_header_is_returned_empty(net: NetGuest) -> None:
    net.post(8)
    frame = experimental_frame(net.host_mac, b"y" * 60, GUEST_MAC)
    net.host.send(frame)
    (used,) = net.guest.wait_used(0, 1)
    assert used.len == 0
    net.posted.pop(used.id)
    net.post(2048)
    (data,) = net.receive()
    assert data[12:] == frame


def test_frame_too_large_for_the_buffer_is_dropped_and_the_buffer_kept(net: NetGuest) -> None:
    net.post(200)  # without mergeable buffers a frame takes one chain
    net.host.send(experimental_frame(net.host_mac, b"z" * 1000, GUEST_MAC))
    small = experimental_frame(net.host_mac, b"fits", GUEST_MAC)
    net.host.send(small)
    (data,) = net.receive()
    assert data[12:] == small
    assert net.device.counters()["rx_dropped"] == 1


def test_frame_filling_its_buffer_exactly_is_delivered(net: NetGuest) -> None:
    frame = experimental_frame(net.host_mac, b"e" * 186, GUEST_MAC)  # 200 bytes
    net.post(12 + len(frame))
    net.host.send(frame)
    (data,) = net.receive()
    assert data[12:] == frame
    assert net.device.counters()["rx_dropped"] == 0


def test_receive_chain_with_readable_buffers_only_is_returned_empty(net: NetGuest) -> None:
    bad = net.guest.queues[0].submit([b"\0" * 64])
    net.host.send(experimental_frame(net.host_mac, b"w" * 60, GUEST_MAC))
    (used,) = net.guest.wait_used(0, 1)
    assert (used.id, used.len) == (bad.head, 0)
    still_receives(net)


# Control queue ------------------------------------------------------------------------------


def control(net: NetGuest, command: bytes, ack_size: int = 1) -> tuple[int, int]:
    """(ack byte, used length) of one control command."""
    chain = net.guest.queues[CTRL].submit([command], [ack_size] if ack_size else [])
    (used,) = net.guest.wait_used(CTRL, 1)
    assert used.id == chain.head
    if not ack_size:
        return -1, used.len
    return net.guest.memory.read(chain.writable[0][0] + ack_size - 1, 1)[0], used.len


@pytest.mark.parametrize(
    "command",
    [
        struct.pack("<BBH", d.VIRTIO_NET_CTRL_MQ, 0, 2),  # MQ not negotiated here
        struct.pack("<BB", 0, 0),  # RX mode: not offered
        struct.pack("<BB", 99, 1),  # no such class
        b"\x04",  # shorter than a command
        struct.pack("<BBQ", d.VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, 1 << 7),  # TSO4 not acked
        b"\x05\x00" + bytes(100),  # far too long
    ],
    ids=["mq", "rx mode", "unknown class", "short", "offload not acked", "long"],
)
def test_control_command_refused_with_err(net: NetGuest, command: bytes) -> None:
    assert control(net, command) == (d.VIRTIO_NET_ERR, 1)
    still_transmits(net)


def test_control_command_without_an_ack_byte_is_returned_empty(net: NetGuest) -> None:
    assert control(net, struct.pack("<BB", 4, 0), ack_size=0) == (-1, 0)


def test_guest_offloads_set_to_acked_ones_is_ok(netns: NetNamespace) -> None:
    features = PLAIN | d.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS | d.VIRTIO_NET_F_GUEST_CSUM
    net = NetGuest(netns, features)
    try:
        offloads = struct.pack("<BBQ", d.VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, 0)  # all off
        assert control(net, offloads) == (d.VIRTIO_NET_OK, 1)
        offloads = struct.pack("<BBQ", 5, 0, d.VIRTIO_NET_F_GUEST_CSUM)
        assert control(net, offloads) == (d.VIRTIO_NET_OK, 1)
    finally:
        net.close()


@pytest.mark.parametrize("pairs", [0, 3])
def test_queue_pairs_out_of_range_are_refused(netns: NetNamespace, pairs: int) -> None:
    net = NetGuest(netns, PLAIN | d.VIRTIO_NET_F_MQ, pairs=2)
    try:
        chain = net.guest.queues[4].submit([struct.pack("<BBH", 4, 0, pairs)], [1])
        net.guest.wait_used(4, 1)
        assert net.guest.memory.read(chain.writable[0][0], 1)[0] == d.VIRTIO_NET_ERR
        assert net.device.active_pairs == 1
    finally:
        net.close()
