"""What every disk image format offers a block device: the DiskImage interface.

virtio-blk needs the same handful of operations whatever the file holds
(read, write, flush, discard, write zeroes); a format implements them over its
own layout so the device never knows whether it serves raw bytes or qcow2.
"""

from __future__ import annotations

import abc
from types import TracebackType

from block_formats.errors import OutOfRangeError, ReadOnlyImageError

__all__ = ["DiskImage", "ReadableBuffer", "WritableBuffer"]

WritableBuffer = bytearray | memoryview
ReadableBuffer = bytes | bytearray | memoryview


class DiskImage(abc.ABC):
    """A virtual disk of `virtual_size` bytes stored in some image format.

    Offsets and lengths are in bytes, any alignment. Every access must lie
    inside ``[0, virtual_size)`` (else OutOfRangeError, nothing done). Writes
    are durable only after ``flush()``. Not thread-safe by contract: one
    thread per image (the formats here do take a lock, as insurance).
    """

    @property
    @abc.abstractmethod
    def virtual_size(self) -> int:
        """The disk's size as the guest sees it, in bytes."""

    @property
    @abc.abstractmethod
    def read_only(self) -> bool:
        """True when writes, discards and write-zeroes are refused."""

    @abc.abstractmethod
    def read_into(self, offset: int, buffer: WritableBuffer) -> None:
        """Fill `buffer` with the disk's bytes at `offset` (never written parts read zeros)."""

    @abc.abstractmethod
    def write(self, offset: int, data: ReadableBuffer) -> None:
        """Store `data` at `offset`."""

    @abc.abstractmethod
    def flush(self) -> None:
        """Make every completed write durable (the guest's FLUSH)."""

    @abc.abstractmethod
    def discard(self, offset: int, length: int) -> None:
        """Hint that the range is unused: its space may be freed. Afterwards the range
        reads either its old bytes or zeros (formats document which)."""

    @abc.abstractmethod
    def write_zeroes(self, offset: int, length: int) -> None:
        """Make the range read as zeros, cheaply when the format can."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the image's files; later calls raise ImageClosedError."""

    def read(self, offset: int, length: int) -> bytes:
        """`length` bytes at `offset`, as a new bytes object."""
        buffer = bytearray(length)
        self.read_into(offset, buffer)
        return bytes(buffer)

    def __enter__(self) -> DiskImage:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _check_range(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.virtual_size:
            raise OutOfRangeError(offset, length, self.virtual_size)

    def _check_writable(self, operation: str) -> None:
        if self.read_only:
            raise ReadOnlyImageError(operation)
