"""Taps and their host-side set-up, inside a network namespace of the test's own."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from net_harness import NetNamespace
from vm_devices.virtio.devices import NetlinkError, Tap, TapError
from vm_devices.virtio.devices.netlink import configure_interface
from vm_devices.virtio.devices.tap import IFF_TAP, TUN_F_CSUM, TUN_F_TSO4

pytestmark = pytest.mark.skipif(
    not Path("/dev/net/tun").exists(), reason="no /dev/net/tun on this host"
)
IFF_UP = 0x1


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    namespace = NetNamespace()
    yield namespace
    namespace.close()


def test_create_names_the_tap(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "guest0")
    assert (tap.name, tap.queue_pairs) == ("guest0", 1)
    assert not os.get_blocking(tap.fds[0])
    tap.close()


def test_kernel_picks_a_name_when_none_is_given(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create)
    assert tap.name.startswith("vmtap")
    tap.close()


def test_multi_queue_tap_has_one_fd_per_pair(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "mq0", queue_pairs=3)
    assert tap.queue_pairs == 3
    assert len(set(tap.fds)) == 3
    tap.close()


def test_tap_offers_checksum_and_segmentation_offloads(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "off0")
    assert tap.supported_offloads() & (TUN_F_CSUM | TUN_F_TSO4) == TUN_F_CSUM | TUN_F_TSO4
    tap.close()


def test_pre_opened_fds_become_a_tap(netns: NetNamespace) -> None:
    made = netns.run(Tap.create, "pre0", queue_pairs=2)
    fds = [os.dup(fd) for fd in made.fds]
    for fd in fds:
        os.set_blocking(fd, True)
    tap = Tap.from_fds(fds)
    assert (tap.name, tap.queue_pairs) == ("pre0", 2)
    assert not os.get_blocking(fds[0])
    tap.close()
    made.close()


def test_fd_that_is_not_a_tap_is_refused() -> None:
    read_end, write_end = os.pipe()
    with pytest.raises(TapError, match="not a tap") as caught:
        Tap.from_fds([read_end])
    assert caught.value.operation == "TUNGETIFF"
    os.close(read_end)
    os.close(write_end)


def test_tap_without_vnet_header_is_refused(netns: NetNamespace) -> None:
    import fcntl

    from vm_devices.virtio.devices.tap import IFREQ, TUNSETIFF

    fd = os.open("/dev/net/tun", os.O_RDWR)
    netns.run(fcntl.ioctl, fd, TUNSETIFF, IFREQ.pack(b"plain0", IFF_TAP))
    with pytest.raises(TapError, match="lacks flags"):
        Tap.from_fds([fd])
    os.close(fd)


def test_interface_name_too_long_is_refused() -> None:
    with pytest.raises(TapError, match="not a valid interface name"):
        Tap.create("a-name-far-too-long")


def test_same_name_with_other_flags_is_busy(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "busy0")
    with pytest.raises(TapError) as caught:
        netns.run(Tap.create, "busy0", queue_pairs=2)  # IFF_MULTI_QUEUE differs
    assert caught.value.errno in (errno.EINVAL, errno.EBUSY)
    tap.close()


def test_configure_sets_the_address_and_brings_the_link_up(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "cfg0")
    assert not netns.interface_flags("cfg0") & IFF_UP
    netns.run(configure_interface, "cfg0", "192.168.249.1", "255.255.255.0")
    assert netns.interface_flags("cfg0") & IFF_UP
    bound = netns.udp_socket("192.168.249.1", 0)  # only a local address can be bound
    bound.close()
    tap.close()


def test_configure_accepts_a_prefix_length(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "cfg1")
    netns.run(configure_interface, "cfg1", "10.1.2.3", "16")
    netns.udp_socket("10.1.2.3", 0).close()
    tap.close()


def test_configure_refuses_a_bad_address(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "cfg2")
    with pytest.raises(ValueError, match="300"):
        netns.run(configure_interface, "cfg2", "10.0.0.300", None)
    tap.close()


def test_netlink_refusal_carries_the_errno(netns: NetNamespace) -> None:
    from vm_devices.virtio.devices.netlink import set_link_up

    with pytest.raises(NetlinkError) as caught:
        netns.run(set_link_up, 4242)  # no such interface
    assert caught.value.errno == errno.ENODEV


def test_configure_of_a_missing_interface_fails(netns: NetNamespace) -> None:
    with pytest.raises(TapError, match="no such interface") as caught:
        netns.run(configure_interface, "nothing0", None, None)
    assert caught.value.errno == errno.ENODEV


def test_host_namespace_is_untouched(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "hidden0")
    assert "hidden0" not in [name for _, name in socket.if_nameindex()]
    tap.close()


def test_configure_sets_the_hardware_address_and_mtu(netns: NetNamespace) -> None:
    tap = netns.run(Tap.create, "attr0")
    mac = bytes.fromhex("525400780001")
    netns.run(configure_interface, "attr0", None, None, mac=mac, mtu=1400)
    assert netns.hardware_address("attr0") == mac
    assert netns.run(_mtu, "attr0") == 1400
    assert netns.interface_flags("attr0") & IFF_UP
    tap.close()


def _mtu(interface: str) -> int:
    """SIOCGIFMTU, in the calling thread's namespace."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        reply = fcntl.ioctl(sock, 0x8921, struct.pack("16s24x", interface.encode()))
    mtu: int = struct.unpack_from("i", reply, 16)[0]
    return mtu
