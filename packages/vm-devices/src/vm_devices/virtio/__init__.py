"""Virtio: the device interface, its worker thread, and (in submodules) transports and devices."""

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
from vm_devices.virtio.device import ActiveQueue, VirtioDevice, VirtioDeviceBase, VirtioInterrupt
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
