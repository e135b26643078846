"""The position shared by Reader and Writer: a place in a list of byte views.

A :class:`Cursor` holds ``memoryview`` slices of guest memory and a position
in them, gathers the views of the next bytes for the ``readv`` family of
system calls (at most :data:`IOV_MAX` per call) and moves the position
across view boundaries. :mod:`virtio_queue.io` builds the Reader and Writer
on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias

from virtio_queue.errors import ChainTooShortError, UnexpectedEofError

if TYPE_CHECKING:
    from typing import Self

__all__ = ["IOV_MAX", "Cursor", "FileDescriptorLike"]


def _iov_max() -> int:
    try:
        value = os.sysconf("SC_IOV_MAX")
    except (ValueError, OSError):
        value = -1
    return value if value > 0 else 1024


IOV_MAX: Final = _iov_max()
"""Most buffers one ``readv``-family system call accepts (1024 on Linux)."""

_new: Final = object.__new__


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


FileDescriptorLike: TypeAlias = "int | _HasFileno"
"""A file descriptor, or a file/socket object with ``fileno()``."""


class Cursor:
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


# The position is read once or twice per request: reading a slot is several
# times cheaper than calling a property, so the public names are the slots
# themselves (read-only to type checkers, which see the properties above).
Cursor.available_bytes = Cursor._remaining  # type: ignore[assignment, misc]
Cursor.head_index = Cursor._head  # type: ignore[assignment, misc]
