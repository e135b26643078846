"""virtio-net data path: frames between a tap queue and a queue pair.

Transmit: each chain's readable buffers are one frame with its virtio-net
header in front; one ``os.writev`` hands both to the tap (the tap reads the
same header format), straight from guest memory.

Receive: one ``os.readv`` from the tap straight into the guest's writable
buffers puts a header and a frame there. Without ``VIRTIO_NET_F_MRG_RXBUF``
a frame takes one chain. With it, the device keeps enough popped chains to
hold the largest frame the guest may get, reads across them, returns only
those the frame used and writes their number into the header's
``num_buffers``; the rest wait for the next frame.

A frame larger than the buffers is dropped. The tap would silently cut it
short (recent kernels return the bytes copied), so every read ends with one
byte of the device's own: when the tap writes into it, the frame did not
fit.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from typing import Final

from virtio_queue import IOV_MAX, DescriptorChain, InvalidChainError

from vm_devices.virtio.devices.rx import Fill, ReceiveQueue
from vm_devices.virtio.devices.serve import GuestErrorLog

__all__ = ["NetCounters", "NetReceiver", "NetTransmitter"]

log = logging.getLogger(__name__)

NUM_BUFFERS_OFFSET: Final = 10
_NUM_BUFFERS: Final = struct.Struct("<H")


class NetCounters:
    """Per queue pair statistics (Cloud Hypervisor's names, and the drops)."""

    __slots__ = ("rx_bytes", "rx_dropped", "rx_frames", "tx_bytes", "tx_dropped", "tx_frames")

    def __init__(self) -> None:
        self.rx_bytes = self.rx_frames = self.rx_dropped = 0
        self.tx_bytes = self.tx_frames = self.tx_dropped = 0


class NetTransmitter:
    """The transmit queue of one pair: ``handle`` is its chain handler."""

    def __init__(self, tap_fd: int, header_size: int, counters: NetCounters, name: str) -> None:
        self.fd = tap_fd
        self.header_size = header_size
        self.counters = counters
        self.guest_error = GuestErrorLog(log, name)
        self.host_error = GuestErrorLog(log, f"{name}: tap write")

    def handle(self, chain: DescriptorChain) -> int:
        counters = self.counters
        try:
            views = chain.readable_views()
        except InvalidChainError as error:
            self.guest_error("%s", error)
            counters.tx_dropped += 1
            return 0
        length = chain.readable_len
        if length <= self.header_size:
            self.guest_error("frame of %d bytes, header included", length)
            counters.tx_dropped += 1
            return 0
        if len(views) > IOV_MAX:  # one frame, one write: gather the rest
            views = [*views[: IOV_MAX - 1], memoryview(b"".join(views[IOV_MAX - 1 :]))]
        try:
            os.writev(self.fd, views)
        except OSError as error:  # a malformed header (EINVAL), a full queue, the link down
            self.host_error("%s", error.strerror)
            counters.tx_dropped += 1
            return 0
        counters.tx_frames += 1
        counters.tx_bytes += length - self.header_size
        return 0


class NetReceiver:
    """The receive queue of one pair, filled from its tap fd (the ``fill`` of
    a :class:`ReceiveQueue`)."""

    def __init__(
        self,
        receive: ReceiveQueue,
        tap_fd: int,
        *,
        header_size: int,
        mergeable: bool,
        frame_room: int,
        clear_flags: bool,
        counters: NetCounters,
    ) -> None:
        self.receive = receive
        self.fd = tap_fd
        self.header_size = header_size
        self.mergeable = mergeable
        self.frame_room = frame_room if mergeable else 1  # bytes to have before a read
        self.clear_flags = clear_flags  # no GUEST_CSUM: flags must read 0
        self.counters = counters
        # Popped chains not used yet, their writable views (all, in order, then
        # the overflow byte) and lengths, and how many views each has.
        self._overflow = memoryview(bytearray(1))
        self._chains: list[DescriptorChain] = []
        self._views: list[memoryview] = [self._overflow]
        self._lengths: list[int] = []
        self._view_counts: list[int] = []
        self._room = 0

    def fill(self) -> Fill:
        """Read one frame into the guest's buffers."""
        if not self._take_buffers():
            return Fill.NO_BUFFERS
        views = self._views
        capacity = self._room
        if len(views) > IOV_MAX:
            views = [*views[: IOV_MAX - 1], self._overflow]
            capacity = sum(len(view) for view in views) - 1
        try:
            count = os.readv(self.fd, views)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EINTR):
                return Fill.SOURCE_EMPTY
            log.warning(
                "%s: tap read failed, receiving stops: %s", self.receive.name, error.strerror
            )
            self.receive.detach_source()
            return Fill.SOURCE_EMPTY
        if count > capacity or count < self.header_size:
            # Too large for the buffers (it reached the overflow byte), or no header.
            self.counters.rx_dropped += 1
            return Fill.DELIVERED
        self._deliver(count)
        return Fill.DELIVERED

    def _take_buffers(self) -> bool:
        """Pop chains until there is room for a frame; False to wait for more."""
        receive = self.receive
        while self._room < self.frame_room or not self._chains:
            chain = receive.pop()
            if chain is None:
                break
            try:
                views = chain.writable_views()
            except InvalidChainError as error:
                receive.guest_error("%s", error)
                receive.add_used(chain.head_index, 0)
                continue
            length = chain.writable_len
            if length < self.header_size:
                receive.guest_error("receive buffer of %d bytes", length)
                receive.add_used(chain.head_index, 0)
                continue
            self._chains.append(chain)
            self._views[-1:-1] = views  # before the overflow byte
            self._lengths.append(length)
            self._view_counts.append(len(views))
            self._room += length
            if not self.mergeable:
                break
        if not self._chains:
            return False
        if self._room >= self.frame_room:
            return True
        # Fewer bytes than the largest frame. Read anyway when the guest has
        # nothing left to give (every descriptor is with the device).
        return len(self._chains) >= receive.queue.size

    def _deliver(self, count: int) -> None:
        """Return the chains the frame of ``count`` bytes filled."""
        used = 0
        left = count
        while left > 0:
            left -= self._lengths[used]
            used += 1
        first = self._views[0]
        if self.clear_flags:
            first[0] = 0
        if self.header_size > NUM_BUFFERS_OFFSET:
            if len(first) >= self.header_size:
                _NUM_BUFFERS.pack_into(first, NUM_BUFFERS_OFFSET, used)
            else:
                _store(self._views, NUM_BUFFERS_OFFSET, _NUM_BUFFERS.pack(used))
        receive = self.receive
        left = count
        for chain, length in zip(self._chains[:used], self._lengths, strict=False):
            receive.add_used(chain.head_index, min(length, left))
            left -= length
        self._room -= sum(self._lengths[:used])
        views = sum(self._view_counts[:used])
        del self._chains[:used], self._lengths[:used], self._view_counts[:used], self._views[:views]
        counters = self.counters
        counters.rx_frames += 1
        counters.rx_bytes += count - self.header_size

    def release(self) -> None:
        """Drop the chains held (a reset: the driver forgets them too)."""
        self._chains.clear()
        self._views = [self._overflow]
        self._lengths.clear()
        self._view_counts.clear()
        self._room = 0


def _store(views: list[memoryview], offset: int, data: bytes) -> None:
    """Write ``data`` at ``offset`` into the byte stream ``views`` make up."""
    for view in views:
        if offset >= len(view):
            offset -= len(view)
            continue
        take = min(len(view) - offset, len(data))
        view[offset : offset + take] = data[:take]
        data = data[take:]
        offset = 0
        if not data:
            return
