"""virtio-net on a real tap in a namespace of the test's own: frames from the
mock driver reach a packet socket on the tap, and frames the host sends
reach the guest's buffers."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from net_harness import (
    ETH_P_ARP,
    ETH_P_IP,
    GUEST_IP,
    GUEST_MAC,
    HOST_IP,
    NET_HEADER,
    PLAIN,
    NetGuest,
    NetNamespace,
    arp_reply_to,
    arp_request,
    checksum,
    experimental_frame,
    host_receives,
    udp_frame,
)
from virtio_harness import Guest
from vm_devices import DeviceConfigError
from vm_devices.virtio import VIRTIO_F_RING_EVENT_IDX, DeviceType
from vm_devices.virtio.devices import Net, Tap, TapError, parse_mac
from vm_devices.virtio.devices import net_defs as d
from vm_devices.virtio.devices.netlink import configure_interface

pytestmark = pytest.mark.skipif(
    not Path("/dev/net/tun").exists(), reason="no /dev/net/tun on this host"
)


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


# Configuration ----------------------------------------------------------------------------


def test_config_space_has_mac_link_up_and_pairs(netns: NetNamespace) -> None:
    device = Net(netns.run(Tap.create, "cfg0", queue_pairs=2), mac="52:54:00:12:34:56")
    config = memoryview(bytearray(10))
    device.read_config(0, config)
    assert struct.unpack("<6sHH", config) == (GUEST_MAC, d.VIRTIO_NET_S_LINK_UP, 2)
    assert device.device_type == DeviceType.NET
    assert device.queue_max_sizes == (256,) * 5  # 2 pairs and the control queue
    device.shutdown()


def test_features_follow_the_tap(netns: NetNamespace) -> None:
    single = Net(netns.run(Tap.create, "f0"))
    wanted = d.VIRTIO_NET_F_GUEST_CSUM | d.VIRTIO_NET_F_GUEST_TSO4 | d.VIRTIO_NET_F_HOST_TSO4
    wanted |= d.VIRTIO_NET_F_MRG_RXBUF | d.VIRTIO_NET_F_CTRL_VQ | d.VIRTIO_NET_F_CSUM
    assert single.device_features & wanted == wanted
    assert not single.device_features & d.VIRTIO_NET_F_MQ
    multi = Net(netns.run(Tap.create, "f1", queue_pairs=2))
    assert multi.device_features & d.VIRTIO_NET_F_MQ
    single.shutdown()
    multi.shutdown()


def test_random_mac_is_locally_administered_unicast() -> None:
    mac = parse_mac(None)
    assert len(mac) == 6
    assert mac[0] & 0x03 == 0x02


@pytest.mark.parametrize("mac", ["52:54:00:12:34", "52:54:00:12:34:zz", "01:00:5e:00:00:01"])
def test_bad_mac_is_refused(mac: str) -> None:
    with pytest.raises(DeviceConfigError) as caught:
        parse_mac(mac)
    assert caught.value.value == mac


# Frames -----------------------------------------------------------------------------------


def test_guest_frame_reaches_the_host(net: NetGuest) -> None:
    frame = experimental_frame(GUEST_MAC, b"from the guest" * 10)
    net.send(frame)
    assert host_receives(net.host, b"from the guest") == frame
    counters = net.device.counters()
    assert (counters["tx_frames"], counters["tx_bytes"]) == (1, len(frame))


def test_host_frame_reaches_the_guest(net: NetGuest) -> None:
    net.post(2048)
    frame = experimental_frame(net.host_mac, b"from the host" * 10, GUEST_MAC)
    net.host.send(frame)
    header, received = net.receive_frame()
    assert received == frame
    assert header[0] == 0  # no flags without GUEST_CSUM
    assert header[6] == 1  # num_buffers
    assert net.guest.interrupt.wait_for(0, 1)
    counters = net.device.counters()
    assert (counters["rx_frames"], counters["rx_bytes"]) == (1, len(frame))


def test_host_frame_waits_for_guest_buffers(net: NetGuest) -> None:
    frame = experimental_frame(net.host_mac, b"early", GUEST_MAC)
    net.host.send(frame)
    net.guest.assert_idle(0)
    net.post(2048)
    assert net.receive_frame()[1] == frame


def test_event_idx_driver_kicking_only_when_asked_gets_every_frame(netns: NetNamespace) -> None:
    net = NetGuest(netns, PLAIN | VIRTIO_F_RING_EVENT_IDX, event_idx=True)
    try:
        frames = [experimental_frame(net.host_mac, bytes([i]) * 60, GUEST_MAC) for i in range(40)]
        for frame in frames[:20]:  # they wait: no buffers yet
            net.host.send(frame)
        received = []
        for _ in range(2):  # buffers come in batches, each kicked only if the device asks
            net.post(*[2048] * 10)
            received += net.receive(count=10)
        net.post(*[2048] * 20)  # buffers ahead of the frames now
        for frame in frames[20:]:
            net.host.send(frame)
        received += net.receive(count=20)
        assert [data[12:] for data in received] == frames
        assert net.guest.queues[0].kicks < 40  # the device did not want every buffer kicked
    finally:
        net.close()


def test_frames_arrive_in_order(net: NetGuest) -> None:
    net.post(*[2048] * 8)
    frames = [experimental_frame(net.host_mac, bytes([i]) * 60, GUEST_MAC) for i in range(8)]
    for frame in frames:
        net.host.send(frame)
    assert [data[12:] for data in net.receive(count=8)] == frames


def test_mergeable_buffers_hold_a_frame_across_chains(netns: NetNamespace) -> None:
    net = NetGuest(netns, PLAIN | d.VIRTIO_NET_F_MRG_RXBUF)
    try:
        net.post(*[256] * 8)  # 2048 bytes: room for a whole Ethernet frame
        driver = net.guest.queues[0].driver
        frame = experimental_frame(net.host_mac, os.urandom(986), GUEST_MAC)  # 1000 bytes
        net.host.send(frame)
        chains = net.guest.wait_used(0, 4)
        assert [u.len for u in chains] == [256, 256, 256, 244]
        data = b"".join(driver.read_written(net.posted.pop(u.id), u.len) for u in chains)
        assert NET_HEADER.unpack(data[:12])[6] == 4  # num_buffers
        assert data[12:] == frame
        fifth = sorted(net.posted)[0]
        net.post(*[256] * 4)  # room for a whole frame again
        small = experimental_frame(net.host_mac, b"next", GUEST_MAC)
        net.host.send(small)
        (used,) = net.guest.wait_used(0, 1)
        assert used.id == fifth  # kept from before, and used first
        data = driver.read_written(net.posted.pop(used.id), used.len)
        assert NET_HEADER.unpack(data[:12])[6] == 1
        assert data[12:] == small
    finally:
        net.close()


def test_mergeable_receive_waits_for_room_for_a_whole_frame(netns: NetNamespace) -> None:
    net = NetGuest(netns, PLAIN | d.VIRTIO_NET_F_MRG_RXBUF)
    try:
        net.post(*[256] * 4)  # 1 KiB: a full-size frame would not fit
        frame = experimental_frame(net.host_mac, b"small", GUEST_MAC)
        net.host.send(frame)
        net.guest.assert_idle(0)
        net.post(*[256] * 4)
        (data,) = net.receive()
        assert data[12:] == frame
    finally:
        net.close()


# The host's network stack -------------------------------------------------------------


def test_arp_round_trip_with_the_host_address(net: NetGuest) -> None:
    net.post(2048)
    net.send(arp_request(GUEST_MAC, GUEST_IP, HOST_IP))
    _, reply = net.receive_frame()
    assert reply[12:14] == struct.pack("!H", ETH_P_ARP)
    assert reply[20:22] == b"\x00\x02"  # an ARP reply
    assert reply[22:28] == net.host_mac
    assert socket.inet_ntoa(reply[28:32]) == HOST_IP


def test_udp_with_a_partial_checksum_reaches_a_host_socket(netns: NetNamespace) -> None:
    net = NetGuest(netns, PLAIN | d.VIRTIO_NET_F_CSUM)
    sink = netns.udp_socket(HOST_IP, 7777)
    try:
        frame = udp_frame(
            net.host_mac,
            GUEST_MAC,
            (GUEST_IP, 5555),
            (HOST_IP, 7777),
            b"offloaded",
            partial_checksum=True,
        )
        header = NET_HEADER.pack(d.VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 6, 0)
        net.send(frame, header)
        assert sink.recvfrom(100) == (b"offloaded", (GUEST_IP, 5555))
    finally:
        sink.close()
        net.close()


def host_udp_to_guest(net: NetGuest, payload: bytes) -> tuple[tuple[int, ...], bytes]:
    """A host socket sends to the guest: the guest answers the host's ARP
    request, then gets the datagram; (its header, its frame)."""
    sender = net.netns.udp_socket(HOST_IP, 6666)
    try:
        net.post(2048, 2048)
        sender.sendto(payload, (GUEST_IP, 9999))
        while True:
            header, frame = net.receive_frame()
            if frame[12:14] == struct.pack("!H", ETH_P_ARP):
                net.send(arp_reply_to(frame, GUEST_MAC))
                net.post(2048)
            elif frame[12:14] == struct.pack("!H", ETH_P_IP):
                return header, frame
    finally:
        sender.close()


def test_guest_with_checksum_offload_gets_a_partial_checksum(netns: NetNamespace) -> None:
    net = NetGuest(netns, PLAIN | d.VIRTIO_NET_F_GUEST_CSUM)
    try:
        header, frame = host_udp_to_guest(net, b"to the guest")
        assert header[0] & d.VIRTIO_NET_HDR_F_NEEDS_CSUM
        assert (header[4], header[5]) == (34, 6)  # csum_start (the UDP header), csum_offset
        assert frame.endswith(b"to the guest")
    finally:
        net.close()


def test_guest_without_checksum_offload_gets_whole_checksums(netns: NetNamespace) -> None:
    net = NetGuest(netns)
    try:
        header, frame = host_udp_to_guest(net, b"to the guest")
        assert header[0] == 0
        ip, udp = frame[14:34], frame[34:]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
        assert checksum(pseudo + udp) == 0xFFFF  # the UDP checksum is complete
    finally:
        net.close()


# Multi-queue, control queue, life ----------------------------------------------------------


def test_every_queue_pair_carries_frames(netns: NetNamespace) -> None:
    features = PLAIN | d.VIRTIO_NET_F_MQ
    net = NetGuest(netns, features, pairs=2)
    try:
        ctrl = net.guest.queues[4]
        command = ctrl.submit([struct.pack("<BBH", d.VIRTIO_NET_CTRL_MQ, 0, 2)], [1])
        net.guest.wait_used(4, 1)
        assert net.guest.memory.read(command.writable[0][0], 1) == b"\x00"  # VIRTIO_NET_OK
        assert net.device.active_pairs == 2
        for pair in (0, 1):
            frame = experimental_frame(GUEST_MAC, f"pair {pair}".encode() * 8)
            net.send(frame, pair=pair)
            assert host_receives(net.host, f"pair {pair}".encode()) == frame
        net.post(*[2048] * 16, pair=0)
        net.post(*[2048] * 16, pair=1)
        for flow in range(16):  # the tap spreads flows over both queues now
            net.host.send(
                udp_frame(GUEST_MAC, net.host_mac, (HOST_IP, 1000 + flow), (GUEST_IP, 9), b"x")
            )
        received = [0, 0]
        deadline = time.monotonic() + 5
        while sum(received) < 16 and time.monotonic() < deadline:
            for pair in (0, 1):
                received[pair] += len(net.guest.queues[2 * pair].driver.collect_used())
            time.sleep(0.01)
        assert sum(received) == 16
        assert min(received) > 0  # 16 flows on one queue: chance 2**-15
    finally:
        net.close()


def test_multi_queue_tap_steers_to_the_first_pair_until_the_driver_asks(
    netns: NetNamespace,
) -> None:
    net = NetGuest(netns, PLAIN | d.VIRTIO_NET_F_MQ, pairs=2)
    try:
        net.post(*[2048] * 16, pair=0)
        net.post(*[2048] * 16, pair=1)
        for flow in range(16):  # many flows: a multi-queue tap would spread them
            net.host.send(
                udp_frame(GUEST_MAC, net.host_mac, (HOST_IP, 1000 + flow), (GUEST_IP, 9), b"x")
            )
        net.receive(pair=0, count=16)
        net.guest.assert_idle(2)  # pair 1's receive queue
    finally:
        net.close()


def test_reset_stops_the_device_and_it_serves_again(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "life0")
    netns.run(configure_interface, "life0")
    device = Net(tap, mac=GUEST_MAC)
    host = netns.packet_socket("life0")
    for round_ in range(2):
        guest = Guest(device, queue_count=3, features=PLAIN)
        guest.activate()
        frame = experimental_frame(GUEST_MAC, f"round {round_}".encode() * 8)
        guest.queues[1].submit([bytes(12), frame])
        guest.wait_used(1, 1)
        assert host_receives(host, f"round {round_}".encode()) == frame
        guest.close()
        assert not device.active
    assert device.counters()["tx_frames"] == 2
    device.shutdown()
    host.close()


def test_shutdown_removes_the_tap(netns: NetNamespace) -> None:
    device = Net(netns.run(Tap.create, "gone0"))
    device.shutdown()
    with pytest.raises(OSError, match="no interface"):
        netns.run(socket.if_nametoindex, "gone0")


def test_open_creates_and_configures_the_tap(netns: NetNamespace) -> None:
    device = netns.run(Net.open, tap="open0", ip="10.9.0.1", mask="255.255.0.0", num_queues=4)
    assert (device.tap.name, device.pairs) == ("open0", 2)
    netns.udp_socket("10.9.0.1", 0).close()
    device.shutdown()


def test_open_takes_pre_opened_fds(netns: NetNamespace) -> None:
    made = netns.run(Tap.create, "fd0")
    device = netns.run(Net.open, fds=[os.dup(made.fds[0])])
    assert device.tap.name == "fd0"
    device.shutdown()
    made.close()


@pytest.mark.parametrize(
    ("options", "name"),
    [({"num_queues": 3}, "num_queues"), ({"mask": "255.0.0.0"}, "mask"), ({"fds": [1, 2]}, "fd")],
)
def test_open_refuses_inconsistent_options(options: dict[str, object], name: str) -> None:
    with pytest.raises(DeviceConfigError) as caught:
        Net.open(**options)  # type: ignore[arg-type]
    assert caught.value.name == name


def test_open_without_privilege_names_the_tap(netns: NetNamespace) -> None:
    with pytest.raises(TapError, match="x" * 16):
        Net.open(tap="x" * 16)


@pytest.mark.parametrize(
    ("off", "withheld"),
    [
        ("tso", d.OFFLOAD_TSO_FEATURES),
        ("ufo", d.OFFLOAD_UFO_FEATURES),
        ("csum", d.OFFLOAD_CSUM_FEATURES),
    ],
)
def test_offloads_turned_off_are_not_offered(netns: NetNamespace, off: str, withheld: int) -> None:
    device = Net(
        netns.run(Tap.create, "off0"),
        offload_tso=off != "tso",
        offload_ufo=off != "ufo",
        offload_csum=off != "csum",
    )
    assert not device.device_features & withheld
    assert device.device_features & d.VIRTIO_NET_F_MRG_RXBUF
    device.shutdown()


def test_mtu_is_offered_in_the_config_space(netns: NetNamespace) -> None:
    device = Net(netns.run(Tap.create, "mtu0"), mtu=1400)
    assert device.device_features & d.VIRTIO_NET_F_MTU
    config = memoryview(bytearray(12))
    device.read_config(0, config)
    assert struct.unpack_from("<H", config, 10)[0] == 1400
    device.shutdown()
    tap = netns.run(Tap.create, "mtu1")
    with pytest.raises(DeviceConfigError, match="mtu"):
        Net(tap, mtu=40)
    tap.close()
