"""Virtio: the device interface, its worker thread, the transports and the devices.

Names load on first use (PEP 562), so a VMM that only needs the PCI transport
and two devices does not pay at start-up for importing all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vm_devices._lazy import lazy_attributes

if TYPE_CHECKING:
    from vm_devices.virtio.defs import (
        COMMON_FEATURES,
        VIRTIO_F_ACCESS_PLATFORM,
        VIRTIO_F_IN_ORDER,
        VIRTIO_F_RING_EVENT_IDX,
        VIRTIO_F_RING_INDIRECT_DESC,
        VIRTIO_F_RING_PACKED,
        VIRTIO_F_VERSION_1,
        DeviceStatus,
        DeviceType,
    )
    from vm_devices.virtio.device import (
        ActiveQueue,
        VirtioDevice,
        VirtioDeviceBase,
        VirtioInterrupt,
    )
    from vm_devices.virtio.devices import Block, Console, Net, Rng, Tap
    from vm_devices.virtio.mmio import (
        MMIO_SIZE,
        MmioVirtioInterrupt,
        QueueNotifyEventFd,
        VirtioMmioDevice,
        mmio_cmdline,
    )
    from vm_devices.virtio.pci import NotifyEventFd, PciVirtioInterrupt, VirtioPciDevice
    from vm_devices.virtio.transport import NO_VECTOR, VirtioTransport
    from vm_devices.virtio.worker import EpollWorker, drain_eventfd

_LAZY = {
    "ActiveQueue": "vm_devices.virtio.device",
    "Block": "vm_devices.virtio.devices",
    "COMMON_FEATURES": "vm_devices.virtio.defs",
    "Console": "vm_devices.virtio.devices",
    "DeviceStatus": "vm_devices.virtio.defs",
    "DeviceType": "vm_devices.virtio.defs",
    "EpollWorker": "vm_devices.virtio.worker",
    "MMIO_SIZE": "vm_devices.virtio.mmio",
    "MmioVirtioInterrupt": "vm_devices.virtio.mmio",
    "NO_VECTOR": "vm_devices.virtio.transport",
    "Net": "vm_devices.virtio.devices",
    "NotifyEventFd": "vm_devices.virtio.pci",
    "PciVirtioInterrupt": "vm_devices.virtio.pci",
    "QueueNotifyEventFd": "vm_devices.virtio.mmio",
    "Rng": "vm_devices.virtio.devices",
    "Tap": "vm_devices.virtio.devices",
    "VIRTIO_F_ACCESS_PLATFORM": "vm_devices.virtio.defs",
    "VIRTIO_F_IN_ORDER": "vm_devices.virtio.defs",
    "VIRTIO_F_RING_EVENT_IDX": "vm_devices.virtio.defs",
    "VIRTIO_F_RING_INDIRECT_DESC": "vm_devices.virtio.defs",
    "VIRTIO_F_RING_PACKED": "vm_devices.virtio.defs",
    "VIRTIO_F_VERSION_1": "vm_devices.virtio.defs",
    "VirtioDevice": "vm_devices.virtio.device",
    "VirtioDeviceBase": "vm_devices.virtio.device",
    "VirtioInterrupt": "vm_devices.virtio.device",
    "VirtioMmioDevice": "vm_devices.virtio.mmio",
    "VirtioPciDevice": "vm_devices.virtio.pci",
    "VirtioTransport": "vm_devices.virtio.transport",
    "drain_eventfd": "vm_devices.virtio.worker",
    "mmio_cmdline": "vm_devices.virtio.mmio",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "COMMON_FEATURES",
    "MMIO_SIZE",
    "NO_VECTOR",
    "VIRTIO_F_ACCESS_PLATFORM",
    "VIRTIO_F_IN_ORDER",
    "VIRTIO_F_RING_EVENT_IDX",
    "VIRTIO_F_RING_INDIRECT_DESC",
    "VIRTIO_F_RING_PACKED",
    "VIRTIO_F_VERSION_1",
    "ActiveQueue",
    "Block",
    "Console",
    "DeviceStatus",
    "DeviceType",
    "EpollWorker",
    "MmioVirtioInterrupt",
    "Net",
    "NotifyEventFd",
    "PciVirtioInterrupt",
    "QueueNotifyEventFd",
    "Rng",
    "Tap",
    "VirtioDevice",
    "VirtioDeviceBase",
    "VirtioInterrupt",
    "VirtioMmioDevice",
    "VirtioPciDevice",
    "VirtioTransport",
    "drain_eventfd",
    "mmio_cmdline",
]
