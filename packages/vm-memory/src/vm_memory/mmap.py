"""Guest memory made of mmap-backed regions: the map devices read and write.

:class:`GuestMemoryMmap` is an immutable, sorted set of non-overlapping
:class:`~vm_memory.region.GuestMemoryRegion` objects. Every access is checked
against the whole range before any byte moves, so an access that is not fully
inside guest memory raises :class:`~vm_memory.errors.GuestMemoryError` and
has no effect. Accesses may cross from one region into the next when the two
are contiguous in guest physical memory.

Addresses are ``int`` or :class:`~vm_memory.address.GuestAddress`; the
fixed-width loads and stores (``read_u16`` ...) are on virtio's hot path and
are fastest with ints.
"""

from __future__ import annotations

import operator
import struct
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

from vm_memory.address import ADDRESS_LIMIT, AddressLike, GuestAddress, as_int
from vm_memory.errors import (
    GuestMemoryError,
    InvalidRegionError,
    NoRegionsError,
    RegionInUseError,
    RegionNotFoundError,
    RegionOverlapError,
)
from vm_memory.kvm import KvmMemoryFlags, MemorySlot
from vm_memory.region import Backing, GuestMemoryRegion, MappingOptions, _check_layout

if TYPE_CHECKING:
    import ctypes

    from typing_extensions import Buffer

__all__ = ["GuestMemoryMmap"]

_CT = TypeVar("_CT", bound="ctypes._CData")

# On a little-endian host struct maps these to native memcpy loads and stores,
# which compile to one instruction: aligned accesses are never torn.
_U8: Final = struct.Struct("<B")
_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")

# (start, end, region): one region's guest range, read and replaced atomically.
_Span: TypeAlias = tuple[int, int, GuestMemoryRegion]


class GuestMemoryMmap:
    """The guest's physical memory: regions sorted by address, never overlapping.

    Maps are immutable: :meth:`insert_region` and :meth:`remove_region` return
    new maps that share the unchanged region objects (see
    :class:`~vm_memory.atomic.GuestMemoryAtomic` to swap maps while devices
    run). Closing the map closes its regions.
    """

    __slots__ = ("_ends", "_hot", "_regions", "_spans", "_starts")

    def __init__(self, regions: Iterable[GuestMemoryRegion]) -> None:
        ordered = sorted(regions, key=lambda region: region.start.value)
        if not ordered:
            raise NoRegionsError()
        for region in ordered:
            if region.closed:
                raise InvalidRegionError(region.start.value, region.size, "the region is closed")
        _check_disjoint([(region.start.value, region.size) for region in ordered])
        self._regions: tuple[GuestMemoryRegion, ...] = tuple(ordered)
        self._starts: list[int] = [region.start.value for region in ordered]
        self._ends: list[int] = [region.end for region in ordered]
        self._spans: tuple[_Span, ...] = tuple(
            (region.start.value, region.end, region) for region in ordered
        )
        # Lookup cache, not state: any span of this map is a correct answer.
        self._hot: _Span = self._spans[0]

    @classmethod
    def from_ranges(
        cls,
        ranges: Iterable[tuple[AddressLike, int]],
        *,
        backing: Backing = Backing.ANONYMOUS,
        options: MappingOptions | None = None,
    ) -> GuestMemoryMmap:
        """Map one new region per ``(start, size)``; the layout is checked before
        anything is mapped."""
        layout = [(as_int(start), size) for start, size in ranges]
        if not layout:
            raise NoRegionsError()
        for start, size in layout:
            _check_layout(start, size)
        _check_disjoint(sorted(layout))
        create = GuestMemoryRegion.anonymous
        if backing is Backing.MEMFD:
            create = GuestMemoryRegion.memfd
        regions: list[GuestMemoryRegion] = []
        try:
            for start, size in layout:
                regions.append(create(start, size, options))
        except BaseException:
            for region in regions:
                region.close()
            raise
        return cls(regions)

    def insert_region(self, region: GuestMemoryRegion) -> GuestMemoryMmap:
        """A new map with ``region`` added; this map is unchanged."""
        return GuestMemoryMmap((*self._regions, region))

    def remove_region(
        self, start: AddressLike, size: int
    ) -> tuple[GuestMemoryMmap, GuestMemoryRegion]:
        """A new map without the region at exactly ``[start, start + size)``, and
        that region (still open: close it once KVM and devices let go of it)."""
        start_value = as_int(start)
        for region in self._regions:
            if region.start.value == start_value and region.size == size:
                rest = [other for other in self._regions if other is not region]
                return GuestMemoryMmap(rest), region
        raise RegionNotFoundError(start_value, size)

    # Layout -----------------------------------------------------------------

    @property
    def regions(self) -> tuple[GuestMemoryRegion, ...]:
        """The regions, lowest address first."""
        return self._regions

    @property
    def num_regions(self) -> int:
        return len(self._regions)

    @property
    def total_size(self) -> int:
        """Bytes of guest memory over all regions."""
        return sum(region.size for region in self._regions)

    @property
    def last_addr(self) -> GuestAddress:
        """The highest guest address backed by memory."""
        return GuestAddress(self._ends[-1] - 1)

    def __iter__(self) -> Iterator[GuestMemoryRegion]:
        return iter(self._regions)

    def find_region(self, addr: AddressLike) -> GuestMemoryRegion | None:
        """The region holding ``addr``, or None."""
        addr = as_int(addr)
        index = bisect_right(self._starts, addr) - 1
        if index >= 0 and addr < self._ends[index]:
            return self._regions[index]
        return None

    def address_in_range(self, addr: AddressLike) -> bool:
        """Whether ``addr`` is backed by guest memory."""
        return self.find_region(addr) is not None

    def check_range(self, addr: AddressLike, length: int) -> bool:
        """Whether every byte of ``[addr, addr + length)`` is guest memory."""
        try:
            self._pieces(as_int(addr), length)
        except GuestMemoryError:
            return False
        return True

    def get_host_address(self, addr: AddressLike) -> int:
        """The host virtual address backing guest address ``addr``."""
        addr = as_int(addr)
        region = self.find_region(addr)
        if region is None:
            raise GuestMemoryError(addr, 1)
        return region.host_address + addr - region.start.value

    # Bulk access --------------------------------------------------------------
    #
    # Each access first tries the hot span (the region of the last lookup that
    # needed a search), then searches; anything not inside one region takes the
    # general path, which checks the whole range before moving a byte.

    def read(self, addr: AddressLike, length: int) -> bytes:
        """A copy of ``length`` bytes from ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if not (length > 0 and start <= addr and addr + length <= end):
            span = self._find_span(addr, length)
            if span is None:
                return b"".join([r._view[a:b] for r, a, b in self._pieces(addr, length)])
            start, end, region = span
        offset = addr - start
        return region._mapping[offset : offset + length]

    def read_into(self, addr: AddressLike, buffer: Buffer) -> None:
        """Fill the writable ``buffer`` (any bytes-like object) from ``addr``."""
        target = _byte_view(buffer)
        done = 0
        for region, a, b in self._pieces(as_int(addr), target.nbytes):
            target[done : done + b - a] = region._view[a:b]
            done += b - a

    def write(self, addr: AddressLike, data: Buffer) -> None:
        """Copy ``data`` (any bytes-like object) to ``addr``; all or nothing."""
        if type(addr) is not int:
            addr = operator.index(addr)
        source = _byte_view(data)
        length = source.nbytes
        start, end, region = self._hot
        if not (length > 0 and start <= addr and addr + length <= end):
            span = self._find_span(addr, length)
            if span is None:
                done = 0
                for piece, a, b in self._pieces(addr, length):
                    piece._view[a:b] = source[done : done + b - a]
                    done += b - a
                return
            start, end, region = span
        offset = addr - start
        region._mapping[offset : offset + length] = source

    def read_obj(self, addr: AddressLike, cls: type[_CT]) -> _CT:
        """A ctypes object of type ``cls`` copied from ``addr``."""
        obj = cls()
        self.read_into(addr, obj)
        return obj

    def write_obj(self, addr: AddressLike, obj: ctypes._CData) -> None:
        """Copy the bytes of the ctypes object ``obj`` to ``addr``."""
        self.write(addr, memoryview(obj).cast("B"))

    def get_slice(self, addr: AddressLike, length: int) -> memoryview:
        """A writable, zero-copy view of ``[addr, addr + length)``.

        The range must lie inside one region (see :meth:`get_slices`
        otherwise). The view keeps the region from closing until released.
        """
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if not (length > 0 and start <= addr and addr + length <= end):
            span = self._find_span(addr, length)
            if span is None:
                if self._pieces(addr, length):  # valid, but not inside one region
                    raise GuestMemoryError(addr, length, "crosses a memory region boundary")
                return memoryview(bytearray())  # a valid zero-length access
            start, end, region = span
        offset = addr - start
        return region._view[offset : offset + length]

    def get_slices(self, addr: AddressLike, length: int) -> list[memoryview]:
        """Writable, zero-copy views covering ``[addr, addr + length)`` in order,
        one per region crossed: ready for ``os.preadv``/``os.pwritev``."""
        return [region._view[a:b] for region, a, b in self._pieces(as_int(addr), length)]

    # Fixed-width little-endian loads and stores ---------------------------------
    #
    # Virtio's hot path (ring indices, descriptors), so each is written out in
    # full: a hit on the hot span costs two comparisons and one struct call.
    # A naturally aligned access is a single host load or store, so an index
    # the guest updates concurrently is never read torn.

    def read_struct(self, addr: AddressLike, fmt: struct.Struct) -> tuple[Any, ...]:
        """``fmt.unpack`` of the ``fmt.size`` bytes at ``addr`` (e.g. a whole
        virtio descriptor in one call)."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if start <= addr and addr + fmt.size <= end:
            return fmt.unpack_from(region._view, addr - start)
        return self._load(fmt, addr)

    def write_struct(self, addr: AddressLike, fmt: struct.Struct, *values: Any) -> None:
        """Store ``fmt.pack(*values)`` at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if start <= addr and addr + fmt.size <= end:
            fmt.pack_into(region._view, addr - start, *values)
        else:
            self._store(fmt, addr, *values)

    def read_u8(self, addr: AddressLike) -> int:
        """The byte at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        value: int
        if start <= addr and addr + 1 <= end:
            (value,) = _U8.unpack_from(region._view, addr - start)
        else:
            (value,) = self._load(_U8, addr)
        return value

    def write_u8(self, addr: AddressLike, value: int) -> None:
        """Store the byte ``value`` at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if start <= addr and addr + 1 <= end:
            _U8.pack_into(region._view, addr - start, value)
        else:
            self._store(_U8, addr, value)

    def read_u16(self, addr: AddressLike) -> int:
        """The little-endian u16 at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        value: int
        if start <= addr and addr + 2 <= end:
            (value,) = _U16.unpack_from(region._view, addr - start)
        else:
            (value,) = self._load(_U16, addr)
        return value

    def write_u16(self, addr: AddressLike, value: int) -> None:
        """Store ``value`` as a little-endian u16 at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if start <= addr and addr + 2 <= end:
            _U16.pack_into(region._view, addr - start, value)
        else:
            self._store(_U16, addr, value)

    def read_u32(self, addr: AddressLike) -> int:
        """The little-endian u32 at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        value: int
        if start <= addr and addr + 4 <= end:
            (value,) = _U32.unpack_from(region._view, addr - start)
        else:
            (value,) = self._load(_U32, addr)
        return value

    def write_u32(self, addr: AddressLike, value: int) -> None:
        """Store ``value`` as a little-endian u32 at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if start <= addr and addr + 4 <= end:
            _U32.pack_into(region._view, addr - start, value)
        else:
            self._store(_U32, addr, value)

    def read_u64(self, addr: AddressLike) -> int:
        """The little-endian u64 at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        value: int
        if start <= addr and addr + 8 <= end:
            (value,) = _U64.unpack_from(region._view, addr - start)
        else:
            (value,) = self._load(_U64, addr)
        return value

    def write_u64(self, addr: AddressLike, value: int) -> None:
        """Store ``value`` as a little-endian u64 at ``addr``."""
        if type(addr) is not int:
            addr = operator.index(addr)
        start, end, region = self._hot
        if start <= addr and addr + 8 <= end:
            _U64.pack_into(region._view, addr - start, value)
        else:
            self._store(_U64, addr, value)

    def _load(self, fmt: struct.Struct, addr: int) -> tuple[Any, ...]:
        span = self._find_span(addr, fmt.size)
        if span is None:
            return fmt.unpack(self.read(addr, fmt.size))
        return fmt.unpack_from(span[2]._view, addr - span[0])

    def _store(self, fmt: struct.Struct, addr: int, *values: Any) -> None:
        span = self._find_span(addr, fmt.size)
        if span is None:
            self.write(addr, fmt.pack(*values))
        else:
            fmt.pack_into(span[2]._view, addr - span[0], *values)

    # Lookup ---------------------------------------------------------------------

    def _find_span(self, addr: int, length: int) -> _Span | None:
        """The span of the region holding all of ``[addr, addr + length)``, made
        the hot span; None when the range is empty or not inside one region."""
        index = bisect_right(self._starts, addr) - 1
        if index >= 0 and length > 0 and addr + length <= self._ends[index]:
            span = self._spans[index]
            self._hot = span  # one attribute store: safe with concurrent readers
            return span
        return None

    def _pieces(self, addr: int, length: int) -> list[tuple[GuestMemoryRegion, int, int]]:
        """``(region, start offset, end offset)`` covering ``[addr, addr + length)``,
        or :class:`GuestMemoryError` if any byte of it is not guest memory."""
        if length < 0:
            raise GuestMemoryError(addr, length, "has a negative length")
        if length == 0:
            if not 0 <= addr < ADDRESS_LIMIT:
                raise GuestMemoryError(addr, length)
            return []
        starts = self._starts
        index = bisect_right(starts, addr) - 1
        if index < 0 or addr >= self._ends[index]:
            raise GuestMemoryError(addr, length)
        pieces = []
        position, end = addr, addr + length
        while True:
            region_end = self._ends[index]
            stop = min(end, region_end)
            base = starts[index]
            pieces.append((self._regions[index], position - base, stop - base))
            if stop == end:
                return pieces
            index += 1
            if index == len(starts) or starts[index] != region_end:
                raise GuestMemoryError(addr, length)
            position = region_end

    # KVM ----------------------------------------------------------------------

    def memory_slots(self, first_slot: int = 0, *, log_dirty: bool = False) -> list[MemorySlot]:
        """One KVM memory slot per region, numbered from ``first_slot`` in address
        order; ``log_dirty`` asks KVM to track guest writes for migration."""
        flags = KvmMemoryFlags.LOG_DIRTY_PAGES if log_dirty else KvmMemoryFlags(0)
        return [
            region.memory_slot(first_slot + number, flags)
            for number, region in enumerate(self._regions)
        ]

    # Lifetime -----------------------------------------------------------------

    def close(self) -> None:
        """Close every region (see :meth:`GuestMemoryRegion.close`); if some are
        still in use, close the others and raise for the first busy one."""
        busy: list[RegionInUseError] = []
        for region in self._regions:
            try:
                region.close()
            except RegionInUseError as error:
                busy.append(error)
        if busy:
            raise busy[0]

    def __enter__(self) -> GuestMemoryMmap:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        ranges = ", ".join(f"[{r.start.value:#x}, +{r.size:#x})" for r in self._regions)
        return f"GuestMemoryMmap({ranges})"


def _byte_view(buffer: Buffer) -> memoryview:
    """A flat unsigned-byte view of any contiguous buffer."""
    view = memoryview(buffer)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _check_disjoint(layout: Sequence[tuple[int, int]]) -> None:
    """Raise :class:`RegionOverlapError` unless the sorted ``(start, size)`` ranges
    are pairwise disjoint."""
    for (start, size), (next_start, next_size) in pairwise(layout):
        if next_start < start + size:
            raise RegionOverlapError(next_start, next_size, start, size)
