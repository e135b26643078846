"""A raw disk image on the host: a regular file or a block device.

:class:`DiskImage` opens the image (read-only or read-write, optionally with
``O_DIRECT``), locks it against a second writer, and moves data between it
and guest memory with ``os.preadv``/``os.pwritev`` on views of guest memory.
Discard and write-zeroes become ``fallocate`` calls (hole punching, zero
ranges), with plain writes of zeros where the file system has neither. A
thick image (``sparse=False``, CH's ``--disk sparse=off``) is fully allocated
when opened and never has holes punched: discard does nothing and zeroing
keeps the storage.

With ``O_DIRECT`` the kernel wants the file offset, the length and every
buffer aligned to the device's logical block. The block size is probed when
the image is opened and reported to the guest (``blk_size``), so a Linux
guest sends aligned requests; a request whose buffers the kernel still
refuses (``EINVAL``) goes through an aligned bounce buffer instead, logged
once.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import logging
import mmap
import os
import stat
import struct
from collections.abc import Callable, Sequence

from virtio_queue import IOV_MAX

from vm_devices.virtio.devices.errors import DiskLockedError, DiskOpenError

__all__ = ["SECTOR_SIZE", "DiskImage", "lock_image"]

log = logging.getLogger(__name__)

SECTOR_SIZE = 512
_BLKSSZGET = 0x1268  # the logical block size of a block device
_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
_FALLOC_FL_ZERO_RANGE = 0x10
_PUNCH = _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE
_ZERO = _FALLOC_FL_ZERO_RANGE | _FALLOC_FL_KEEP_SIZE
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOSYS, errno.ENOTTY, errno.ENODEV}
_ZEROS_CHUNK = 1 << 20

Transfer = Callable[[int, Sequence[memoryview], int], int]


class DiskImage:
    """An open raw image: ``size`` bytes, ``capacity`` whole 512-byte sectors.

    Raises :class:`DiskOpenError` (or :class:`DiskLockedError`) when the
    image cannot be opened as asked. ``lock`` takes a ``flock`` on the image:
    shared when read-only, exclusive otherwise. ``sparse=False`` preallocates a
    writable regular file and keeps it allocated.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        direct: bool = False,
        lock: bool = True,
        sparse: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.readonly = readonly
        self.direct = direct
        self.sparse = sparse
        flags = (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC
        if direct:
            flags |= os.O_DIRECT
        try:
            self.fd = os.open(self.path, flags)
        except OSError as error:
            raise DiskOpenError(
                self.path, _open_reason(error, readonly, direct), error.errno or 0
            ) from None
        try:
            self._set_up(lock)
        except BaseException:
            os.close(self.fd)
            raise
        self._bounce_logged = False
        self._unsupported_modes: set[int] = set()

    def _set_up(self, lock: bool) -> None:
        mode = os.fstat(self.fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
            raise DiskOpenError(self.path, "not a regular file or a block device")
        if lock:
            lock_image(self.fd, self.path, self.readonly)
        self.size = os.lseek(self.fd, 0, os.SEEK_END)
        self.capacity = self.size // SECTOR_SIZE
        if self.size % SECTOR_SIZE:
            log.warning(
                "disk image %s: %d bytes past the last whole sector are not visible",
                self.path,
                self.size % SECTOR_SIZE,
            )
        self.block_size = SECTOR_SIZE
        if stat.S_ISBLK(mode):
            raw = fcntl.ioctl(self.fd, _BLKSSZGET, struct.pack("i", 0))
            self.block_size = max(SECTOR_SIZE, struct.unpack("i", raw)[0])
        if not self.sparse and not self.readonly and stat.S_ISREG(mode) and self.size:
            try:
                os.posix_fallocate(self.fd, 0, self.size)
            except OSError as error:
                raise DiskOpenError(
                    self.path, f"cannot preallocate it (sparse=off): {error.strerror}"
                ) from None
        elif self.direct:
            self.block_size = _probe_direct_alignment(self.fd, self.size, self.path)

    # Data ----------------------------------------------------------------------------

    def read(self, views: Sequence[memoryview], length: int, offset: int) -> None:
        """Fill ``views`` (``length`` bytes in all) from the image at ``offset``.
        Raises ``OSError`` on a host I/O error or a short image."""
        try:
            if len(views) <= IOV_MAX and os.preadv(self.fd, views, offset) == length:
                return
            _transfer_all(os.preadv, self.fd, views, length, offset)
        except OSError as error:
            if error.errno != errno.EINVAL or not self.direct:
                raise
            self._bounce(views, length, offset, write=False)

    def write(self, views: Sequence[memoryview], length: int, offset: int) -> None:
        """Write ``views`` (``length`` bytes in all) to the image at ``offset``."""
        try:
            if len(views) <= IOV_MAX and os.pwritev(self.fd, views, offset) == length:
                return
            _transfer_all(os.pwritev, self.fd, views, length, offset)
        except OSError as error:
            if error.errno != errno.EINVAL or not self.direct:
                raise
            self._bounce(views, length, offset, write=True)

    def _bounce(self, views: Sequence[memoryview], length: int, offset: int, write: bool) -> None:
        """The transfer through a page-aligned buffer, for ``O_DIRECT``."""
        if not self._bounce_logged:
            self._bounce_logged = True
            log.info(
                "disk image %s: O_DIRECT refused guest buffers (EINVAL), "
                "such requests go through an aligned bounce buffer",
                self.path,
            )
        if not length:
            return
        with mmap.mmap(-1, length) as buffer:
            whole = memoryview(buffer)
            try:
                if write:
                    _copy(views, whole)
                    _transfer_all(os.pwritev, self.fd, [whole], length, offset)
                else:
                    _transfer_all(os.preadv, self.fd, [whole], length, offset)
                    _scatter(whole, views)
            finally:
                whole.release()

    def flush(self) -> None:
        os.fdatasync(self.fd)

    # Discard and write zeroes ------------------------------------------------------

    def discard(self, offset: int, length: int) -> None:
        """Let go of the storage behind the range. A hint: nothing happens where
        the file system cannot punch holes, nor on a thick image."""
        if self.sparse:
            self._fallocate((_PUNCH,), offset, length)

    def write_zeroes(self, offset: int, length: int, unmap: bool) -> None:
        """Make the range read as zeros, releasing its storage if ``unmap`` (and the
        image is sparse)."""
        modes = (_PUNCH, _ZERO) if unmap and self.sparse else (_ZERO,)
        if not self._fallocate(modes, offset, length):
            self._write_zeros(offset, length)

    def _fallocate(self, modes: Sequence[int], offset: int, length: int) -> bool:
        """The first of ``modes`` the image supports; False when none is."""
        for mode in modes:
            if mode in self._unsupported_modes:
                continue
            try:
                fallocate(self.fd, mode, offset, length)
            except OSError as error:
                if error.errno not in _UNSUPPORTED:
                    raise
                self._unsupported_modes.add(mode)
                continue
            return True
        return False

    def _write_zeros(self, offset: int, length: int) -> None:
        with mmap.mmap(-1, min(length, _ZEROS_CHUNK)) as zeros:  # aligned, for O_DIRECT
            chunk = memoryview(zeros)
            try:
                end = offset + length
                while offset < end:
                    count = min(len(chunk), end - offset)
                    _transfer_all(os.pwritev, self.fd, [chunk[:count]], count, offset)
                    offset += count
            finally:
                chunk.release()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __repr__(self) -> str:
        mode = "ro" if self.readonly else "rw"
        return f"DiskImage({self.path!r}, {mode}, {self.capacity} sectors)"


def lock_image(fd: int, path: str, readonly: bool) -> None:
    """A ``flock`` on the image: shared when read-only, exclusive otherwise."""
    operation = fcntl.LOCK_SH if readonly else fcntl.LOCK_EX
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError as error:
        raise DiskLockedError(path, readonly, error.errno or 0) from None
    except OSError as error:  # a file system without locks: say so, go on
        log.warning("disk image %s: not locked (%s)", path, error.strerror)


def _open_reason(error: OSError, readonly: bool, direct: bool) -> str:
    if direct and error.errno == errno.EINVAL:
        return "the file system does not support O_DIRECT (direct=on)"
    if not readonly and error.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return "cannot open it for writing (readonly=on would open it read-only)"
    return f"cannot open it: {error.strerror}"


def _probe_direct_alignment(fd: int, size: int, path: str) -> int:
    """The smallest block ``O_DIRECT`` reads accept: 512, or 4096 on 4K-sector storage."""
    with mmap.mmap(-1, 4096) as buffer:
        view = memoryview(buffer)
        try:
            for alignment in (SECTOR_SIZE, 4096):
                if size < alignment:
                    return alignment
                try:
                    os.preadv(fd, [view[:alignment]], 0)
                except OSError as error:
                    if error.errno != errno.EINVAL:
                        raise DiskOpenError(
                            path, "O_DIRECT probe read failed", error.errno or 0
                        ) from None
                    continue
                return alignment
        finally:
            view.release()
    raise DiskOpenError(path, "O_DIRECT refuses even 4096-byte aligned reads", errno.EINVAL)


def _transfer_all(
    call: Transfer, fd: int, views: Sequence[memoryview], length: int, offset: int
) -> None:
    """``call`` (``os.preadv``/``os.pwritev``) until all ``length`` bytes moved,
    at most IOV_MAX views at a time and across short transfers."""
    pending = list(views)
    first = 0
    done = 0
    while done < length:
        moved = call(fd, pending[first : first + IOV_MAX], offset + done)
        if moved <= 0:
            raise OSError(errno.EIO, f"end of the image after {done} of {length} bytes")
        done += moved
        while moved:
            view = pending[first]
            if len(view) <= moved:
                moved -= len(view)
                first += 1
            else:
                pending[first] = view[moved:]
                moved = 0


def _copy(views: Sequence[memoryview], target: memoryview) -> None:
    position = 0
    for view in views:
        target[position : position + len(view)] = view
        position += len(view)


def _scatter(source: memoryview, views: Sequence[memoryview]) -> None:
    position = 0
    for view in views:
        view[:] = source[position : position + len(view)]
        position += len(view)


@functools.cache
def _libc_fallocate() -> Callable[[int, int, int, int], int]:
    libc = ctypes.CDLL(None, use_errno=True)
    call = libc.fallocate64
    call.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    call.restype = ctypes.c_int
    function: Callable[[int, int, int, int], int] = call
    return function


def fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    """``fallocate(2)`` with a mode (``os.posix_fallocate`` has none)."""
    call = _libc_fallocate()
    while call(fd, mode, offset, length) != 0:
        code = ctypes.get_errno()
        if code != errno.EINTR:
            raise OSError(code, os.strerror(code))
