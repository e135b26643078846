"""Errors of the virtio devices: host resources they could not set up.

Guest mistakes are never raised: a bad request gets an error status (or is
returned unused) and the device goes on. These errors are for the VMM, at
device creation or activation, and carry the offending values.
"""

from __future__ import annotations

import os

from vm_devices.errors import VmDevicesError

__all__ = [
    "ActivationError",
    "DiskLockedError",
    "DiskOpenError",
    "NetlinkError",
    "PauseTimeoutError",
    "TapError",
    "VirtioDeviceError",
]


class VirtioDeviceError(VmDevicesError):
    """Base class of the virtio devices' errors. ``errno`` is the host error
    behind it (0 when there is none)."""

    errno: int = 0


def _with_errno(text: str, errno: int) -> str:
    return f"{text} ({os.strerror(errno)})" if errno else text


class DiskOpenError(VirtioDeviceError):
    """The disk image at ``path`` could not be opened or used; ``reason`` says why."""

    def __init__(self, path: str, reason: str, errno: int = 0) -> None:
        self.path = path
        self.reason = reason
        self.errno = errno
        super().__init__(_with_errno(f"disk image {path}: {reason}", errno))


class DiskLockedError(DiskOpenError):
    """Another process (or device) holds a conflicting lock on the image: two
    writers, or a writer and a reader, would corrupt what the guests see."""

    def __init__(self, path: str, readonly: bool, errno: int) -> None:
        self.readonly = readonly
        wanted = "a shared (read-only)" if readonly else "an exclusive (read-write)"
        super().__init__(path, f"cannot take {wanted} lock: the image is in use", errno)


class TapError(VirtioDeviceError):
    """A tap interface could not be created or set up; ``name`` is the interface
    (or the fd, for a pre-opened one) and ``operation`` the step that failed."""

    def __init__(self, name: str, operation: str, errno: int = 0, detail: str = "") -> None:
        self.name = name
        self.operation = operation
        self.errno = errno
        text = f"tap {name}: {operation} failed"
        if detail:
            text += f": {detail}"
        super().__init__(_with_errno(text, errno))


class NetlinkError(VirtioDeviceError):
    """The kernel refused a netlink request (``request`` names it) with ``errno``."""

    def __init__(self, request: str, errno: int) -> None:
        self.request = request
        self.errno = errno
        super().__init__(_with_errno(f"netlink {request} refused", errno))


class PauseTimeoutError(VirtioDeviceError):
    """``workers`` of ``device`` were still in a handler ``timeout`` seconds after
    being asked to pause (a host I/O that does not return)."""

    def __init__(self, device: str, workers: list[str], timeout: float) -> None:
        self.device = device
        self.workers = workers
        self.timeout = timeout
        super().__init__(f"{device}: {', '.join(workers)} did not pause within {timeout:g} s")


class ActivationError(VirtioDeviceError, ValueError):
    """The transport activated a device wrongly (an unknown queue index, or twice
    without a reset): a VMM bug, not the guest's."""

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"{device}: {reason}")
