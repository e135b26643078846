"""Host-side set-up of a tap over rtnetlink: an IPv4 address, MAC and MTU, and link up.

Two requests (``RTM_NEWADDR``, ``RTM_NEWLINK``) on an ``AF_NETLINK`` socket
from the standard library, each acknowledged by the kernel, instead of a
dependency (pyroute2) for so little. A refusal raises :class:`NetlinkError`
with the kernel's errno (``EPERM`` without ``CAP_NET_ADMIN``).

Requests go to the network namespace of the calling thread, like
``socket.if_nametoindex``.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import socket
import struct
from typing import Final

from vm_devices.virtio.devices.errors import NetlinkError, TapError

__all__ = ["add_ipv4_address", "configure_interface", "set_link_attributes", "set_link_up"]

NETLINK_ROUTE: Final = 0
NLMSG_ERROR: Final = 2
RTM_NEWLINK: Final = 16
RTM_NEWADDR: Final = 20
NLM_F_REQUEST: Final = 0x001
NLM_F_ACK: Final = 0x004
NLM_F_REPLACE: Final = 0x100
NLM_F_CREATE: Final = 0x400
IFF_UP: Final = 0x1
IFLA_ADDRESS: Final = 1
IFLA_MTU: Final = 4
IFA_ADDRESS: Final = 1
IFA_LOCAL: Final = 2
IFA_BROADCAST: Final = 4
RT_SCOPE_UNIVERSE: Final = 0

NLMSGHDR: Final = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
IFINFOMSG: Final = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG: Final = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, index
RTATTR: Final = struct.Struct("=HH")  # length, type
ERROR_CODE: Final = struct.Struct("=i")


def _attribute(kind: int, data: bytes) -> bytes:
    raw = RTATTR.pack(RTATTR.size + len(data), kind) + data
    return raw + bytes(-len(raw) % 4)


class _RtNetlink:
    """One rtnetlink socket; :meth:`request` sends a message and waits for its ack."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self._socket.bind((0, 0))
        self._sequence = itertools.count(1)

    def request(self, what: str, kind: int, flags: int, payload: bytes) -> None:
        sequence = next(self._sequence)
        header = NLMSGHDR.pack(
            NLMSGHDR.size + len(payload), kind, flags | NLM_F_REQUEST | NLM_F_ACK, sequence, 0
        )
        self._socket.send(header + payload)
        while True:
            reply = self._socket.recv(65536)
            offset = 0
            while offset + NLMSGHDR.size <= len(reply):
                length, reply_kind, _, reply_sequence, _ = NLMSGHDR.unpack_from(reply, offset)
                if reply_kind == NLMSG_ERROR and reply_sequence == sequence:
                    (code,) = ERROR_CODE.unpack_from(reply, offset + NLMSGHDR.size)
                    if code:
                        raise NetlinkError(what, -code)
                    return
                offset += max(NLMSGHDR.size, (length + 3) & ~3)

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> _RtNetlink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def set_link_up(index: int) -> None:
    """``ip link set dev <index> up``."""
    with _RtNetlink() as netlink:
        payload = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
        netlink.request(f"link {index} up", RTM_NEWLINK, 0, payload)


def set_link_attributes(index: int, *, mac: bytes | None = None, mtu: int | None = None) -> None:
    """``ip link set dev <index> address <mac> mtu <mtu>`` (what is given of the two)."""
    payload = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
    if mac is not None:
        payload += _attribute(IFLA_ADDRESS, mac)
    if mtu is not None:
        payload += _attribute(IFLA_MTU, struct.pack("=I", mtu))
    with _RtNetlink() as netlink:
        netlink.request(f"link {index} address/mtu", RTM_NEWLINK, 0, payload)


def add_ipv4_address(index: int, interface: ipaddress.IPv4Interface) -> None:
    """``ip addr replace <address>/<prefix> brd + dev <index>``."""
    network = interface.network
    payload = IFADDRMSG.pack(socket.AF_INET, network.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
    payload += _attribute(IFA_LOCAL, interface.ip.packed)
    payload += _attribute(IFA_ADDRESS, interface.ip.packed)
    if network.prefixlen < 31:
        payload += _attribute(IFA_BROADCAST, network.broadcast_address.packed)
    with _RtNetlink() as netlink:
        netlink.request(
            f"address {interface} on link {index}",
            RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_REPLACE,
            payload,
        )


def configure_interface(
    name: str,
    ip: str | None = None,
    netmask: str | None = None,
    *,
    mac: bytes | None = None,
    mtu: int | None = None,
) -> None:
    """Give interface ``name`` the address ``ip``/``netmask`` (when ``ip`` is
    set), the hardware address ``mac`` and ``mtu`` (when set), and bring it
    up. Raises ``ValueError`` for an address or netmask that is not IPv4
    (``netmask`` may be dotted or a prefix length, default /24),
    :class:`TapError` when there is no such interface, :class:`NetlinkError`
    when the kernel refuses."""
    try:
        index = socket.if_nametoindex(name)
    except OSError:
        raise TapError(name, "configuration", errno.ENODEV, "no such interface") from None
    if mac is not None or mtu is not None:
        set_link_attributes(index, mac=mac, mtu=mtu)
    if ip is not None:
        interface = ipaddress.IPv4Interface(f"{ip}/{netmask or 24}")
        add_ipv4_address(index, interface)
    set_link_up(index)
