"""The one door to an image's host file: positioned I/O whose failures are typed.

Every format reads and writes its file through :class:`HostFile`, so an
``OSError`` from the host (EIO, ENOSPC, a file shrunk under us) always
surfaces as :class:`ImageIOError`, and short reads are handled in one place.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from stat import S_ISBLK

from block_formats.errors import CorruptImageError, ImageIOError

__all__ = ["HostFile"]

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
_FALLOC_FL_ZERO_RANGE = 0x10
_MAX_OFFSET = (1 << 63) - 1  # off_t
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.ENODEV}


def _load_fallocate() -> Callable[[int, int, int, int], int] | None:
    """glibc's fallocate(2), which the os module does not expose with its mode flags."""
    try:
        function = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    loaded: Callable[[int, int, int, int], int] = function
    return loaded


_fallocate = _load_fallocate()


def _check_offset(offset: int, length: int) -> None:
    """An offset taken from image metadata may be past anything a file can hold."""
    if offset < 0 or offset + length > _MAX_OFFSET:
        raise CorruptImageError(offset, "offset outside what a file can hold")


class HostFile:
    """Positioned reads and writes on a file descriptor, errors as ImageIOError."""

    def __init__(self, fd: int, *, owned: bool = True) -> None:
        self.fd = fd
        self._owned = owned

    def size(self) -> int:
        """The file's length (a block device's too, which fstat reports as 0)."""
        try:
            stat = os.fstat(self.fd)
            if not S_ISBLK(stat.st_mode):
                return stat.st_size
            position = os.lseek(self.fd, 0, os.SEEK_CUR)
            end = os.lseek(self.fd, 0, os.SEEK_END)
            os.lseek(self.fd, position, os.SEEK_SET)  # the fd may be borrowed
            return end
        except OSError as error:
            raise ImageIOError("size", 0, error) from error

    def identity(self) -> tuple[int, int]:
        """(st_dev, st_ino): what a backing chain compares to find loops."""
        try:
            stat = os.fstat(self.fd)
        except OSError as error:
            raise ImageIOError("fstat", 0, error) from error
        return stat.st_dev, stat.st_ino

    def read_into(self, offset: int, view: memoryview) -> int:
        """Fill `view` from `offset`; bytes past end of file read as zeros.
        Returns how many bytes came from the file."""
        _check_offset(offset, len(view))
        done = 0
        while done < len(view):
            try:
                count = os.preadv(self.fd, [view[done:]], offset + done)
            except InterruptedError:
                continue
            except OSError as error:
                raise ImageIOError("read", offset + done, error) from error
            if count == 0:
                view[done:] = bytes(len(view) - done)
                break
            done += count
        return done

    def read_exact(self, offset: int, length: int, what: str) -> bytes:
        """`length` bytes of metadata at `offset`; CorruptImageError if the file ends first."""
        buffer = bytearray(length)
        if self.read_into(offset, memoryview(buffer)) != length:
            raise CorruptImageError(offset, f"{what} ({length:#x} bytes) runs past end of file")
        return bytes(buffer)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        _check_offset(offset, len(view))
        done = 0
        while done < len(view):
            try:
                done += os.pwritev(self.fd, [view[done:]], offset + done)
            except InterruptedError:
                continue
            except OSError as error:
                raise ImageIOError("write", offset + done, error) from error

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as error:
            raise ImageIOError("fsync", 0, error) from error

    def barrier(self) -> None:
        """Make every write so far durable before any later one (fdatasync)."""
        try:
            os.fdatasync(self.fd)
        except OSError as error:
            raise ImageIOError("fdatasync", 0, error) from error

    def truncate(self, length: int) -> None:
        try:
            os.ftruncate(self.fd, length)
        except OSError as error:
            raise ImageIOError("ftruncate", length, error) from error

    def punch_hole(self, offset: int, length: int) -> bool:
        """Deallocate `[offset, offset + length)` (it then reads as zeros); False when
        the file system cannot."""
        return self._fallocate(_FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length)

    def zero_range(self, offset: int, length: int) -> bool:
        """Zero `[offset, offset + length)` without writing; False when the file system cannot."""
        return self._fallocate(_FALLOC_FL_ZERO_RANGE | _FALLOC_FL_KEEP_SIZE, offset, length)

    def _fallocate(self, mode: int, offset: int, length: int) -> bool:
        if _fallocate is None or length <= 0:
            return length <= 0
        while _fallocate(self.fd, mode, offset, length) != 0:
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            if code in _UNSUPPORTED:
                return False
            raise ImageIOError("fallocate", offset, OSError(code, os.strerror(code)))
        return True

    def close(self) -> None:
        if self._owned and self.fd >= 0:
            fd, self.fd = self.fd, -1
            try:
                os.close(fd)
            except OSError as error:
                raise ImageIOError("close", 0, error) from error
