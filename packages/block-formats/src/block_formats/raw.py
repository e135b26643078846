"""Raw images: the file's bytes are the disk's bytes."""

from __future__ import annotations

import threading

from block_formats.errors import ImageClosedError
from block_formats.hostfile import HostFile
from block_formats.image import DiskImage, ReadableBuffer, WritableBuffer

__all__ = ["RawImage"]

_ZERO_CHUNK = 1 << 20


class RawImage(DiskImage):
    """A disk that is a file (or block device) byte for byte, sized as the file is at open.

    discard punches a hole (the range then reads zeros) where the file system
    can, and does nothing where it cannot. write_zeroes uses FALLOC_FL_ZERO_RANGE,
    else a punched hole, else writes zeros.
    """

    def __init__(self, fd: int, *, read_only: bool, owned: bool = True) -> None:
        self._file = HostFile(fd, owned=owned)
        self._size = self._file.size()
        self._read_only = read_only
        self._lock = threading.Lock()
        self._closed = False

    @property
    def virtual_size(self) -> int:
        return self._size

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def host_file(self) -> HostFile:
        """The file under the image (for chain-loop checks and tests)."""
        return self._file

    def read_into(self, offset: int, buffer: WritableBuffer) -> None:
        view = memoryview(buffer).cast("B")
        self._check_range(offset, len(view))
        with self._lock:
            self._check_open()
            self._file.read_into(offset, view)

    def write(self, offset: int, data: ReadableBuffer) -> None:
        view = memoryview(data).cast("B")
        self._check_writable("write")
        self._check_range(offset, len(view))
        with self._lock:
            self._check_open()
            self._file.write(offset, view)

    def flush(self) -> None:
        with self._lock:
            self._check_open()
            if not self._read_only:
                self._file.sync()

    def discard(self, offset: int, length: int) -> None:
        self._check_writable("discard")
        self._check_range(offset, length)
        with self._lock:
            self._check_open()
            self._file.punch_hole(offset, length)

    def write_zeroes(self, offset: int, length: int) -> None:
        self._check_writable("write_zeroes")
        self._check_range(offset, length)
        with self._lock:
            self._check_open()
            if self._file.zero_range(offset, length) or self._file.punch_hole(offset, length):
                return
            for start in range(offset, offset + length, _ZERO_CHUNK):
                size = min(_ZERO_CHUNK, offset + length - start)
                self._file.write(start, bytes(size))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ImageClosedError
