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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

from virtio_queue.errors import ChainTooShortError, UnexpectedEofError

if TYPE_CHECKING:
    from typing import Self

    from typing_extensions import Buffer

__all__ = ["IOV_MAX", "ChainReader", "ChainWriter", "FileDescriptorLike", "Reader", "Writer"]


def _iov_max() -> int:
    try:
        value = os.sysconf("SC_IOV_MAX")
    except (ValueError, OSError):
        value = -1
    return value if value > 0 else 1024


IOV_MAX: Final = _iov_max()
_new: Final = object.__new__
_preadv: Final = os.preadv
_pwritev: Final = os.pwritev
"""Most buffers one ``readv``-family system call accepts (1024 on Linux)."""


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


FileDescriptorLike: TypeAlias = "int | _HasFileno"
"""A file descriptor, or a file/socket object with ``fileno()``."""


def _fd(target: FileDescriptorLike) -> int:
    return target if type(target) is int else target.fileno()  # type: ignore[union-attr]


class _Cursor:
    """A position in a list of byte views, and how far it has moved.

    ``available_bytes`` is the number of bytes left between the position and
    the end of the buffers; ``head_index`` the head of the chain they belong to.

    Invariant: while bytes remain, ``_views[_index][_offset]`` is the next one
    (the offset never rests at the end of a view).
    """

    __slots__ = ("_head", "_index", "_moved", "_offset", "_remaining", "_views")

    _direction = "readable"
    _views: Sequence[memoryview]
    _index: int
    _offset: int
    _remaining: int
    _moved: int
    _head: int

    def __init__(self, views: Sequence[memoryview], length: int, head: int = 0) -> None:
        """Usually made by ``DescriptorChain.reader()``/``writer()``: ``views``
        are non-empty byte views holding ``length`` bytes in all; ``head``
        names the chain in errors."""
        self._views = views
        self._index = 0
        self._offset = 0
        self._remaining = length
        self._moved = 0
        self._head = head

    if TYPE_CHECKING:  # at run time, the slots themselves (see the end of the module)

        @property
        def available_bytes(self) -> int: ...

        @property
        def head_index(self) -> int: ...

    def views(self, count: int | None = None) -> list[memoryview]:
        """Zero-copy views of the next ``count`` bytes (all that is left when
        None), without moving the position."""
        count = self._remaining if count is None else self._require(count)
        return list(self._gather(count, len(self._views)))

    def skip(self, count: int) -> None:
        """Move the position ``count`` bytes on without touching them."""
        self._advance(self._require(count))

    def split_at(self, offset: int) -> Self:
        """Cut the buffers ``offset`` bytes past the position: this object keeps
        the bytes before the cut, the returned one (with its own counter) the
        bytes after it (e.g. a block request's data, then its status byte)."""
        self._require(offset)
        rest = self._remaining - offset
        before = self._gather(offset, len(self._views))
        after = self._views_after(offset)
        self._views, self._index, self._offset, self._remaining = before, 0, 0, offset
        other = _new(type(self))
        other._views = after
        other._remaining = rest
        other._head = self._head
        other._index = other._offset = other._moved = 0
        return other

    # Internals ----------------------------------------------------------------

    def _require(self, count: int) -> int:
        if count < 0 or count > self._remaining:
            raise ChainTooShortError(self._head, self._direction, count, self._remaining)
        return count

    def _gather(self, count: int, limit: int) -> Sequence[memoryview]:
        """Views of the next ``count`` bytes (``count`` <= remaining), at most
        ``limit`` of them; fewer bytes when the limit cuts the list short."""
        if not count:
            return []
        views = self._views
        index = self._index
        offset = self._offset
        if count == self._remaining and not offset and len(views) - index <= limit:
            return views[index:] if index else views  # everything left, whole views
        first = views[index]
        size = len(first) - offset
        if count <= size:
            if not offset and count == size:
                return [first]
            return [first[offset : offset + count]]
        out = [first[offset:] if offset else first]
        count -= size
        index += 1
        while len(out) < limit:
            view = views[index]
            size = len(view)
            if count <= size:
                out.append(view if count == size else view[:count])
                break
            out.append(view)
            count -= size
            index += 1
        return out

    def _views_after(self, offset: int) -> list[memoryview]:
        """The views of everything from ``offset`` bytes past the position."""
        views = self._views
        index = self._index
        offset += self._offset
        while index < len(views) and offset >= len(views[index]):
            offset -= len(views[index])
            index += 1
        if index == len(views):
            return []
        first = views[index]
        return [first[offset:] if offset else first, *views[index + 1 :]]

    def _transfer_all(
        self,
        call: Callable[..., int],
        fd: FileDescriptorLike,
        count: int,
        offset: int | None,
        done: int = 0,
    ) -> None:
        """``call`` (``os.readv`` and kin) until ``count`` bytes moved: whole
        buffers in one system call when they fit, the general path otherwise.
        ``done`` > 0: the caller's own first call moved that many bytes (of
        everything left; the position has not moved yet)."""
        number = fd if type(fd) is int else fd.fileno()  # type: ignore[union-attr]
        if done:
            self._advance(done)
            self._transfer_rest(call, number, count, offset, done)
            return
        if count < 0 or count > self._remaining:
            raise ChainTooShortError(self._head, self._direction, count, self._remaining)
        views = self._views
        index = self._index
        whole = count == self._remaining and not self._offset and len(views) - index <= IOV_MAX
        if count and whole:
            iov = views[index:] if index else views  # everything left, in one call
            done = call(number, iov) if offset is None else call(number, iov, offset)
            if done == count:
                self._moved += count
                self._remaining = 0
                self._index = len(views)
                return
            if not done:
                raise UnexpectedEofError(count, 0)
            self._advance(done)
        self._transfer_rest(call, number, count, offset, done)

    def _transfer_rest(
        self, call: Callable[..., int], number: int, count: int, offset: int | None, done: int
    ) -> None:
        """The rest of :meth:`_transfer_all`: ``done`` of ``count`` bytes moved."""
        while done < count:
            iov = self._gather(count - done, IOV_MAX)
            moved = call(number, iov) if offset is None else call(number, iov, offset + done)
            if not moved:
                raise UnexpectedEofError(count, done)
            self._advance(moved)
            done += moved

    def _advance(self, count: int) -> None:
        self._moved += count
        self._remaining -= count
        views = self._views
        if not self._remaining:
            self._index = len(views)
            self._offset = 0
            return
        index = self._index
        offset = self._offset + count
        while index < len(views) and offset >= len(views[index]):
            offset -= len(views[index])
            index += 1
        self._index = index
        self._offset = offset


class Reader(_Cursor):
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


class Writer(_Cursor):
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
_Cursor.available_bytes = _Cursor._remaining  # type: ignore[assignment, misc]
_Cursor.head_index = _Cursor._head  # type: ignore[assignment, misc]
Reader.bytes_read = _Cursor._moved  # type: ignore[assignment, misc]
Writer.bytes_written = _Cursor._moved  # type: ignore[assignment, misc]
