"""What virtio-pci and virtio-mmio share: feature negotiation, device status, queue set-up.

:class:`VirtioTransport` holds the state the driver programs through either
transport's registers (VIRTIO 1.2 section 3.1) and applies the spec's rules
to it, so a hostile driver cannot get past them:

- Status bits are set in order (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK)
  and never cleared except by writing 0, which resets the device. FAILED may
  be set at any time; DEVICE_NEEDS_RESET is the device's to set.
- FEATURES_OK sticks only if the driver's features are a subset of the
  device's and include VERSION_1 (this project offers no legacy interface).
- A queue's size must be a power of two no larger than its maximum; anything
  else makes the queue unusable (the register reads back what was written).
  Queue registers are frozen once the queue is enabled or the device is live.
- At DRIVER_OK, every enabled queue must be usable (valid size, rings aligned
  and inside guest memory) or the device is not activated and reports
  DEVICE_NEEDS_RESET with a configuration-change interrupt.

The transports own the register layout and call the methods here with a lock
held (:attr:`VirtioTransport.lock`). Interrupt paths never take it: a device
worker may signal the driver while a vCPU resets the device and joins it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from virtio_queue import Queue
from vm_memory import GuestMemoryMmap

from vm_devices.virtio.defs import VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_VERSION_1, DeviceStatus
from vm_devices.virtio.device import ActiveQueue, VirtioDevice, VirtioInterrupt

__all__ = ["NO_VECTOR", "TransportQueue", "VirtioTransport"]

log = logging.getLogger(__name__)

NO_VECTOR = 0xFFFF
"""The MSI-X vector number meaning "no interrupt" (VIRTIO_MSI_NO_VECTOR)."""

_ACK, _DRIVER = int(DeviceStatus.ACKNOWLEDGE), int(DeviceStatus.DRIVER)
_FEATURES_OK, _DRIVER_OK = int(DeviceStatus.FEATURES_OK), int(DeviceStatus.DRIVER_OK)
_FAILED, _NEEDS_RESET = int(DeviceStatus.FAILED), int(DeviceStatus.DEVICE_NEEDS_RESET)
# Each bit a driver may set, and the bit that must be set before it.
_ORDER = ((_ACK, 0), (_DRIVER, _ACK), (_FEATURES_OK, _DRIVER), (_DRIVER_OK, _FEATURES_OK))


@dataclass(slots=True)
class TransportQueue:
    """One queue as the driver programs it: the :class:`Queue`, the size it wrote
    (``size_ok`` false if invalid), whether it enabled it, its MSI-X vector."""

    queue: Queue
    size: int
    size_ok: bool = True
    enabled: bool = False
    vector: int = NO_VECTOR
    eventfd: int = field(default=-1)


class VirtioTransport:
    """The driver-programmed state of one virtio device (see module docstring).

    ``interrupt`` is the transport's :class:`VirtioInterrupt`, handed to the
    device at activation. The transport owns one eventfd per queue
    (:meth:`close` closes them); they stay the same across resets, so the
    VMM registers them as ioeventfds once.
    """

    def __init__(
        self, device: VirtioDevice, memory: GuestMemoryMmap, interrupt: VirtioInterrupt
    ) -> None:
        self.device = device
        self.memory = memory
        self.interrupt = interrupt
        self.lock = threading.Lock()
        self.max_sizes = tuple(device.queue_max_sizes)
        self.eventfds = [os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) for _ in self.max_sizes]
        self.queues = self._new_queues()
        self.status = 0
        self.device_feature_select = 0
        self.driver_feature_select = 0
        self.driver_features = 0
        self.queue_select = 0
        self.config_generation = 0
        self.activated = False

    def _new_queues(self) -> list[TransportQueue]:
        return [
            TransportQueue(Queue(size), size, eventfd=fd)
            for size, fd in zip(self.max_sizes, self.eventfds, strict=True)
        ]

    def read_device_config(self, offset: int, data: memoryview) -> None:
        """The driver reads the device configuration space; a device bug reads as zeros."""
        try:
            self.device.read_config(offset, data)
        except Exception:  # a device bug must not kill the vCPU thread
            log.exception("device configuration read at %#x failed", offset)
            data[:] = bytes(len(data))

    def write_device_config(self, offset: int, data: memoryview | bytes) -> None:
        """The driver writes the device configuration space; a device bug is logged."""
        try:
            self.device.write_config(offset, data)
        except Exception:  # a device bug must not kill the vCPU thread
            log.exception("device configuration write at %#x failed", offset)

    def close(self) -> None:
        """Shut the device down, release the queues' views of guest memory (so it
        can be unmapped) and close the queue eventfds."""
        self.device.shutdown()
        for q in self.queues:
            q.queue.release()
        for fd in self.eventfds:
            os.close(fd)
        self.eventfds = []

    # Features -------------------------------------------------------------------

    def device_features_word(self) -> int:
        """The 32 feature bits selected by ``device_feature_select``."""
        if self.device_feature_select > 1:
            return 0
        return self.device.device_features >> (32 * self.device_feature_select) & 0xFFFF_FFFF

    def driver_features_word(self) -> int:
        if self.driver_feature_select > 1:
            return 0
        return self.driver_features >> (32 * self.driver_feature_select) & 0xFFFF_FFFF

    def write_driver_features_word(self, value: int) -> None:
        """Set the 32 driver feature bits selected; frozen once FEATURES_OK is set."""
        if self.driver_feature_select > 1 or self.status & _FEATURES_OK:
            return
        shift = 32 * self.driver_feature_select
        self.driver_features = self.driver_features & ~(0xFFFF_FFFF << shift) | (
            (value & 0xFFFF_FFFF) << shift
        )

    # Status ---------------------------------------------------------------------

    def write_status(self, value: int) -> None:
        """A driver write of the device status (0 resets the device)."""
        value &= 0xFF
        if value == 0:
            self.reset()
            return
        status = self.status
        if status & ~value & ~_NEEDS_RESET:
            log.debug("virtio: status %#x -> %#x clears bits; ignored", status, value)
            return
        if value & _FAILED:
            status |= _FAILED
        for bit, needs in _ORDER:
            if value & bit and not status & bit and (needs == 0 or status & needs):
                if bit == _FEATURES_OK and not self._features_acceptable():
                    continue
                status |= bit
        newly = status & ~self.status
        self.status = status
        if newly & _FEATURES_OK:
            self.device.ack_features(self.driver_features)
        if newly & _DRIVER_OK:
            self._activate()

    def _features_acceptable(self) -> bool:
        features = self.driver_features
        offered = self.device.device_features
        if features & ~offered or not features & VIRTIO_F_VERSION_1:
            log.debug("virtio: driver features %#x refused (offered %#x)", features, offered)
            return False
        return True

    def _activate(self) -> None:
        enabled = [(index, q) for index, q in enumerate(self.queues) if q.enabled]
        memory = self.memory
        event_idx = bool(self.driver_features & VIRTIO_F_RING_EVENT_IDX)
        for index, q in enabled:
            if not q.size_ok or not q.queue.is_valid(memory):
                log.warning("virtio: queue %d is not usable (%r)", index, q.queue)
                self.needs_reset()
                return
            q.queue.event_idx_enabled = event_idx
        active = [ActiveQueue(index, q.queue, q.eventfd) for index, q in enabled]
        try:
            self.device.activate(memory, self.interrupt, active)
        except Exception:  # a device refusing this set-up must not kill the vCPU
            log.exception("virtio: device type %d failed to activate", self.device.device_type)
            self.needs_reset()
            return
        self.activated = True

    def needs_reset(self) -> None:
        """Set DEVICE_NEEDS_RESET and tell the driver its configuration changed."""
        self.status |= _NEEDS_RESET
        self.interrupt.notify_config()

    def reset(self) -> None:
        """Back to the state after power-on (3.1.1 step 1): device reset, queues default."""
        if self.activated or self.status & _FEATURES_OK:
            try:
                self.device.reset()
            except Exception:
                log.exception("virtio: device type %d failed to reset", self.device.device_type)
        self.activated = False
        self.status = 0
        self.device_feature_select = self.driver_feature_select = 0
        self.driver_features = 0
        self.queue_select = 0
        for q in self.queues:  # the device stopped using them: let go of guest memory
            q.queue.release()
        self.queues = self._new_queues()

    # Queues -----------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """DRIVER_OK is set: queue registers no longer change."""
        return bool(self.status & _DRIVER_OK)

    def selected(self) -> TransportQueue | None:
        """The queue ``queue_select`` names, or None for an index past the last queue."""
        index = self.queue_select
        return self.queues[index] if 0 <= index < len(self.queues) else None

    def configurable(self) -> TransportQueue | None:
        """The selected queue if the driver may still change it."""
        q = self.selected()
        if q is None or q.enabled or self.live:
            return None
        return q

    def set_queue_size(self, size: int) -> None:
        q = self.configurable()
        if q is None:
            return
        q.size = size
        q.size_ok = 0 < size <= q.queue.max_size and not size & (size - 1)
        if q.size_ok:
            q.queue.size = size
        else:
            log.debug("virtio: queue %d size %d refused", self.queue_select, size)

    def set_queue_enabled(self, enabled: bool) -> None:
        """queue_enable / QueueReady. Clearing it is honoured only before DRIVER_OK."""
        q = self.selected()
        if q is None or self.live:
            return
        q.enabled = enabled
        q.queue.ready = enabled

    def set_queue_address(self, area: str, low: int | None, high: int | None) -> None:
        """Replace 32-bit halves of ``area``'s address: "desc", "driver" or "device"."""
        q = self.configurable()
        if q is None:
            return
        low = None if low is None else low & 0xFFFF_FFFF
        high = None if high is None else high & 0xFFFF_FFFF
        if area == "desc":
            q.queue.set_desc_table_address(low, high)
        elif area == "driver":
            q.queue.set_avail_ring_address(low, high)
        else:
            q.queue.set_used_ring_address(low, high)
