"""A disk image in a format (qcow2): the guest sees the image's virtual disk, not its bytes.

:func:`open_disk` is what a block device opens: it detects the format as
Cloud Hypervisor does (or takes ``image_type=``) and returns a raw
:class:`~vm_devices.virtio.devices.disk.DiskImage` (zero-copy ``preadv``
into guest memory, ``O_DIRECT``) or a :class:`FormattedDisk` over the
``block-formats`` package's image (qcow2 with its backing chain). Both have
the same interface. An I/O failure of the format layer (a corrupt image, a
host error) is an ``OSError`` for the request, which the device answers
with ``IOERR``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence

from block_formats import BlockFormatError, ImageFormat, detect_format, open_image
from block_formats import DiskImage as FormatImage

from vm_devices.virtio.devices.disk import SECTOR_SIZE, DiskImage, lock_image
from vm_devices.virtio.devices.errors import DiskOpenError

__all__ = ["FormattedDisk", "open_disk"]


def open_disk(
    path: str | os.PathLike[str],
    *,
    readonly: bool = False,
    direct: bool = False,
    lock: bool = True,
    sparse: bool = True,
    image_type: str | None = None,
) -> DiskImage | FormattedDisk:
    """The image at `path` as a disk: raw, or the virtual disk of a qcow2 image.

    `image_type` (``raw``, ``qcow2``...) skips detection; None detects it.
    Raises DiskOpenError for what cannot be opened as asked, naming why.
    """
    path = os.fspath(path)
    try:
        image_format = _format(path, image_type)
    except BlockFormatError as error:
        raise DiskOpenError(path, str(error)) from None
    if image_format is ImageFormat.RAW:
        return DiskImage(path, readonly=readonly, direct=direct, lock=lock, sparse=sparse)
    if direct:
        raise DiskOpenError(path, f"direct=on is not supported for {image_format.value} images yet")
    if not sparse:
        raise DiskOpenError(path, "sparse=off preallocates raw images only")
    return FormattedDisk(path, image_format, readonly=readonly, lock=lock)


def _format(path: str, image_type: str | None) -> ImageFormat:
    if image_type is not None:
        return ImageFormat.from_name(image_type)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ImageFormat.RAW  # DiskImage says why it cannot open it
    try:
        return detect_format(fd)
    finally:
        os.close(fd)


class FormattedDisk:
    """A formatted image behind the raw disk's interface: ``size``, ``capacity``,
    ``read``/``write`` of guest-memory views, ``flush``, ``discard``, ``write_zeroes``."""

    direct = False
    sparse = True
    block_size = SECTOR_SIZE

    def __init__(self, path: str, image_format: ImageFormat, *, readonly: bool, lock: bool) -> None:
        self.path = path
        self.readonly = readonly
        self.format = image_format
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # the lock, and the serial
        except OSError as error:
            raise DiskOpenError(path, error.strerror or str(error), error.errno or 0) from None
        try:
            if lock:
                lock_image(self.fd, path, readonly)
            self.image: FormatImage = open_image(path, read_only=readonly, image_type=image_format)
        except BlockFormatError as error:
            os.close(self.fd)
            raise DiskOpenError(path, str(error)) from None
        except BaseException:
            os.close(self.fd)
            raise
        self.size = self.image.virtual_size
        self.capacity = self.size // SECTOR_SIZE

    def read(self, views: Sequence[memoryview], length: int, offset: int) -> None:
        try:
            for view in views:
                self.image.read_into(offset, view)
                offset += len(view)
        except BlockFormatError as error:
            raise OSError(errno.EIO, f"{self.path}: {error}") from None

    def write(self, views: Sequence[memoryview], length: int, offset: int) -> None:
        try:
            for view in views:
                self.image.write(offset, view)
                offset += len(view)
        except BlockFormatError as error:
            raise OSError(errno.EIO, f"{self.path}: {error}") from None

    def flush(self) -> None:
        self._call(self.image.flush)

    def discard(self, offset: int, length: int) -> None:
        self._call(self.image.discard, offset, length)

    def write_zeroes(self, offset: int, length: int, unmap: bool) -> None:
        self._call(self.image.write_zeroes, offset, length)

    def _call(self, method: Callable[..., None], *args: int) -> None:
        try:
            method(*args)
        except BlockFormatError as error:
            raise OSError(errno.EIO, f"{self.path}: {error}") from None

    def close(self) -> None:
        if self.fd >= 0:
            self.image.close()
            os.close(self.fd)
            self.fd = -1

    def __repr__(self) -> str:
        return f"FormattedDisk({self.path!r}, {self.format.value}, {self.size} bytes)"
