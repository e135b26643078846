"""A descriptor chain: the buffers of one request, as the driver linked them.

A chain is parsed in one pass, and every rule of the spec is checked before
anything is handed to the device. A well-formed chain of direct
descriptors, or a lone head descriptor pointing to an indirect table (how
Linux sends a request of several buffers), is parsed by
``Queue.pop_descriptor_chain`` itself, from the queue's views of its table
and of guest memory; any other chain is parsed when first used, and a
malformed one raises its error then:

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

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from virtio_queue.defs import F_INDIRECT, F_NEXT, F_WRITE, MAX_INDIRECT_DESCRIPTORS
from virtio_queue.descriptor import DESCRIPTOR, Descriptor
from virtio_queue.errors import InvalidChainError
from virtio_queue.io import ChainReader, ChainWriter, Reader, Writer
from virtio_queue.views import QueueViews
from virtio_queue.walk import walk_chain

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["DescriptorChain", "PoppedChain"]

_U32_MAX: Final = 0xFFFF_FFFF
_NO_VIEWS: Final[tuple[memoryview, ...]] = ()
_NEXT_OR_INDIRECT: Final = F_NEXT | F_INDIRECT
_MAX_INDIRECT_BYTES: Final = 16 * MAX_INDIRECT_DESCRIPTORS

# One descriptor, one load. A module global (not bound into the functions) so
# tests can watch every descriptor load of the fast path.
_load_descriptor = DESCRIPTOR.unpack_from


class DescriptorChain:
    """The chain whose head is descriptor ``head_index`` of the table at
    ``desc_table`` (``queue_size`` entries). Made by
    :meth:`Queue.pop_descriptor_chain`.

    A chain made here by hand reads its descriptors through ``memory`` when
    first used. A popped one that is not parsed yet (indirect or malformed)
    fails with an :class:`InvalidChainError` if its queue was reset,
    reconfigured or released before the chain was first used.
    """

    __slots__ = (
        "_descriptors",
        "_error",
        "_head",
        "_readable_len",
        "_readable_views",
        "_source",
        "_writable_len",
        "_writable_views",
    )

    _source: QueueViews
    _head: int
    _descriptors: Sequence[tuple[Any, ...]] | None
    _error: InvalidChainError | None
    # Set by the parse.
    _readable_views: Sequence[memoryview]
    _writable_views: Sequence[memoryview]
    _readable_len: int
    _writable_len: int

    def __init__(
        self, memory: GuestMemory, desc_table: int, queue_size: int, head_index: int
    ) -> None:
        self._source = QueueViews(memory, desc_table, queue_size, views=False)
        self._head = head_index
        self._descriptors = None
        self._error = None

    if TYPE_CHECKING:

        @property
        def head_index(self) -> int:
            """The head's descriptor index: what ``add_used`` returns to the driver."""
            ...

    @property
    def memory(self) -> GuestMemory:
        """The guest memory the buffers live in."""
        return self._source.memory

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
        return [descriptor for descriptor in self.descriptors() if not descriptor.flags & F_WRITE]

    def writable(self) -> list[Descriptor]:
        """The device-writable descriptors (they come last)."""
        return [descriptor for descriptor in self.descriptors() if descriptor.flags & F_WRITE]

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
        reader: Reader = ChainReader()
        reader._views = self._readable_views
        reader._remaining = self._readable_len
        reader._head = self._head
        reader._index = reader._offset = reader._moved = 0
        return reader

    def writer(self) -> Writer:
        """A :class:`Writer` over the writable part."""
        if self._descriptors is None:
            self._parse()
        writer: Writer = ChainWriter()
        writer._views = self._writable_views
        writer._remaining = self._writable_len
        writer._head = self._head
        writer._index = writer._offset = writer._moved = 0
        return writer

    def release(self) -> None:
        """Drop this chain's views of guest memory (Readers and Writers made from
        it keep their own until they are dropped). The chain is unusable after."""
        self._readable_views = _NO_VIEWS
        self._writable_views = _NO_VIEWS
        self._descriptors = None
        self._error = InvalidChainError(self._head, "the chain was released")

    def __repr__(self) -> str:
        return f"DescriptorChain(head={self._head}, table={self._source.desc_table:#x})"

    # Parsing ------------------------------------------------------------------
    #
    # A popped chain is parsed by pop itself, in a fast pass over the queue's
    # views that accepts only chains every rule allows (see the module
    # docstring) and leaves anything else unparsed: a buffer or indirect
    # table across regions or outside memory, an indirect descriptor after
    # direct ones, any broken rule. Those, chains made by hand and chains of
    # a released queue take the general walk at first use, which starts over
    # and raises the precise error. Either way a parsed chain comes from one
    # read of each descriptor, in one pass.

    def _parse(self) -> None:
        if self._error is not None or not self._parse_fast():
            self._parse_general()

    def _parse_fast(self) -> bool:
        """Parse the chain from the queue's views (what
        :meth:`Queue.pop_descriptor_chain` does): a chain in the queue's table,
        or one whose head is the only descriptor and points to an indirect
        table (how Linux sends a request of several buffers). False, with
        nothing set, for a chain that needs the general walk."""
        source = self._source
        table = source.table
        if table is None:
            return False
        raw = _load_descriptor(table, self._head << 4)
        addr, length, flags, _ = raw
        if flags & _NEXT_OR_INDIRECT:
            if not flags & F_INDIRECT:
                return self._parse_table(source, table, source.size, raw)
            if flags & F_NEXT or not length or length & 15 or length > _MAX_INDIRECT_BYTES:
                return False
            indirect = source.buffer(addr, length)
            if indirect is None:
                return False
            return self._parse_table(source, indirect, length >> 4, _load_descriptor(indirect, 0))
        # A single buffer: a whole request in one descriptor.
        views: Sequence[memoryview] = _NO_VIEWS
        if length:
            start, region_end, region = source.hot
            end = addr + length
            if start <= addr and end <= region_end:
                views = (region[addr - start : end - start] if start else region[addr:end],)
            else:
                view = source.buffer(addr, length)
                if view is None:  # outside guest memory, or across regions
                    return False
                views = (view,)
        if flags & F_WRITE:
            self._readable_views = _NO_VIEWS
            self._readable_len = 0
            self._writable_views = views
            self._writable_len = length
        else:
            self._readable_views = views
            self._readable_len = length
            self._writable_views = _NO_VIEWS
            self._writable_len = 0
        self._descriptors = (raw,)
        return True

    def _parse_table(
        self, source: QueueViews, table: memoryview, size: int, raw: tuple[Any, ...]
    ) -> bool:
        """The fast pass over a chain of several descriptors in ``table`` (the
        queue's, or an indirect one) of ``size`` entries; ``raw`` is the first."""
        budget = size - 1  # more descriptors than the table holds: a loop
        readable: list[memoryview] = []
        writable: list[memoryview] = []
        readable_len = writable_len = 0
        writing = False
        descriptors: list[tuple[Any, ...]] = []
        start, region_end, region = source.hot
        while True:
            addr, length, flags, next_index = raw
            if flags & F_INDIRECT:
                return False
            if flags & F_WRITE:
                writing = True
                writable_len += length
                target = writable
            elif writing:  # readable after writable
                return False
            else:
                readable_len += length
                target = readable
            if length:
                end = addr + length
                if start <= addr and end <= region_end:
                    target.append(region[addr - start : end - start] if start else region[addr:end])
                else:
                    view = source.buffer(addr, length)
                    if view is None:
                        return False
                    target.append(view)
                    start, region_end, region = source.hot
            descriptors.append(raw)
            if not flags & F_NEXT:
                break
            if next_index >= size or not budget:
                return False
            budget -= 1
            raw = _load_descriptor(table, next_index << 4)
        if readable_len + writable_len > _U32_MAX:
            return False
        self._readable_views = readable
        self._writable_views = writable
        self._readable_len = readable_len
        self._writable_len = writable_len
        self._descriptors = descriptors
        return True

    def _parse_general(self) -> None:
        if self._error is not None:
            raise _copy_error(self._error)
        try:
            if self._source.released:
                raise InvalidChainError(
                    self._head, "the queue was reset or released before the chain was parsed"
                )
            source = self._source
            walked = walk_chain(source.memory, source.desc_table, source.size, self._head)
        except InvalidChainError as error:
            # Neither the kept copy nor the raised error carries the walk's
            # frames: their locals hold views of guest memory that would keep
            # the memory regions from closing for as long as the error lives.
            self._error = _copy_error(error)
            raise error.with_traceback(None) from error.__cause__
        self._readable_views = walked.readable
        self._writable_views = walked.writable
        self._readable_len = walked.readable_len
        self._writable_len = walked.writable_len
        self._descriptors = walked.descriptors


class PoppedChain(DescriptorChain):
    """A chain made by :meth:`Queue.pop_descriptor_chain`, which sets its
    fields itself (``_source``, ``_head``, ``_descriptors`` and ``_error``):
    without a Python ``__init__``, making one is a single C-level call."""

    __slots__ = ()
    __init__ = object.__init__


# head_index reads the _head slot directly: a slot is several times cheaper
# to read than a property, and device code reads it once per request. Type
# checkers see the read-only property declared above.
DescriptorChain.head_index = DescriptorChain._head  # type: ignore[assignment, misc]


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
