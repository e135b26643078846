"""virtio-net over a tap (VIRTIO 1.2, 5.1).

Queue pair ``i`` is receive queue ``2i`` and transmit queue ``2i + 1``, served
by one worker thread with tap fd ``i``; the control queue (``2N``, or 2
without ``VIRTIO_NET_F_MQ``) runs in the first pair's worker. The guest's
offloads are the tap's: checksum and segmentation features are offered as
far as the kernel's tap accepts them, and what the guest acks is what the
tap is told (``TUNSETOFFLOAD``). See :mod:`.net_io` for the data path.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Sequence
from typing import Final

from vm_memory import GuestMemoryMmap

from vm_devices.errors import DeviceConfigError
from vm_devices.virtio.defs import VIRTIO_F_VERSION_1, DeviceType
from vm_devices.virtio.device import ActiveQueue, VirtioDeviceBase, VirtioInterrupt
from vm_devices.virtio.devices import net_defs as d
from vm_devices.virtio.devices.errors import ActivationError, TapError
from vm_devices.virtio.devices.net_ctrl import ControlQueue
from vm_devices.virtio.devices.net_io import NetCounters, NetReceiver, NetTransmitter
from vm_devices.virtio.devices.rx import ReceiveQueue
from vm_devices.virtio.devices.serve import QueueServer, WorkerGroup
from vm_devices.virtio.devices.tap import Tap

__all__ = ["Net", "parse_mac"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE: Final = 256
CONFIG: Final = struct.Struct("<6sHHH")  # mac, status, max_virtqueue_pairs, mtu
MAX_FRAME: Final = 65550  # a 64 KiB GSO frame with its Ethernet (and VLAN) header
MAX_PLAIN_FRAME: Final = 1518  # Ethernet, VLAN-tagged, without FCS
MIN_MTU: Final = 68  # IPv4's minimum; the config space's MTU field is a u16
MAX_MTU: Final = 65535


class Net(VirtioDeviceBase):
    """A network device on ``tap`` (one queue pair per tap fd). ``mac`` is the
    guest's address (random, locally administered, when None). ``mtu`` is
    offered to the driver (``VIRTIO_NET_F_MTU``); ``offload_csum``,
    ``offload_tso`` and ``offload_ufo`` off withhold those offloads from the
    guest, as CH's ``--net offload_*=off`` do. The device owns the tap and
    closes it at :meth:`shutdown`."""

    def __init__(
        self,
        tap: Tap,
        *,
        mac: str | bytes | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        mtu: int | None = None,
        offload_csum: bool = True,
        offload_tso: bool = True,
        offload_ufo: bool = True,
        name: str = "virtio-net",
    ) -> None:
        if queue_size < 2 or queue_size > 32768 or queue_size & (queue_size - 1):
            raise DeviceConfigError(
                name, "queue_size", queue_size, "is not a power of two 2..32768"
            )
        self.mac = parse_mac(mac, name)
        self.tap = tap
        self.name = name
        self.pairs = tap.queue_pairs
        offloads = tap.supported_offloads()
        features = d.BASE_FEATURES | (d.VIRTIO_NET_F_MQ if self.pairs > 1 else 0)
        for feature, needed in d.GUEST_OFFLOADS.items():
            if offloads & needed == needed:
                features |= feature
        if offloads & d.TUN_F_UFO:
            features |= d.VIRTIO_NET_F_HOST_UFO
        for enabled, withheld in (
            (offload_csum, d.OFFLOAD_CSUM_FEATURES),
            (offload_tso, d.OFFLOAD_TSO_FEATURES),
            (offload_ufo, d.OFFLOAD_UFO_FEATURES),
        ):
            if not enabled:
                features &= ~withheld
        if mtu is not None:
            if not MIN_MTU <= mtu <= MAX_MTU:
                raise DeviceConfigError(name, "mtu", mtu, f"is not {MIN_MTU}..{MAX_MTU}")
            features |= d.VIRTIO_NET_F_MTU
        sizes = [queue_size] * (2 * self.pairs + 1)
        super().__init__(DeviceType.NET, sizes, features)
        self._config = bytearray(
            CONFIG.pack(self.mac, d.VIRTIO_NET_S_LINK_UP, self.pairs, mtu or 0)
        )
        self._workers = WorkerGroup()
        self._receivers: list[NetReceiver] = []
        self._counters: list[NetCounters] = []
        self._retired: dict[str, int] = {}
        self.control: ControlQueue | None = None
        self.active_pairs = 1

    @classmethod
    def open(
        cls,
        *,
        tap: str | None = None,
        fds: Sequence[int] = (),
        mac: str | bytes | None = None,
        ip: str | None = None,
        mask: str | None = None,
        num_queues: int = 2,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        name: str = "virtio-net",
    ) -> Net:
        """What the VMM does for ``--net tap=,mac=,ip=,mask=,num_queues=,
        queue_size=,fd=``: create tap ``tap`` (or take the pre-opened ``fds``,
        one per queue pair), give the host end ``ip``/``mask`` and bring it up
        (over rtnetlink), then make the device."""
        if num_queues < 2 or num_queues % 2:
            raise DeviceConfigError(name, "num_queues", num_queues, "is not an even number >= 2")
        if mask is not None and ip is None:
            raise DeviceConfigError(name, "mask", mask, "needs ip")
        if fds and len(fds) != num_queues // 2:
            raise DeviceConfigError(
                name, "fd", list(fds), f"needs one fd per queue pair ({num_queues // 2})"
            )
        device = Tap.from_fds(fds) if fds else Tap.create(tap, queue_pairs=num_queues // 2)
        try:
            from vm_devices.virtio.devices.netlink import configure_interface

            try:
                configure_interface(device.name, ip, mask)
            except ValueError as error:
                raise DeviceConfigError(name, "ip", f"{ip}/{mask}", str(error)) from None
            return cls(device, mac=mac, queue_size=queue_size, name=name)
        except BaseException:
            device.close()
            raise

    @property
    def active(self) -> bool:
        return bool(self._workers.workers)

    @property
    def needs_reset(self) -> bool:
        failed = any(r.receive.failure for r in self._receivers)
        return failed or bool(self._workers.failures)

    @property
    def header_size(self) -> int:
        """The virtio-net header: 12 bytes for a modern driver (or with
        mergeable buffers), 10 for a legacy one."""
        if self.has_feature(VIRTIO_F_VERSION_1 | d.VIRTIO_NET_F_MRG_RXBUF):
            return 12
        return 10

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        if self.active:
            raise ActivationError(self.name, "activated twice without a reset")
        pairs = self.pairs if self.has_feature(d.VIRTIO_NET_F_MQ) else 1
        control_index = 2 * pairs if self.has_feature(d.VIRTIO_NET_F_CTRL_VQ) else -1
        by_index = {active.index: active for active in queues}
        for index in by_index:
            if index != control_index and not 0 <= index < 2 * pairs:
                raise ActivationError(self.name, f"no queue {index}")
        header = self.header_size
        self.tap.set_vnet_hdr_size(header)
        self.tap.set_queues(1)  # multi-queue starts with one pair (5.1.6.5.5)
        self.active_pairs = 1
        self.tap.set_offloads(d.tap_offloads(self.acked_features))
        guest_gso = self.has_feature(d.GUEST_GSO)
        room = header + (MAX_FRAME if guest_gso else MAX_PLAIN_FRAME)
        for pair in range(pairs):
            worker = self._workers.worker(f"{self.name}-q{pair}")
            counters = NetCounters()
            self._counters.append(counters)
            fd = self.tap.fds[pair]
            rx = by_index.get(2 * pair)
            if rx is not None:
                receive = ReceiveQueue(f"{self.name} rx{pair}", rx, memory, interrupt, worker)
                receiver = NetReceiver(
                    receive,
                    fd,
                    header_size=header,
                    mergeable=self.has_feature(d.VIRTIO_NET_F_MRG_RXBUF),
                    frame_room=room,
                    clear_flags=not self.has_feature(d.VIRTIO_NET_F_GUEST_CSUM),
                    counters=counters,
                )
                receive.attach_source(fd, receiver.fill)
                self._receivers.append(receiver)
            tx = by_index.get(2 * pair + 1)
            if tx is not None:
                transmitter = NetTransmitter(fd, header, counters, f"{self.name} tx{pair}")
                server = QueueServer(
                    f"{self.name} tx{pair}", tx, memory, interrupt, transmitter.handle
                )
                self._workers.serve(worker, server)
            if pair == 0 and control_index in by_index:
                self.control = ControlQueue(
                    f"{self.name} ctrl",
                    self.acked_features,
                    self.pairs,
                    self._set_pairs,
                    self._set_guest_offloads,
                )
                server = QueueServer(
                    f"{self.name} ctrl",
                    by_index[control_index],
                    memory,
                    interrupt,
                    self.control.handle,
                )
                self._workers.serve(worker, server)
        self._workers.start()

    def _set_pairs(self, pairs: int) -> bool:
        """The driver uses ``pairs`` queue pairs: the tap steers frames to those."""
        try:
            self.tap.set_queues(pairs)
        except TapError as error:
            log.warning("%s: %s", self.name, error)
            return False
        self.active_pairs = pairs
        return True

    def _set_guest_offloads(self, features: int) -> bool:
        try:
            self.tap.set_offloads(d.tap_offloads(features))
        except TapError as error:
            log.warning("%s: %s", self.name, error)
            return False
        for receiver in self._receivers:
            receiver.clear_flags = not features & d.VIRTIO_NET_F_GUEST_CSUM
        return True

    def pause(self) -> None:
        self._workers.pause(self.name)

    def resume(self) -> None:
        self._workers.resume()

    def reset(self) -> None:
        self._workers.stop()
        if self.tap.fds:
            self.tap.set_queues(self.pairs)
        for receiver in self._receivers:
            receiver.release()
        self._receivers.clear()
        self._retired = self.counters()
        self._counters.clear()
        self.control = None
        super().reset()

    def counters(self) -> dict[str, int]:
        totals = dict.fromkeys(NetCounters.__slots__, 0)
        for name in totals:
            totals[name] = self._retired.get(name, 0)
            totals[name] += sum(getattr(counters, name) for counters in self._counters)
        return totals

    def shutdown(self) -> None:
        self.reset()
        self.tap.close()


def parse_mac(mac: str | bytes | None, device: str = "virtio-net") -> bytes:
    """Six bytes from ``52:54:00:12:34:56`` (or bytes); None: a random
    locally administered unicast address."""
    if mac is None:
        raw = bytearray(os.urandom(6))
        raw[0] = (raw[0] & 0xFC) | 0x02  # unicast, locally administered
        return bytes(raw)
    if isinstance(mac, bytes):
        raw = bytearray(mac)
    else:
        try:
            parts = mac.split(":")
            raw = bytearray(int(part, 16) for part in parts if len(part) in (1, 2))
        except ValueError:
            raw = bytearray()
        if len(raw) != len(mac.split(":")):
            raw = bytearray()
    if len(raw) != 6:
        raise DeviceConfigError(device, "mac", mac, "is not six bytes (aa:bb:cc:dd:ee:ff)")
    if raw[0] & 1:
        raise DeviceConfigError(device, "mac", mac, "is a multicast address")
    return bytes(raw)
