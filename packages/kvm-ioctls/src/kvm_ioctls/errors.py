"""One error type for every failed KVM operation, carrying errno and the ioctl's name."""

from __future__ import annotations

import errno as errno_module
import os


class KvmError(Exception):
    """A KVM ioctl failed, or was refused before the system call for a bad argument.

    `errno` is the kernel's error number (EINVAL for arguments refused here),
    `ioctl` the C name of the request, `detail` what was wrong when the
    arguments were refused before any system call was made.
    """

    def __init__(self, ioctl: str, errno: int, detail: str | None = None) -> None:
        self.ioctl = ioctl
        self.errno = errno
        self.detail = detail
        reason = detail if detail is not None else os.strerror(errno)
        name = errno_module.errorcode.get(errno, str(errno))
        super().__init__(f"{ioctl} failed: {reason} ({name})")


def invalid_argument(ioctl: str, detail: str) -> KvmError:
    """The error for an argument refused before the system call."""
    return KvmError(ioctl, errno_module.EINVAL, detail)
