"""Tap interfaces: the host end of a virtio-net device.

A tap is opened through ``/dev/net/tun`` with ``IFF_TAP | IFF_NO_PI |
IFF_VNET_HDR`` (and ``IFF_MULTI_QUEUE`` for several queue pairs, one fd per
pair), so every frame read or written carries a virtio-net header: the
guest's own header goes to the kernel and back untouched, and checksum and
segmentation offloads pass through. Creating a tap needs ``CAP_NET_ADMIN``;
a VMM without it is handed fds opened by its manager (``--net fd=``).

All fds are non-blocking: the device's worker polls them.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import struct
from collections.abc import Sequence
from typing import Final

from vm_devices.virtio.devices.errors import TapError

__all__ = [
    "IFF_MULTI_QUEUE",
    "IFF_NO_PI",
    "IFF_TAP",
    "IFF_VNET_HDR",
    "TUN_F_CSUM",
    "TUN_F_TSO4",
    "TUN_F_TSO6",
    "TUN_F_TSO_ECN",
    "TUN_F_UFO",
    "Tap",
]

log = logging.getLogger(__name__)

TUN_DEVICE: Final = "/dev/net/tun"
IFNAMSIZ: Final = 16
IFF_TAP: Final = 0x0002
IFF_MULTI_QUEUE: Final = 0x0100
IFF_NO_PI: Final = 0x1000
IFF_VNET_HDR: Final = 0x4000
TUNSETIFF: Final = 0x400454CA
TUNSETOFFLOAD: Final = 0x400454D0
TUNGETIFF: Final = 0x800454D2
TUNSETVNETHDRSZ: Final = 0x400454D8
TUNSETQUEUE: Final = 0x400454D9
IFF_ATTACH_QUEUE: Final = 0x0200
IFF_DETACH_QUEUE: Final = 0x0400
TUN_F_CSUM: Final = 0x01
TUN_F_TSO4: Final = 0x02
TUN_F_TSO6: Final = 0x04
TUN_F_TSO_ECN: Final = 0x08
TUN_F_UFO: Final = 0x10
IFREQ: Final = struct.Struct("16sH22x")  # ifr_name, ifr_flags, the rest of the union


class Tap:
    """An open tap interface ``name``: one fd per queue pair, owned (closed by
    :meth:`close`)."""

    def __init__(self, fds: Sequence[int], name: str) -> None:
        self.fds = tuple(fds)
        self.name = name
        self._offloads: int | None = None

    @classmethod
    def create(cls, name: str | None = None, *, queue_pairs: int = 1) -> Tap:
        """Create (or attach to) tap ``name``; None lets the kernel pick
        ``vmtapN``. Several queue pairs make a multi-queue tap."""
        requested = name or "vmtap%d"
        encoded = requested.encode()
        if len(encoded) >= IFNAMSIZ or not requested.isascii() or "/" in requested:
            raise TapError(requested, "naming", errno.EINVAL, "not a valid interface name")
        if queue_pairs < 1:
            raise TapError(requested, "create", errno.EINVAL, f"{queue_pairs} queue pairs")
        flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
        if queue_pairs > 1:
            flags |= IFF_MULTI_QUEUE
        fds: list[int] = []
        try:
            for _ in range(queue_pairs):
                fd = _open_tun(requested)
                fds.append(fd)
                request = IFREQ.pack(encoded, flags)
                try:
                    reply = fcntl.ioctl(fd, TUNSETIFF, request)
                except OSError as error:
                    detail = "needs CAP_NET_ADMIN" if error.errno == errno.EPERM else ""
                    if error.errno == errno.EBUSY:
                        detail = "it exists with other flags, or is in use"
                    raise TapError(requested, "TUNSETIFF", error.errno or 0, detail) from None
                # The first ioctl names the interface (vmtap%d -> vmtap3): the
                # other queues attach to that name.
                encoded = IFREQ.unpack(reply)[0].rstrip(b"\0")
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        tap = cls(fds, encoded.decode())
        log.info("tap %s: %d queue(s)", tap.name, queue_pairs)
        return tap

    @classmethod
    def from_fds(cls, fds: Sequence[int]) -> Tap:
        """A tap from fds opened elsewhere (one per queue pair, all queues of
        one interface, each with ``IFF_VNET_HDR``). The Tap owns them from now
        on; they are made non-blocking."""
        if not fds:
            raise TapError("fd", "from_fds", errno.EINVAL, "no fds")
        names = set()
        for fd in fds:
            try:
                reply = fcntl.ioctl(fd, TUNGETIFF, IFREQ.pack(b"", 0))
            except OSError as error:
                raise TapError(f"fd {fd}", "TUNGETIFF", error.errno or 0, "not a tap") from None
            raw_name, flags = IFREQ.unpack(reply)
            name = raw_name.rstrip(b"\0").decode()
            missing = (IFF_TAP | IFF_VNET_HDR | IFF_NO_PI) & ~flags
            if missing:
                raise TapError(name, "from_fds", errno.EINVAL, f"fd {fd} lacks flags {missing:#x}")
            if len(fds) > 1 and not flags & IFF_MULTI_QUEUE:
                raise TapError(name, "from_fds", errno.EINVAL, "several fds of a single-queue tap")
            names.add(name)
            os.set_blocking(fd, False)
        if len(names) != 1:
            raise TapError(",".join(sorted(names)), "from_fds", errno.EINVAL, "fds of several taps")
        return cls(fds, names.pop())

    @property
    def queue_pairs(self) -> int:
        return len(self.fds)

    def supported_offloads(self) -> int:
        """The ``TUN_F_*`` offloads the kernel accepts for this tap (probed once;
        the tap is left with none)."""
        if self._offloads is None:
            wanted = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO
            supported = 0
            for candidate in (wanted, wanted & ~TUN_F_UFO, TUN_F_CSUM):
                try:
                    fcntl.ioctl(self.fds[0], TUNSETOFFLOAD, candidate)
                except OSError:
                    continue
                supported = candidate
                break
            self.set_offloads(0)
            self._offloads = supported
        return self._offloads

    def set_offloads(self, flags: int) -> None:
        """What the tap may hand the guest unfinished: partial checksums (CSUM),
        unsegmented TCP/UDP (TSO4/6, ECN, UFO). Only what the guest accepts."""
        try:
            fcntl.ioctl(self.fds[0], TUNSETOFFLOAD, flags)
        except OSError as error:
            raise TapError(self.name, f"TUNSETOFFLOAD {flags:#x}", error.errno or 0) from None

    def set_vnet_hdr_size(self, size: int) -> None:
        """10 bytes for a legacy driver without mergeable buffers, else 12."""
        try:
            fcntl.ioctl(self.fds[0], TUNSETVNETHDRSZ, struct.pack("i", size))
        except OSError as error:
            raise TapError(self.name, f"TUNSETVNETHDRSZ {size}", error.errno or 0) from None

    def set_queues(self, count: int) -> None:
        """Let the kernel steer frames to the first ``count`` queues only (the
        pairs the driver uses); the others are detached (``TUNSETQUEUE``)."""
        if len(self.fds) < 2:
            return
        for index, fd in enumerate(self.fds):
            flag = IFF_ATTACH_QUEUE if index < count else IFF_DETACH_QUEUE
            try:
                fcntl.ioctl(fd, TUNSETQUEUE, IFREQ.pack(b"", flag))
            except OSError as error:
                if error.errno != errno.EINVAL:  # EINVAL: attached (or detached) already
                    raise TapError(self.name, f"TUNSETQUEUE {index}", error.errno or 0) from None

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = ()

    def __repr__(self) -> str:
        return f"Tap({self.name!r}, fds={list(self.fds)})"


def _open_tun(name: str) -> int:
    try:
        return os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        raise TapError(name, f"open {TUN_DEVICE}", error.errno or 0) from None
