"""Reader and Writer: a chain's buffers as one byte stream, zero-copy.

A :class:`Reader` walks the device-readable buffers of a chain, a
:class:`Writer` the device-writable ones. Both hold ``memoryview`` slices of
guest memory and move data across descriptor (and memory region) boundaries:
into and out of Python buffers, or straight between guest memory and a file
or socket with ``os.readv``/``os.writev``/``os.preadv``/``os.pwritev``, with
no intermediate copy. One call passes at most ``IOV_MAX`` views to the
kernel; the ``*_exact_*``/``*_all_*`` methods loop over short transfers.

Counts are checked before anything moves: asking for more bytes than the
chain has left raises :class:`~virtio_queue.errors.ChainTooShortError`.
``Writer.bytes_written`` is what the device reports to ``add_used``.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Any, Final

from virtio_queue.cursor import IOV_MAX, Cursor, FileDescriptorLike
from virtio_queue.errors import ChainTooShortError, UnexpectedEofError

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["IOV_MAX", "ChainReader", "ChainWriter", "FileDescriptorLike", "Reader", "Writer"]

# Module globals, looked up per call: tests stand in for them to make short transfers.
_preadv: Final = os.preadv
_pwritev: Final = os.pwritev


def _fd(target: FileDescriptorLike) -> int:
    return target if type(target) is int else target.fileno()  # type: ignore[union-attr]


class Reader(Cursor):
    """The device-readable bytes of a chain, read in order (``chain.reader()``).
    ``bytes_read`` counts the bytes read (or skipped) so far."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def bytes_read(self) -> int: ...

    def read(self, size: int = -1) -> bytes:
        """A copy of the next ``size`` bytes, fewer if the chain has fewer
        (all that is left when ``size`` is negative)."""
        count = self._remaining if size < 0 else min(size, self._remaining)
        pieces = self._gather(count, len(self._views))
        self._advance(count)
        if len(pieces) == 1:
            return bytes(pieces[0])
        return b"".join(pieces)

    def read_into(self, buffer: Buffer) -> int:
        """Fill ``buffer`` from the chain, as far as the chain goes; the count."""
        target = memoryview(buffer)
        if target.format != "B" or target.ndim != 1:
            target = target.cast("B")
        count = min(target.nbytes, self._remaining)
        if count:
            self._copy_to(target, count)
        return count

    def read_exact_into(self, buffer: Buffer) -> None:
        """Fill all of ``buffer``, or raise :class:`ChainTooShortError` having read nothing."""
        target = memoryview(buffer)
        if target.format != "B" or target.ndim != 1:
            target = target.cast("B")
        count = target.nbytes
        if count > self._remaining:
            raise ChainTooShortError(self._head, "readable", count, self._remaining)
        if count:
            self._copy_to(target, count)

    def _copy_to(self, target: memoryview, count: int) -> None:
        """Copy the next ``count`` (> 0, <= remaining) bytes into ``target``."""
        index = self._index
        view = self._views[index]
        offset = self._offset
        end = offset + count
        size = len(view)
        if end <= size:  # inside the current buffer
            target[:count] = view if end == size and not offset else view[offset:end]
            self._remaining -= count
            self._moved += count
            if end == size:  # on to the next buffer (the offset never rests at an end)
                self._index = index + 1
                self._offset = 0
            else:
                self._offset = end
            return
        done = 0
        for piece in self._gather(count, len(self._views)):
            stop = done + len(piece)
            target[done:stop] = piece
            done = stop
        self._advance(count)

    def read_struct(self, fmt: struct.Struct) -> tuple[Any, ...]:
        """``fmt.unpack`` of the next ``fmt.size`` bytes (a request header)."""
        size = self._require(fmt.size)
        view = self._views[self._index] if size else b""
        offset = self._offset
        if offset + size <= len(view):
            values = fmt.unpack_from(view, offset)
            self._advance(size)
            return values
        return fmt.unpack(self.read(size))

    def read_to(self, fd: FileDescriptorLike, count: int) -> int:
        """One ``os.writev`` of up to ``count`` bytes to ``fd``; the bytes written."""
        views = self._gather(self._require(count), IOV_MAX)
        if not views:
            return 0
        done = os.writev(_fd(fd), views)
        self._advance(done)
        return done

    def read_to_at(self, fd: FileDescriptorLike, count: int, offset: int) -> int:
        """One ``os.pwritev`` of up to ``count`` bytes to ``fd`` at ``offset``."""
        views = self._gather(self._require(count), IOV_MAX)
        if not views:
            return 0
        done = os.pwritev(_fd(fd), views, offset)
        self._advance(done)
        return done

    def read_exact_to(self, fd: FileDescriptorLike, count: int) -> None:
        """Write exactly ``count`` bytes to ``fd`` (``os.writev`` until done)."""
        self._transfer_all(os.writev, fd, count, None)

    def read_exact_to_at(self, fd: FileDescriptorLike, count: int, offset: int) -> None:
        """Write exactly ``count`` bytes to ``fd`` at ``offset`` (``os.pwritev``)."""
        views = self._views
        whole = count == self._remaining and not self._index and not self._offset
        if count and whole and len(views) <= IOV_MAX:
            # A block device's write: everything left, in one system call
            # (written out here: this runs once per request).
            number = fd if type(fd) is int else fd.fileno()  # type: ignore[union-attr]
            done = _pwritev(number, views, offset)
            if done == count:
                self._moved += count
                self._remaining = 0
                self._index = len(views)
                return
            if not done:
                raise UnexpectedEofError(count, 0)
            self._transfer_all(_pwritev, fd, count, offset, done)
            return
        self._transfer_all(_pwritev, fd, count, offset)


class Writer(Cursor):
    """The device-writable bytes of a chain, written in order (``chain.writer()``).
    ``bytes_written`` counts the bytes written (or skipped) so far: the used
    length to report."""

    __slots__ = ()

    _direction = "writable"

    if TYPE_CHECKING:

        @property
        def bytes_written(self) -> int: ...

    def write(self, data: Buffer) -> int:
        """Copy as much of ``data`` as fits; the count."""
        source = memoryview(data)
        if source.format != "B" or source.ndim != 1:
            source = source.cast("B")
        count = min(source.nbytes, self._remaining)
        if not count:
            return 0
        index = self._index
        view = self._views[index]
        offset = self._offset
        end = offset + count
        size = len(view)
        if end <= size:  # inside the current buffer
            view[offset:end] = source if count == len(source) else source[:count]
            self._remaining -= count
            self._moved += count
            if end == size:  # on to the next buffer (the offset never rests at an end)
                self._index = index + 1
                self._offset = 0
            else:
                self._offset = end
            return count
        done = 0
        for piece in self._gather(count, len(self._views)):
            end = done + len(piece)
            piece[:] = source[done:end]
            done = end
        self._advance(count)
        return count

    def write_all(self, data: Buffer) -> None:
        """Copy all of ``data``, or raise :class:`ChainTooShortError` having written nothing."""
        self._require(memoryview(data).nbytes)
        self.write(data)

    def write_struct(self, fmt: struct.Struct, *values: Any) -> None:
        """Store ``fmt.pack(*values)`` (a status or response header)."""
        size = self._require(fmt.size)
        view = self._views[self._index] if size else None
        offset = self._offset
        if view is not None and offset + size <= len(view):
            fmt.pack_into(view, offset, *values)
            self._advance(size)
        else:
            self.write(fmt.pack(*values))

    def write_from(self, fd: FileDescriptorLike, count: int) -> int:
        """One ``os.readv`` of up to ``count`` bytes from ``fd``; the bytes read
        (0 at end of file)."""
        views = self._gather(self._require(count), IOV_MAX)
        if not views:
            return 0
        done = os.readv(_fd(fd), views)
        self._advance(done)
        return done

    def write_from_at(self, fd: FileDescriptorLike, count: int, offset: int) -> int:
        """One ``os.preadv`` of up to ``count`` bytes from ``fd`` at ``offset``."""
        views = self._gather(self._require(count), IOV_MAX)
        if not views:
            return 0
        done = os.preadv(_fd(fd), views, offset)
        self._advance(done)
        return done

    def write_all_from(self, fd: FileDescriptorLike, count: int) -> None:
        """Read exactly ``count`` bytes from ``fd`` (``os.readv`` until done);
        :class:`UnexpectedEofError` if it ends first (what arrived stays written)."""
        self._transfer_all(os.readv, fd, count, None)

    def write_all_from_at(self, fd: FileDescriptorLike, count: int, offset: int) -> None:
        """Read exactly ``count`` bytes from ``fd`` at ``offset`` (``os.preadv``)."""
        views = self._views
        whole = count == self._remaining and not self._index and not self._offset
        if count and whole and len(views) <= IOV_MAX:
            # A block device's read: everything left, in one system call
            # (written out here: this runs once per request).
            number = fd if type(fd) is int else fd.fileno()  # type: ignore[union-attr]
            done = _preadv(number, views, offset)
            if done == count:
                self._moved += count
                self._remaining = 0
                self._index = len(views)
                return
            if not done:
                raise UnexpectedEofError(count, 0)
            self._transfer_all(_preadv, fd, count, offset, done)
            return
        self._transfer_all(_preadv, fd, count, offset)


class ChainReader(Reader):
    """A :class:`Reader` made by ``DescriptorChain.reader()``, which sets its
    fields itself: without a Python ``__init__``, making one is a single
    C-level call (a Reader is made per request)."""

    __slots__ = ()
    __init__ = object.__init__


class ChainWriter(Writer):
    """A :class:`Writer` made by ``DescriptorChain.writer()`` (see :class:`ChainReader`)."""

    __slots__ = ()
    __init__ = object.__init__


# The counters are read once or twice per request: reading a slot is several
# times cheaper than calling a property, so the public names are the slots
# themselves (read-only to type checkers, which see the properties above).
Reader.bytes_read = Cursor._moved  # type: ignore[assignment, misc]
Writer.bytes_written = Cursor._moved  # type: ignore[assignment, misc]
