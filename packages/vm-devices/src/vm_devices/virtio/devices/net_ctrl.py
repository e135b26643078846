"""The virtio-net control queue (VIRTIO 1.2, 5.1.6.5): the commands this device
takes. Each request is a class and command byte, their data, and an ack byte
(the last writable byte). Anything else, or a command whose feature was not
negotiated, is answered ``VIRTIO_NET_ERR``.

- ``MQ / VQ_PAIRS_SET``: how many queue pairs the driver uses (1..max);
- ``GUEST_OFFLOADS / SET``: which negotiated guest offloads are on (the tap
  is told at once).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

from virtio_queue import DescriptorChain, InvalidChainError

from vm_devices.virtio.devices import net_defs as d
from vm_devices.virtio.devices.serve import GuestErrorLog

__all__ = ["ControlQueue"]

log = logging.getLogger(__name__)

_COMMAND = struct.Struct("<BB")
_PAIRS = struct.Struct("<BBH")
_OFFLOADS = struct.Struct("<BBQ")


class ControlQueue:
    """The control queue's chain handler. ``features`` are the negotiated ones;
    ``set_pairs`` and ``set_offloads`` apply a command and say whether they
    could."""

    def __init__(
        self,
        name: str,
        features: int,
        max_pairs: int,
        set_pairs: Callable[[int], bool],
        set_offloads: Callable[[int], bool],
    ) -> None:
        self.features = features
        self.max_pairs = max_pairs
        self.set_pairs = set_pairs
        self.set_offloads = set_offloads
        self.guest_error = GuestErrorLog(log, name)

    def handle(self, chain: DescriptorChain) -> int:
        try:
            readable = chain.readable_views()
            writable = chain.writable_views()
        except InvalidChainError as error:
            self.guest_error("%s", error)
            return 0
        if not writable:
            self.guest_error("command %d has no ack byte", chain.head_index)
            return 0
        command = (
            b"".join(bytes(view) for view in readable)[:16] if chain.readable_len <= 16 else b""
        )
        writable[-1][-1] = self._execute(command)
        return 1

    def _execute(self, command: bytes) -> int:
        if len(command) < _COMMAND.size:
            return d.VIRTIO_NET_ERR
        kind = _COMMAND.unpack_from(command)
        if (
            kind == (d.VIRTIO_NET_CTRL_MQ, d.VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
            and self.features & d.VIRTIO_NET_F_MQ
            and len(command) == _PAIRS.size
        ):
            pairs = _PAIRS.unpack(command)[2]
            if 1 <= pairs <= self.max_pairs and self.set_pairs(pairs):
                return d.VIRTIO_NET_OK
        elif (
            kind == (d.VIRTIO_NET_CTRL_GUEST_OFFLOADS, d.VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET)
            and self.features & d.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS
            and len(command) == _OFFLOADS.size
        ):
            offloads = _OFFLOADS.unpack(command)[2]
            allowed = self.features & d.GUEST_OFFLOAD_BITS
            if not offloads & ~allowed and self.set_offloads(offloads):
                return d.VIRTIO_NET_OK
        self.guest_error("control command %r refused", command[:2])
        return d.VIRTIO_NET_ERR
