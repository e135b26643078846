"""VIRTIO 1.2 constants shared by the transports and the devices."""

from __future__ import annotations

import enum


class DeviceType(enum.IntEnum):
    """Virtio device IDs (spec 5)."""

    NET = 1
    BLOCK = 2
    CONSOLE = 3
    RNG = 4
    BALLOON = 5
    SCSI = 8
    P9 = 9
    IOMMU = 23
    MEM = 24
    FS = 26
    PMEM = 27
    VSOCK = 19


class DeviceStatus(enum.IntFlag):
    """The device status field (spec 2.1)."""

    ACKNOWLEDGE = 1
    DRIVER = 2
    DRIVER_OK = 4
    FEATURES_OK = 8
    DEVICE_NEEDS_RESET = 64
    FAILED = 128


# Feature bits every device may offer (spec 6), as plain ints for the hot paths.
VIRTIO_F_RING_INDIRECT_DESC = 1 << 28
VIRTIO_F_RING_EVENT_IDX = 1 << 29
VIRTIO_F_VERSION_1 = 1 << 32
VIRTIO_F_ACCESS_PLATFORM = 1 << 33
VIRTIO_F_RING_PACKED = 1 << 34
VIRTIO_F_IN_ORDER = 1 << 35

# What this project's split-queue devices offer on top of their own features.
COMMON_FEATURES = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX | VIRTIO_F_RING_INDIRECT_DESC
