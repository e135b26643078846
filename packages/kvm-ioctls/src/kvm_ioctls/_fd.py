"""A KVM file descriptor and the one place where ioctls are issued and errors mapped."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
from typing import TYPE_CHECKING, Any, Self

from kvm_ioctls.errors import KvmError

if TYPE_CHECKING:
    from kvm_ioctls.stats import KvmStats


class KvmFd:
    """Owns one file descriptor; closing twice is harmless, using it closed is a KvmError."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        if not isinstance(fd, int) or isinstance(fd, bool) or fd < 0:
            raise TypeError(f"expected an open file descriptor (int >= 0), got {fd!r}")
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_stats_fd(self) -> KvmStats:
        """KVM's binary statistics of this VM or vCPU (KVM_GET_STATS_FD)."""
        from kvm_bindings import KVM_GET_STATS_FD

        from kvm_ioctls.stats import KvmStats

        return KvmStats(self._ioctl("KVM_GET_STATS_FD", KVM_GET_STATS_FD, 0))

    def _ioctl(self, name: str, request: int, arg: Any = 0) -> int:
        """Issue one ioctl; ctypes structs are passed by reference and filled in place."""
        fd = self._fd
        if fd < 0:
            raise KvmError(name, errno.EBADF, "the file descriptor is closed")
        try:
            result: int = fcntl.ioctl(fd, request, arg, True)
        except OSError as error:
            raise KvmError(name, error.errno or errno.EIO) from None
        return result

    def _ioctl_ulong(self, name: str, request: int, value: int) -> int:
        """Issue an ioctl whose argument is an unsigned long (fcntl.ioctl takes a C int only)."""
        fd = self._fd
        if fd < 0:
            raise KvmError(name, errno.EBADF, "the file descriptor is closed")
        result: int = _libc_ioctl(fd, request, value)
        if result < 0:
            raise KvmError(name, ctypes.get_errno())
        return result


_libc = ctypes.CDLL(None, use_errno=True)
_libc_ioctl = _libc.ioctl
_libc_ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]
_libc_ioctl.restype = ctypes.c_int
