"""Which pages of a memory range were written: KVM's dirty log, decoded.

``KVM_GET_DIRTY_LOG`` fills one bit per page of a memory slot, in 64-bit
little-endian words (page ``n`` is bit ``n % 64`` of word ``n // 64``). A
:class:`DirtyBitmap` wraps such a bitmap from any source (bytes, an
``array('Q')``, a list of words) and answers what live migration asks: which
pages, how many, which runs of pages to send, and the union of several passes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from vm_memory.address import AddressLike, GuestAddress, as_int
from vm_memory.errors import DirtyBitmapError

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["DIRTY_PAGE_SIZE", "DirtyBitmap"]

DIRTY_PAGE_SIZE: Final = 4096
"""KVM logs dirty memory in 4 KiB pages."""

_WORD_BITS: Final = 64
_WORD: Final = struct.Struct("<Q")
_ALL_ONES: Final = (1 << _WORD_BITS) - 1


class DirtyBitmap:
    """An immutable set of dirty pages of guest memory ``[start, start + size)``.

    ``bitmap`` holds one bit per page, least significant bit first, as KVM
    returns it; it needs at least ``ceil(pages / 8)`` bytes (KVM rounds up to
    whole 64-bit words) and bits past the last page are ignored. With no
    bitmap every page is clean.
    """

    __slots__ = ("_data", "num_pages", "page_size", "size", "start")

    start: GuestAddress
    size: int
    page_size: int
    num_pages: int

    def __init__(
        self,
        start: AddressLike,
        size: int,
        bitmap: Buffer | None = None,
        *,
        page_size: int = DIRTY_PAGE_SIZE,
    ) -> None:
        start_value = as_int(start)
        if page_size <= 0 or page_size & (page_size - 1):
            raise DirtyBitmapError(start_value, size, f"page size {page_size} is not a power of 2")
        if size < 0:
            raise DirtyBitmapError(start_value, size, "the size is negative")
        self.start = GuestAddress(start_value)
        self.size = size
        self.page_size = page_size
        self.num_pages = -(-size // page_size)
        bits = 0
        if bitmap is not None:
            data = memoryview(bitmap).cast("B")
            if data.nbytes * 8 < self.num_pages:
                raise DirtyBitmapError(
                    start_value,
                    size,
                    f"{data.nbytes} bytes hold fewer bits than the {self.num_pages} pages",
                )
            bits = int.from_bytes(data, "little") & ((1 << self.num_pages) - 1)
        # Whole little-endian words, as KVM lays them out, with no stray bits.
        self._data = bits.to_bytes(self.buffer_size(size, page_size), "little")

    @classmethod
    def from_words(
        cls,
        start: AddressLike,
        size: int,
        words: Iterable[int],
        *,
        page_size: int = DIRTY_PAGE_SIZE,
    ) -> DirtyBitmap:
        """A bitmap from 64-bit words, the way a KVM wrapper may return them."""
        start_value = as_int(start)
        data = bytearray()
        for word in words:
            if not 0 <= word < 1 << _WORD_BITS:
                raise DirtyBitmapError(start_value, size, f"word {word:#x} is not a u64")
            data += word.to_bytes(8, "little")
        return cls(start_value, size, data, page_size=page_size)

    @staticmethod
    def buffer_size(size: int, page_size: int = DIRTY_PAGE_SIZE) -> int:
        """Bytes of the buffer ``KVM_GET_DIRTY_LOG`` fills for ``size`` bytes of
        memory: one bit per page, rounded up to whole 64-bit words."""
        pages = -(-size // page_size)
        return -(-pages // _WORD_BITS) * 8

    # Queries ------------------------------------------------------------------

    def count(self) -> int:
        """The number of dirty pages."""
        return int.from_bytes(self._data, "little").bit_count()

    def __bool__(self) -> bool:
        """Whether any page is dirty."""
        return self._data.count(0) != len(self._data)

    def is_dirty(self, addr: AddressLike) -> bool:
        """Whether the page holding ``addr`` is dirty (False outside the range)."""
        offset = as_int(addr) - self.start.value
        if not 0 <= offset < self.size:
            return False
        page = offset // self.page_size
        return (self._data[page >> 3] >> (page & 7)) & 1 == 1

    def dirty_pages(self) -> Iterator[GuestAddress]:
        """The guest address of each dirty page, lowest first."""
        start, page_size = self.start.value, self.page_size
        for first, count in self._runs():
            for page in range(first, first + count):
                yield GuestAddress(start + page * page_size)

    def dirty_ranges(self) -> Iterator[tuple[GuestAddress, int]]:
        """``(address, length)`` of each run of consecutive dirty pages, lowest
        first: what a migration sends, clipped to the end of the range."""
        start, page_size = self.start.value, self.page_size
        for first, count in self._runs():
            offset = first * page_size
            length = min(count * page_size, self.size - offset)
            yield GuestAddress(start + offset), length

    def _runs(self) -> Iterator[tuple[int, int]]:
        """``(first page, page count)`` of each run of set bits.

        Walks 64-bit words so a sparse or dense bitmap of a large guest costs
        one cheap step per word, not big-integer shifts.
        """
        run_start = run_length = 0
        for word_index, (word,) in enumerate(_WORD.iter_unpack(self._data)):
            base = word_index * _WORD_BITS
            if word == 0:
                if run_length:
                    yield run_start, run_length
                    run_length = 0
                continue
            if word == _ALL_ONES:
                if run_length and run_start + run_length == base:
                    run_length += _WORD_BITS
                else:
                    if run_length:
                        yield run_start, run_length
                    run_start, run_length = base, _WORD_BITS
                continue
            bit, rest = 0, word
            while rest:
                skip = (rest & -rest).bit_length() - 1  # trailing zeros
                rest >>= skip
                ones = (~rest & (rest + 1)).bit_length() - 1  # trailing ones
                rest >>= ones
                first = base + bit + skip
                if run_length and run_start + run_length == first:
                    run_length += ones
                else:
                    if run_length:
                        yield run_start, run_length
                    run_start, run_length = first, ones
                bit += skip + ones
        if run_length:
            yield run_start, run_length

    # Combination and export --------------------------------------------------

    def __or__(self, other: DirtyBitmap) -> DirtyBitmap:
        """The pages dirty in either bitmap (e.g. over two dirty-log passes)."""
        if not isinstance(other, DirtyBitmap):
            return NotImplemented
        self._check_same_range(other)
        union = int.from_bytes(self._data, "little") | int.from_bytes(other._data, "little")
        return DirtyBitmap(
            self.start,
            self.size,
            union.to_bytes(len(self._data), "little"),
            page_size=self.page_size,
        )

    def to_bytes(self) -> bytes:
        """The bitmap in KVM's layout: whole little-endian 64-bit words."""
        return self._data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DirtyBitmap):
            return NotImplemented
        return (self.start, self.size, self.page_size, self._data) == (
            other.start,
            other.size,
            other.page_size,
            other._data,
        )

    def __hash__(self) -> int:
        return hash((self.start, self.size, self.page_size, self._data))

    def __repr__(self) -> str:
        return (
            f"DirtyBitmap([{self.start.value:#x}, +{self.size:#x}), "
            f"{self.count()}/{self.num_pages} pages dirty)"
        )

    def _check_same_range(self, other: DirtyBitmap) -> None:
        if (self.start, self.size, self.page_size) != (other.start, other.size, other.page_size):
            raise DirtyBitmapError(
                other.start.value,
                other.size,
                f"cannot merge with the bitmap of [{self.start.value:#x}, +{self.size:#x}) "
                f"in {self.page_size}-byte pages",
            )
