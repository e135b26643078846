"""The virtio devices: block, net (over a tap), entropy (rng) and console.

Each implements :class:`~vm_devices.virtio.device.VirtioDevice` and serves
its queues in worker threads of its own, straight between guest memory and
host files, taps and terminals. (A tap's host-side address is set with
:func:`vm_devices.virtio.devices.netlink.configure_interface`.)
"""

from vm_devices.virtio.devices.block import Block
from vm_devices.virtio.devices.block_request import RequestType, Status
from vm_devices.virtio.devices.console import Console
from vm_devices.virtio.devices.disk import DiskImage
from vm_devices.virtio.devices.errors import (
    ActivationError,
    DiskLockedError,
    DiskOpenError,
    NetlinkError,
    TapError,
    VirtioDeviceError,
)
from vm_devices.virtio.devices.net import Net, parse_mac
from vm_devices.virtio.devices.rng import Rng
from vm_devices.virtio.devices.tap import Tap

__all__ = [
    "ActivationError",
    "Block",
    "Console",
    "DiskImage",
    "DiskLockedError",
    "DiskOpenError",
    "Net",
    "NetlinkError",
    "RequestType",
    "Rng",
    "Status",
    "Tap",
    "TapError",
    "VirtioDeviceError",
    "parse_mac",
]
