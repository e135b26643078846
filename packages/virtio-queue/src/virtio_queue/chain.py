"""A descriptor chain: the buffers of one request, as the driver linked them.

The chain is parsed on first use, in one pass, and every rule of the spec is
checked before anything is handed to the device:

- the head and every ``next`` index lie inside their table (2.7.5.2);
- a chain has at most queue-size descriptors, and a chain inside an indirect
  table at most that table's entries: a loop is caught when the count is
  exceeded (2.7.5.2, 2.7.5.3.1);
- an ``INDIRECT`` descriptor has a length that is a non-zero multiple of 16,
  has no ``NEXT`` flag, is not inside an indirect table, and its table is
  guest memory (2.7.5.3.1). The table may hold up to 2**16 descriptors
  (:data:`~virtio_queue.defs.MAX_INDIRECT_DESCRIPTORS`), the most a 16-bit
  ``next`` can reach: the spec's "no chain longer than the queue size" is not
  applied to indirect tables because Linux builds longer ones when the device
  allows as many segments;
- no device-readable descriptor follows a device-writable one (2.7.4.2);
- the buffer lengths add up to at most 2**32 - 1 (2.7.5.2);
- every buffer lies inside guest memory.

Any violation raises an :class:`~virtio_queue.errors.InvalidChainError` that
names the head, and the chain stays unusable. A valid chain holds zero-copy
views of its buffers, so the memory regions behind them cannot be closed while
the chain (or a Reader/Writer made from it) is alive.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from vm_memory import GuestMemoryError

from virtio_queue.defs import F_INDIRECT, F_NEXT, F_WRITE, MAX_INDIRECT_DESCRIPTORS
from virtio_queue.descriptor import DESCRIPTOR, Descriptor
from virtio_queue.errors import (
    ChainLengthOverflowError,
    ChainLoopError,
    DescriptorIndexError,
    DescriptorMemoryError,
    DescriptorOrderError,
    IndirectDescriptorError,
    InvalidChainError,
)
from virtio_queue.io import Reader, Writer

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["DescriptorChain"]

_U32_MAX = 0xFFFF_FFFF


class DescriptorChain:
    """The chain whose head is descriptor ``head_index`` of the table at
    ``desc_table`` (``queue_size`` entries). Made by
    :meth:`Queue.pop_descriptor_chain`; cheap until first used."""

    __slots__ = (
        "_desc_table",
        "_descriptors",
        "_error",
        "_head",
        "_memory",
        "_queue_size",
        "_readable_len",
        "_readable_views",
        "_split",
        "_writable_len",
        "_writable_views",
    )

    # Set by the parse.
    _readable_views: list[memoryview]
    _writable_views: list[memoryview]
    _readable_len: int
    _writable_len: int
    _split: int

    def __init__(
        self, memory: GuestMemory, desc_table: int, queue_size: int, head_index: int
    ) -> None:
        self._memory = memory
        self._desc_table = desc_table
        self._queue_size = queue_size
        self._head = head_index
        self._descriptors: list[tuple[Any, ...]] | None = None
        self._error: InvalidChainError | None = None

    @property
    def head_index(self) -> int:
        """The head's descriptor index: what ``add_used`` returns to the driver."""
        return self._head

    @property
    def memory(self) -> GuestMemory:
        """The guest memory the buffers live in."""
        return self._memory

    def validate(self) -> None:
        """Parse the chain now; raise its :class:`InvalidChainError` if malformed."""
        if self._descriptors is None:
            self._parse()

    def descriptors(self) -> list[Descriptor]:
        """Every buffer descriptor in chain order (an indirect table's entries
        replace the descriptor that points to it)."""
        if self._descriptors is None:
            self._parse()
        assert self._descriptors is not None
        return [Descriptor._make(raw) for raw in self._descriptors]

    def __iter__(self) -> Iterator[Descriptor]:
        return iter(self.descriptors())

    def readable(self) -> list[Descriptor]:
        """The device-readable descriptors (they come first)."""
        return self.descriptors()[: self._split]

    def writable(self) -> list[Descriptor]:
        """The device-writable descriptors (they come last)."""
        return self.descriptors()[self._split :]

    @property
    def readable_len(self) -> int:
        """Bytes the device may read."""
        if self._descriptors is None:
            self._parse()
        return self._readable_len

    @property
    def writable_len(self) -> int:
        """Bytes the device may write."""
        if self._descriptors is None:
            self._parse()
        return self._writable_len

    def readable_views(self) -> list[memoryview]:
        """Zero-copy views of the readable buffers, in order (one per guest
        memory region crossed)."""
        if self._descriptors is None:
            self._parse()
        return list(self._readable_views)

    def writable_views(self) -> list[memoryview]:
        """Zero-copy views of the writable buffers, in order."""
        if self._descriptors is None:
            self._parse()
        return list(self._writable_views)

    def reader(self) -> Reader:
        """A :class:`Reader` over the readable part."""
        if self._descriptors is None:
            self._parse()
        return Reader(self._readable_views, self._readable_len, self._head)

    def writer(self) -> Writer:
        """A :class:`Writer` over the writable part."""
        if self._descriptors is None:
            self._parse()
        return Writer(self._writable_views, self._writable_len, self._head)

    def release(self) -> None:
        """Drop this chain's views of guest memory (Readers and Writers made from
        it keep their own until they are dropped). The chain is unusable after."""
        self._readable_views = []
        self._writable_views = []
        self._descriptors = None
        self._error = InvalidChainError(self._head, "the chain was released")

    def __repr__(self) -> str:
        return f"DescriptorChain(head={self._head}, table={self._desc_table:#x})"

    # Parsing ------------------------------------------------------------------

    def _parse(self) -> None:
        if self._error is not None:
            raise _copy_error(self._error)
        try:
            self._walk()
        except InvalidChainError as error:
            # Neither the kept copy nor the raised error carries the walk's
            # frames: their locals hold views of guest memory that would keep
            # the memory regions from closing for as long as the error lives.
            self._error = _copy_error(error)
            raise error.with_traceback(None) from error.__cause__

    def _walk(self) -> None:
        """Follow the chain from the head, checking it; fills the parsed fields."""
        memory = self._memory
        read_struct = memory.read_struct
        get_slice = memory.get_slice
        table_limit = self._queue_size
        head = self._head
        if head >= table_limit:
            raise DescriptorIndexError(head, head, table_limit, False)
        table = self._desc_table
        index = head
        budget = table_limit  # descriptors left before the chain counts as a loop
        indirect = False
        descriptors: list[tuple[Any, ...]] = []
        readable: list[memoryview] = []
        writable: list[memoryview] = []
        readable_len = writable_len = 0
        split: int | None = None
        while True:
            if not budget:
                raise ChainLoopError(head, table_limit)
            budget -= 1
            where = table + 16 * index
            try:
                raw = read_struct(where, DESCRIPTOR)
            except GuestMemoryError as error:
                raise DescriptorMemoryError(head, where, 16, "descriptor") from error
            addr, length, flags, next_index = raw
            if flags & F_INDIRECT:
                table_limit = _check_indirect(memory, head, len(descriptors), raw, indirect)
                table, index, budget, indirect = addr, 0, table_limit, True
                continue
            if flags & F_WRITE:
                if split is None:
                    split = len(descriptors)
                target = writable
                writable_len += length
            elif split is None:
                target = readable
                readable_len += length
            else:
                raise DescriptorOrderError(head, len(descriptors))
            if readable_len + writable_len > _U32_MAX:
                raise ChainLengthOverflowError(head, readable_len + writable_len)
            if length:
                try:
                    target.append(get_slice(addr, length))
                except GuestMemoryError:
                    # Outside guest memory, or across a region boundary.
                    target += _buffer_views(memory, head, addr, length)
            descriptors.append(raw)
            if not flags & F_NEXT:
                break
            if next_index >= table_limit:
                raise DescriptorIndexError(head, next_index, table_limit, indirect)
            index = next_index
        self._split = len(descriptors) if split is None else split
        self._readable_views = readable
        self._writable_views = writable
        self._readable_len = readable_len
        self._writable_len = writable_len
        self._descriptors = descriptors


def _copy_error(error: InvalidChainError) -> InvalidChainError:
    """The same error as a new object, with no traceback; its causes lose theirs."""
    copy = type(error).__new__(type(error))
    copy.__dict__.update(error.__dict__)
    copy.args = error.args
    link: BaseException | None = error.__cause__
    while link is not None:
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    copy.__cause__ = error.__cause__
    return copy


def _buffer_views(memory: GuestMemory, head: int, addr: int, length: int) -> list[memoryview]:
    """Views of a buffer that does not fit in one memory region."""
    try:
        return memory.get_slices(addr, length)
    except GuestMemoryError as error:
        raise DescriptorMemoryError(head, addr, length) from error


def _check_indirect(
    memory: GuestMemory, head: int, position: int, raw: tuple[Any, ...], nested: bool
) -> int:
    """The number of entries of the indirect table ``raw`` points to, once the
    descriptor passed the rules of 2.7.5.3.1."""
    addr: int = raw[0]
    length: int = raw[1]
    flags: int = raw[2]
    if nested:
        raise IndirectDescriptorError(head, position, length, "is inside an indirect table")
    if flags & F_NEXT:
        raise IndirectDescriptorError(head, position, length, "also has NEXT set")
    if length == 0 or length % 16:
        raise IndirectDescriptorError(head, position, length, "is not a non-zero multiple of 16")
    count = length // 16
    if count > MAX_INDIRECT_DESCRIPTORS:
        raise IndirectDescriptorError(
            head, position, length, f"has more than {MAX_INDIRECT_DESCRIPTORS} entries"
        )
    if not memory.check_range(addr, length):
        raise DescriptorMemoryError(head, addr, length, "indirect table")
    return count
