"""The virtio devices: block, net (over a tap), entropy (rng) and console.

Each implements :class:`~vm_devices.virtio.device.VirtioDevice` and serves
its queues in worker threads of its own, straight between guest memory and
host files, taps and terminals. (A tap's host-side address is set with
:func:`vm_devices.virtio.devices.netlink.configure_interface`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vm_devices._lazy import lazy_attributes

if TYPE_CHECKING:
    from vm_devices.virtio.devices.block import Block
    from vm_devices.virtio.devices.block_request import RequestType, Status
    from vm_devices.virtio.devices.console import Console
    from vm_devices.virtio.devices.disk import DiskImage
    from vm_devices.virtio.devices.errors import (
        ActivationError,
        DiskLockedError,
        DiskOpenError,
        NetlinkError,
        PauseTimeoutError,
        TapError,
        VirtioDeviceError,
    )
    from vm_devices.virtio.devices.net import Net, parse_mac
    from vm_devices.virtio.devices.rng import Rng
    from vm_devices.virtio.devices.tap import Tap

# Loaded on first use (PEP 562): a VMM imports only the devices it builds.
_LAZY = {
    "ActivationError": "vm_devices.virtio.devices.errors",
    "Block": "vm_devices.virtio.devices.block",
    "Console": "vm_devices.virtio.devices.console",
    "DiskImage": "vm_devices.virtio.devices.disk",
    "DiskLockedError": "vm_devices.virtio.devices.errors",
    "DiskOpenError": "vm_devices.virtio.devices.errors",
    "Net": "vm_devices.virtio.devices.net",
    "NetlinkError": "vm_devices.virtio.devices.errors",
    "PauseTimeoutError": "vm_devices.virtio.devices.errors",
    "RequestType": "vm_devices.virtio.devices.block_request",
    "Rng": "vm_devices.virtio.devices.rng",
    "Status": "vm_devices.virtio.devices.block_request",
    "Tap": "vm_devices.virtio.devices.tap",
    "TapError": "vm_devices.virtio.devices.errors",
    "VirtioDeviceError": "vm_devices.virtio.devices.errors",
    "parse_mac": "vm_devices.virtio.devices.net",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "ActivationError",
    "Block",
    "Console",
    "DiskImage",
    "DiskLockedError",
    "DiskOpenError",
    "Net",
    "NetlinkError",
    "PauseTimeoutError",
    "RequestType",
    "Rng",
    "Status",
    "Tap",
    "TapError",
    "VirtioDeviceError",
    "parse_mac",
]
