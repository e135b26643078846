"""The host side of the network tests: a network namespace of the test's own,
frames built and parsed by hand, and raw packet sockets on the tap.

Python 3.11 has no ``os.unshare``: a worker thread calls ``unshare(2)``
(through libc) with ``CLONE_NEWNET``, which moves that thread alone into a
new, empty network namespace. Everything that names interfaces (creating the
tap, netlink, packet and UDP sockets) runs on that thread; the fds it
returns work from any thread. The namespace, and the tap in it, go away with
the last fd: nothing leaks onto the host's network.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from virtio_harness import Guest
from virtio_queue import MockChain
from vm_devices.virtio import VIRTIO_F_VERSION_1
from vm_devices.virtio.devices import Net, Tap
from vm_devices.virtio.devices import net_defs as d
from vm_devices.virtio.devices.netlink import configure_interface

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_TEST = 0x88B5  # IEEE 802 local experimental: frames only the tests send
SIOCGIFHWADDR = 0x8927
SIOCGIFFLAGS = 0x8913
BROADCAST = b"\xff" * 6
NET_HEADER = struct.Struct(
    "<BBHHHHH"
)  # flags, gso_type, hdr_len, gso_size, csum_start/offset, num_buffers


def _enter_new_netns() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"unshare(CLONE_NEWNET): {os.strerror(code)}")


class NetNamespace:
    """A fresh network namespace and the one thread that lives in it."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, "netns", initializer=_enter_new_netns)

    def run(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        return self._thread.submit(call, *args, **kwargs).result()

    def close(self) -> None:
        self._thread.shutdown()

    def disable_ipv6(self, interface: str) -> None:
        """No router solicitations or MLD reports on the tap: the guest gets only
        the test's frames."""

        def write() -> None:
            with open(f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6", "w") as knob:
                knob.write("1")

        self.run(write)

    def packet_socket(self, interface: str) -> socket.socket:
        """A raw socket on ``interface``: it sees every frame, sends whole frames."""

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((interface, 0))
            sock.settimeout(5.0)
            return sock

        return self.run(make)

    def udp_socket(self, address: str, port: int) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((address, port))
            sock.settimeout(5.0)
            return sock

        return self.run(make)

    def hardware_address(self, interface: str) -> bytes:
        def query() -> bytes:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                reply = fcntl.ioctl(sock, SIOCGIFHWADDR, struct.pack("16s24x", interface.encode()))
            return reply[18:24]

        return self.run(query)

    def interface_flags(self, interface: str) -> int:
        def query() -> int:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                reply = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack("16s24x", interface.encode()))
            flags: int = struct.unpack_from("H", reply, 16)[0]
            return flags

        return self.run(query)


def ethernet(destination: bytes, source: bytes, ethertype: int, payload: bytes) -> bytes:
    return destination + source + struct.pack("!H", ethertype) + payload


def experimental_frame(source: bytes, payload: bytes, destination: bytes = BROADCAST) -> bytes:
    return ethernet(destination, source, ETH_P_TEST, payload)


def arp_request(sender_mac: bytes, sender_ip: str, target_ip: str) -> bytes:
    body = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1)
    body += sender_mac + socket.inet_aton(sender_ip) + bytes(6) + socket.inet_aton(target_ip)
    return ethernet(BROADCAST, sender_mac, ETH_P_ARP, body)


def arp_reply_to(request: bytes, mac: bytes) -> bytes:
    """The answer ``mac`` gives to the ARP request frame ``request``."""
    asker_mac, asker_ip, wanted_ip = request[22:28], request[28:32], request[38:42]
    body = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 2) + mac + wanted_ip + asker_mac + asker_ip
    return ethernet(asker_mac, mac, ETH_P_ARP, body)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def udp_frame(
    destination_mac: bytes,
    source_mac: bytes,
    source: tuple[str, int],
    destination: tuple[str, int],
    payload: bytes,
    *,
    partial_checksum: bool = False,
) -> bytes:
    """An IPv4/UDP frame; with ``partial_checksum`` the UDP checksum field holds
    only the pseudo-header sum, for the host to finish (NEEDS_CSUM)."""
    length = 8 + len(payload)
    source_ip, destination_ip = socket.inet_aton(source[0]), socket.inet_aton(destination[0])
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0x4000, 64, 17, 0, source_ip, destination_ip
    )
    ip = ip[:10] + struct.pack("!H", 0xFFFF - checksum(ip)) + ip[12:]
    pseudo = source_ip + destination_ip + struct.pack("!BBH", 0, 17, length)
    udp = struct.pack("!HHHH", source[1], destination[1], length, 0) + payload
    # Partial: the pseudo-header sum alone. Whole: the complement (0 is sent as 0xFFFF).
    field = checksum(pseudo) if partial_checksum else (0xFFFF - checksum(pseudo + udp) or 0xFFFF)
    udp = udp[:6] + struct.pack("!H", field) + udp[8:]
    return ethernet(destination_mac, source_mac, ETH_P_IP, ip + udp)


def receive_matching(sock: socket.socket, wanted: Callable[[bytes], bool]) -> bytes:
    """The first frame on ``sock`` that ``wanted`` accepts (others are skipped)."""
    while True:
        frame = sock.recv(65536)
        if wanted(frame):
            return frame


# A guest with a virtio-net device on a tap ------------------------------------------

GUEST_MAC = bytes.fromhex("525400123456")
HOST_IP, GUEST_IP = "192.168.249.1", "192.168.249.2"
PLAIN = VIRTIO_F_VERSION_1 | d.VIRTIO_NET_F_MAC | d.VIRTIO_NET_F_STATUS | d.VIRTIO_NET_F_CTRL_VQ
HEADER = bytes(12)


class NetGuest:
    """A guest with one queue pair (and the control queue) on tap ``vnet0``,
    and a packet socket on the host end."""

    def __init__(
        self,
        netns: NetNamespace,
        features: int = PLAIN,
        *,
        pairs: int = 1,
        event_idx: bool = False,
    ) -> None:
        self.netns = netns
        tap = netns.run(Tap.create, "vnet0", queue_pairs=pairs)
        netns.disable_ipv6("vnet0")
        netns.run(configure_interface, "vnet0", HOST_IP, "255.255.255.0")
        self.host_mac = netns.hardware_address("vnet0")
        self.device = Net(tap, mac=GUEST_MAC)
        mq = features & d.VIRTIO_NET_F_MQ
        count = (2 * pairs if mq else 2) + (1 if features & d.VIRTIO_NET_F_CTRL_VQ else 0)
        self.guest = Guest(
            self.device,
            queue_count=count,
            features=features,
            event_idx=event_idx,
            kick_when_needed=event_idx,
        )
        self.host = netns.packet_socket("vnet0")
        self.posted: dict[int, MockChain] = {}
        self.guest.activate()

    def send(self, frame: bytes, header: bytes = HEADER, pair: int = 0) -> None:
        chain = self.guest.queues[2 * pair + 1].submit([header, frame])
        (used,) = self.guest.wait_used(2 * pair + 1, 1)
        assert (used.id, used.len) == (chain.head, 0)

    def post(self, *sizes: int, pair: int = 0) -> None:
        for size in sizes:
            chain = self.guest.queues[2 * pair].submit(writable=[size])
            self.posted[chain.head] = chain

    def receive(self, pair: int = 0, count: int = 1) -> list[bytes]:
        """What the device wrote into the next ``count`` used receive chains."""
        driver = self.guest.queues[2 * pair].driver
        out = []
        for used in self.guest.wait_used(2 * pair, count):
            out.append(driver.read_written(self.posted.pop(used.id), used.len))
        return out

    def receive_frame(self, pair: int = 0) -> tuple[tuple[int, ...], bytes]:
        (data,) = self.receive(pair)
        return NET_HEADER.unpack(data[:12]), data[12:]

    def close(self) -> None:
        self.guest.close()
        self.device.shutdown()
        self.host.close()


def host_receives(sock: socket.socket, payload: bytes) -> bytes:
    while True:
        frame = sock.recv(65536)
        if frame[12:14] == struct.pack("!H", ETH_P_TEST) and payload in frame:
            return frame
