"""The virtio-mmio transport, version 2 (VIRTIO 1.2 section 4.2).

:class:`VirtioMmioDevice` is a 4 KiB register block (a
:class:`~vm_devices.bus.BusDevice` for the MMIO bus) in front of a
:class:`~vm_devices.virtio.device.VirtioDevice`. Registers below 0x100 are
32-bit and accessed only as aligned dwords; the device configuration space
follows at 0x100. Interrupts go out on an
:class:`~vm_devices.interrupt.InterruptLine`: each notification sets its bit
in InterruptStatus and triggers the line (an edge per notification, as an
irqfd delivers it); the driver acknowledges through InterruptACK.

Linux finds such devices on its command line (:func:`mmio_cmdline`). The VMM
registers :meth:`VirtioMmioDevice.ioeventfds` with KVM: QueueNotify with a
datamatch on each queue index, so kicks never reach the bus.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import NamedTuple

from vm_memory import GuestMemoryMmap

from vm_devices.interrupt import InterruptLine
from vm_devices.virtio.device import VirtioDevice
from vm_devices.virtio.transport import VirtioTransport

__all__ = [
    "MMIO_CONFIG_OFFSET",
    "MMIO_MAGIC",
    "MMIO_SIZE",
    "MMIO_VERSION",
    "QUEUE_NOTIFY",
    "MmioVirtioInterrupt",
    "QueueNotifyEventFd",
    "VirtioMmioDevice",
    "mmio_cmdline",
]

log = logging.getLogger(__name__)

MMIO_MAGIC = 0x7472_6976  # "virt", little-endian
MMIO_VERSION = 2
MMIO_VENDOR_ID = 0x1AF4
MMIO_SIZE = 0x1000
MMIO_CONFIG_OFFSET = 0x100
QUEUE_NOTIFY = 0x050
INTERRUPT_USED_BUFFER, INTERRUPT_CONFIG_CHANGE = 1, 2

_QUEUE_ADDRESSES = {
    0x080: ("desc", 0),
    0x084: ("desc", 1),
    0x090: ("driver", 0),
    0x094: ("driver", 1),
    0x0A0: ("device", 0),
    0x0A4: ("device", 1),
}
_NO_SHARED_MEMORY = (0x0B0, 0x0B4, 0x0B8, 0x0BC)  # SHMLen/SHMBase: all ones, no region


class QueueNotifyEventFd(NamedTuple):
    """Register ``eventfd`` as a KVM ioeventfd at MMIO ``address``, length 4,
    matching the 32-bit value ``datamatch`` (the queue index)."""

    address: int
    eventfd: int
    datamatch: int


def mmio_cmdline(base: int, irq: int, size: int = MMIO_SIZE) -> str:
    """The kernel parameter that makes Linux probe a device at ``base`` on ``irq``:
    ``virtio_mmio.device=4K@0xd0000000:5``."""
    if size <= 0 or base < 0 or irq < 0:
        raise ValueError(f"virtio-mmio device {size:#x}@{base:#x}:{irq} is not valid")
    if size % (1 << 20) == 0:
        shown = f"{size >> 20}M"
    elif size % 1024 == 0:
        shown = f"{size >> 10}K"
    else:
        shown = str(size)
    return f"virtio_mmio.device={shown}@{base:#x}:{irq}"


class VirtioMmioDevice:
    """A virtio device behind a virtio-mmio register block."""

    def __init__(
        self, device: VirtioDevice, memory: GuestMemoryMmap, interrupt: InterruptLine
    ) -> None:
        self.device = device
        self.line = interrupt
        self._interrupt_status = 0
        self._status_lock = threading.Lock()
        self.interrupt = MmioVirtioInterrupt(self)
        self.transport = VirtioTransport(device, memory, self.interrupt)

    @property
    def interrupt_status(self) -> int:
        return self._interrupt_status

    def ioeventfds(self, base: int) -> list[QueueNotifyEventFd]:
        """QueueNotify of a block at ``base``, one entry per queue."""
        return [
            QueueNotifyEventFd(base + QUEUE_NOTIFY, fd, index)
            for index, fd in enumerate(self.transport.eventfds)
        ]

    def close(self) -> None:
        """Shut the device down and close the queue eventfds."""
        self.transport.close()

    def raise_interrupt(self, bits: int) -> None:
        with self._status_lock:
            self._interrupt_status |= bits
        self.line.trigger()

    # BusDevice ----------------------------------------------------------------------

    def read(self, base: int, offset: int, data: memoryview) -> None:
        size = len(data)
        if offset >= MMIO_CONFIG_OFFSET:
            self.transport.read_device_config(offset - MMIO_CONFIG_OFFSET, data)
            return
        value = 0
        if size == 4 and not offset & 3:
            with self.transport.lock:
                value = self._register(offset)
        data[:] = value.to_bytes(size, "little")

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        if offset >= MMIO_CONFIG_OFFSET:
            self.transport.write_device_config(offset - MMIO_CONFIG_OFFSET, data)
            return
        if len(data) != 4 or offset & 3:
            return
        value = int.from_bytes(data, "little")
        if offset == QUEUE_NOTIFY:
            eventfds = self.transport.eventfds
            if value < len(eventfds):
                try:  # noqa: SIM105 (hot path: no context manager per kick)
                    os.eventfd_write(eventfds[value], 1)
                except OSError:  # a full counter: the kick is pending already
                    pass
        elif offset == 0x064:  # InterruptACK
            with self._status_lock:
                self._interrupt_status &= ~value
        else:
            with self.transport.lock:
                self._write_register(offset, value)

    def _register(self, offset: int) -> int:
        transport = self.transport
        if offset == 0x000:
            return MMIO_MAGIC
        if offset == 0x004:
            return MMIO_VERSION
        if offset == 0x008:
            return int(self.device.device_type)
        if offset == 0x00C:
            return MMIO_VENDOR_ID
        if offset == 0x010:
            return transport.device_features_word()
        if offset == 0x034:  # QueueNumMax: 0 says the queue does not exist
            q = transport.selected()
            return 0 if q is None else q.queue.max_size
        if offset == 0x044:
            q = transport.selected()
            return int(q is not None and q.enabled)
        if offset == 0x060:
            return self._interrupt_status
        if offset == 0x070:
            return transport.status
        if offset in _NO_SHARED_MEMORY:
            return 0xFFFF_FFFF
        if offset == 0x0FC:
            return transport.config_generation & 0xFFFF_FFFF
        return 0

    def _write_register(self, offset: int, value: int) -> None:
        transport = self.transport
        if offset == 0x014:
            transport.device_feature_select = value
        elif offset == 0x020:
            transport.write_driver_features_word(value)
        elif offset == 0x024:
            transport.driver_feature_select = value
        elif offset == 0x030:
            transport.queue_select = value
        elif offset == 0x038:
            transport.set_queue_size(value)
        elif offset == 0x044 and value in (0, 1):
            transport.set_queue_enabled(bool(value))
        elif offset == 0x070:
            transport.write_status(value)
            if value == 0:
                with self._status_lock:
                    self._interrupt_status = 0
        elif offset in _QUEUE_ADDRESSES:
            area, half = _QUEUE_ADDRESSES[offset]
            transport.set_queue_address(area, None if half else value, value if half else None)


class MmioVirtioInterrupt:
    """The device's :class:`~vm_devices.virtio.device.VirtioInterrupt` over the line."""

    def __init__(self, mmio: VirtioMmioDevice) -> None:
        self._mmio = mmio

    def notify_queue(self, queue_index: int) -> None:
        self._mmio.raise_interrupt(INTERRUPT_USED_BUFFER)

    def notify_config(self) -> None:
        self._mmio.transport.config_generation += 1
        self._mmio.raise_interrupt(INTERRUPT_CONFIG_CHANGE)
