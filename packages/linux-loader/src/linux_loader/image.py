"""Random-access reads of an image file, straight into guest memory.

Kernels and initramfs images are read by absolute offset: headers into small
``bytes``, payloads with ``os.preadv`` into zero-copy views of guest memory,
so a multi-megabyte segment never passes through a Python buffer. Streams
without a file descriptor (``io.BytesIO``) are read with ``read``.
"""

from __future__ import annotations

import io
import os
import stat
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

from linux_loader.errors import ImageReadError

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["ImageFile", "ImageSource"]

ImageSource: TypeAlias = BinaryIO | str | os.PathLike[str]
"""An image to load: an open binary file (read from its byte 0) or a path."""


class ImageFile:
    """An image opened for reads at absolute offsets; a context manager that
    closes the file only if it opened it (a path), never a caller's file."""

    def __init__(self, image: ImageSource) -> None:
        self._owned: BinaryIO | None = None
        self._stream: BinaryIO
        if isinstance(image, (str, os.PathLike)):
            try:
                self._owned = self._stream = open(image, "rb", buffering=0)  # noqa: SIM115
            except OSError as error:
                raise ImageReadError(
                    0, 0, f"cannot open {os.fsdecode(image)!r}: {error}"
                ) from error
        else:
            self._stream = image
        self._fd = _file_descriptor(self._stream)
        self.size = self._measure()

    def __enter__(self) -> ImageFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def stream(self) -> BinaryIO:
        """The open file (still owned by this object when it opened it)."""
        return self._stream

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def read(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes from ``offset``, or :class:`ImageReadError`."""
        self._check(offset, length)
        buffer = bytearray(length)
        self._read_into([memoryview(buffer)], offset)
        return bytes(buffer)

    def read_into_memory(self, memory: GuestMemory, addr: int, offset: int, length: int) -> None:
        """Copy image bytes ``[offset, offset + length)`` to guest ``addr`` with
        no intermediate buffer (the caller has checked the guest range)."""
        self._check(offset, length)
        views = memory.get_slices(addr, length)
        try:
            self._read_into(views, offset)
        finally:
            for view in views:
                view.release()

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ImageReadError(offset, length, f"the image has only {self.size:#x} bytes")

    def _read_into(self, views: list[memoryview], offset: int) -> None:
        start = offset
        wanted = sum(view.nbytes for view in views)
        pending = [view for view in views if view.nbytes]
        try:
            while pending:
                if self._fd is not None:
                    count = os.preadv(self._fd, pending, offset)
                else:
                    # A stream without a descriptor is in host memory already:
                    # one more copy costs little next to the file system's.
                    self._stream.seek(offset)
                    chunk = self._stream.read(pending[0].nbytes)
                    count = len(chunk)
                    pending[0][:count] = chunk
                if count == 0:
                    raise ImageReadError(start, wanted, "the image ended early (truncated?)")
                offset += count
                while count >= pending[0].nbytes:
                    count -= pending.pop(0).nbytes
                    if not pending:
                        break
                if count:
                    pending[0] = pending[0][count:]
        except OSError as error:
            raise ImageReadError(start, wanted, str(error)) from error
        finally:
            # A traceback keeps this frame alive: leave no view that pins guest memory.
            for view in pending:
                view.release()

    def _measure(self) -> int:
        try:
            if self._fd is not None:
                info = os.fstat(self._fd)
                if stat.S_ISREG(info.st_mode):
                    return info.st_size
                if not stat.S_ISBLK(info.st_mode):
                    raise ImageReadError(0, 0, "the image is not a regular file or block device")
                return os.lseek(self._fd, 0, os.SEEK_END)
            if not self._stream.seekable():
                raise ImageReadError(0, 0, "the image stream is not seekable")
            return self._stream.seek(0, io.SEEK_END)
        except OSError as error:
            raise ImageReadError(0, 0, str(error)) from error


def _file_descriptor(stream: BinaryIO) -> int | None:
    """The stream's file descriptor, or None for in-memory streams."""
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        return None
