"""One contiguous range of guest physical memory backed by a host mapping.

A :class:`GuestMemoryRegion` owns one ``mmap.mmap``: anonymous private memory
(the default for guest RAM), a memfd (shared, so another process such as a
vhost-user backend can map it too) or a caller's file (shared or private).
It knows where the mapping sits in the host's address space, which is what
KVM and vhost-user need, and can describe itself as a KVM memory slot.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import logging
import mmap
import os
import stat
from dataclasses import dataclass
from typing import Final

from vm_memory.address import ADDRESS_LIMIT, AddressLike, GuestAddress, as_int
from vm_memory.errors import (
    HugePagesUnavailableError,
    InvalidRegionError,
    RegionInUseError,
    RegionMappingError,
)
from vm_memory.kvm import KvmMemoryFlags, MemorySlot

__all__ = ["PAGE_SIZE", "Backing", "FileOffset", "GuestMemoryRegion", "MappingOptions"]

log = logging.getLogger(__name__)

PAGE_SIZE: Final = mmap.PAGESIZE
"""Host page size: region starts and sizes are multiples of it."""

# Linux values; Python's mmap module does not export them on every build.
_MAP_NORESERVE: Final = getattr(mmap, "MAP_NORESERVE", 0x4000)
_MAP_HUGETLB: Final = getattr(mmap, "MAP_HUGETLB", 0x40000)
_MAP_POPULATE: Final = getattr(mmap, "MAP_POPULATE", 0x8000)
_HUGE_SHIFT: Final = 26  # MAP_HUGE_SHIFT == MFD_HUGE_SHIFT
_DEFAULT_HUGEPAGE_SIZE: Final = 2 << 20
_NO_FLAGS: Final = KvmMemoryFlags(0)


class Backing(enum.Enum):
    """Where the memory of a region created by size alone comes from."""

    ANONYMOUS = "anonymous"
    """Private anonymous memory: only this process sees it."""
    MEMFD = "memfd"
    """A shared memfd: its fd (``file_offset``) can be handed to other processes."""


@dataclass(frozen=True, slots=True)
class MappingOptions:
    """How to map a region; every field is off by default.

    ``hugepages`` backs the region with hugetlbfs pages (``MAP_HUGETLB`` or
    ``MFD_HUGETLB``) of ``hugepage_size`` bytes (the host default when None);
    it fails with :class:`HugePagesUnavailableError` when the host has too few
    reserved. The other fields are advice to the kernel that is logged and
    ignored when the kernel rejects it: ``transparent_hugepages``
    (``MADV_HUGEPAGE``), ``dontdump`` (``MADV_DONTDUMP``: keep guest memory
    out of core dumps), ``mergeable`` (``MADV_MERGEABLE``: let KSM share
    identical pages). ``prefault`` populates every page up front
    (``MAP_POPULATE``).
    """

    hugepages: bool = False
    hugepage_size: int | None = None
    transparent_hugepages: bool = False
    dontdump: bool = False
    mergeable: bool = False
    prefault: bool = False


@dataclass(frozen=True, slots=True)
class FileOffset:
    """The file behind a region and where the region starts in it.

    ``fd`` belongs to the region and stays open until the region is closed;
    it is what vhost-user and snapshots pass on.
    """

    fd: int
    offset: int


class GuestMemoryRegion:
    """Guest memory ``[start, start + size)`` backed by one host mapping.

    Build one with :meth:`anonymous`, :meth:`memfd` or :meth:`from_file`, or
    wrap a writable ``mmap.mmap`` you made yourself: the region then owns the
    mapping and the fd of ``file_offset``, and closes both. ``start`` and the
    size must be multiples of :data:`PAGE_SIZE`.
    """

    __slots__ = ("_closed", "_mapping", "_view", "file_offset", "host_address", "size", "start")

    start: GuestAddress
    size: int
    host_address: int
    file_offset: FileOffset | None

    def __init__(
        self, start: AddressLike, mapping: mmap.mmap, *, file_offset: FileOffset | None = None
    ) -> None:
        start_value = as_int(start)
        size = len(mapping)
        _check_layout(start_value, size)
        view = memoryview(mapping)
        if view.readonly:
            view.release()
            raise InvalidRegionError(start_value, size, "the mapping is read-only")
        self.start = GuestAddress(start_value)
        self.size = size
        self.file_offset = file_offset
        self.host_address = ctypes.addressof(ctypes.c_char.from_buffer(mapping))
        self._mapping = mapping
        self._view = view
        self._closed = False

    # Construction ---------------------------------------------------------

    @classmethod
    def anonymous(
        cls, start: AddressLike, size: int, options: MappingOptions | None = None
    ) -> GuestMemoryRegion:
        """Private anonymous memory, reserved lazily (``MAP_NORESERVE``)."""
        options = options or MappingOptions()
        start_value = as_int(start)
        _check_layout(start_value, size)
        flags = mmap.MAP_PRIVATE
        if options.hugepages:
            flags |= _MAP_HUGETLB | _hugepage_flags(start_value, size, options)
        else:
            flags |= _MAP_NORESERVE  # hugetlb pages must be reserved or faults SIGBUS
        if options.prefault:
            flags |= _MAP_POPULATE
        mapping = _map(start_value, size, options, fd=-1, flags=flags, offset=0)
        return cls(start_value, mapping)

    @classmethod
    def memfd(
        cls,
        start: AddressLike,
        size: int,
        options: MappingOptions | None = None,
        *,
        name: str = "guest-memory",
    ) -> GuestMemoryRegion:
        """Shared memory in a new memfd, exposed as ``file_offset`` at offset 0."""
        options = options or MappingOptions()
        start_value = as_int(start)
        _check_layout(start_value, size)
        memfd_flags = os.MFD_CLOEXEC
        if options.hugepages:
            memfd_flags |= os.MFD_HUGETLB | _hugepage_flags(start_value, size, options)
        try:
            fd = os.memfd_create(name, memfd_flags)
        except OSError as exc:
            raise RegionMappingError(start_value, size, exc.errno or 0, str(exc)) from exc
        try:
            os.ftruncate(fd, size)
            flags = mmap.MAP_SHARED | (_MAP_POPULATE if options.prefault else 0)
            mapping = _map(start_value, size, options, fd=fd, flags=flags, offset=0)
        except BaseException:
            os.close(fd)
            raise
        return cls(start_value, mapping, file_offset=FileOffset(fd, 0))

    @classmethod
    def from_file(
        cls,
        start: AddressLike,
        size: int,
        file: int | str | os.PathLike[str],
        *,
        offset: int = 0,
        shared: bool = True,
        options: MappingOptions | None = None,
    ) -> GuestMemoryRegion:
        """Map ``size`` bytes of ``file`` from ``offset``.

        ``file`` is a path or an open fd (duplicated: the caller keeps its
        own). With ``shared`` guest writes reach the file; otherwise they stay
        in private copy-on-write pages. The file must already hold
        ``offset + size`` bytes: touching a mapping past the end of a file
        would kill the process with SIGBUS. For huge pages use a file on
        hugetlbfs; ``options.hugepages`` is refused here.
        """
        options = options or MappingOptions()
        start_value = as_int(start)
        _check_layout(start_value, size)
        if options.hugepages:
            raise InvalidRegionError(
                start_value, size, "file-backed memory gets huge pages from a hugetlbfs file"
            )
        if offset < 0 or offset % PAGE_SIZE:
            raise InvalidRegionError(
                start_value, size, f"file offset {offset:#x} is not a multiple of {PAGE_SIZE:#x}"
            )
        try:
            if isinstance(file, int):
                fd = os.dup(file)
            else:
                fd = os.open(file, (os.O_RDWR if shared else os.O_RDONLY) | os.O_CLOEXEC)
        except OSError as exc:
            raise RegionMappingError(start_value, size, exc.errno or 0, str(exc)) from exc
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_size < offset + size:
                raise InvalidRegionError(
                    start_value,
                    size,
                    f"the file holds {info.st_size:#x} bytes, fewer than offset + size "
                    f"= {offset + size:#x}",
                )
            flags = mmap.MAP_SHARED if shared else mmap.MAP_PRIVATE
            if options.prefault:
                flags |= _MAP_POPULATE
            mapping = _map(start_value, size, options, fd=fd, flags=flags, offset=offset)
        except BaseException:
            os.close(fd)
            raise
        return cls(start_value, mapping, file_offset=FileOffset(fd, offset))

    # Geometry -------------------------------------------------------------

    @property
    def end(self) -> int:
        """One past the last guest address (an int: it may equal ``2**64``)."""
        return self.start.value + self.size

    @property
    def last_addr(self) -> GuestAddress:
        """The last guest address inside the region."""
        return GuestAddress(self.start.value + self.size - 1)

    def contains(self, addr: AddressLike) -> bool:
        """Whether ``addr`` lies inside the region."""
        return 0 <= as_int(addr) - self.start.value < self.size

    @property
    def closed(self) -> bool:
        return self._closed

    # Access ---------------------------------------------------------------

    def as_memoryview(self) -> memoryview:
        """A writable, zero-copy view of the whole region.

        The region cannot be closed while the view (or a slice of it) lives;
        call ``release()`` on it or let it go out of scope first.
        """
        return self._view[:]

    def memory_slot(self, slot: int, flags: KvmMemoryFlags = _NO_FLAGS) -> MemorySlot:
        """This region as KVM memory slot ``slot`` (``KVM_SET_USER_MEMORY_REGION``)."""
        return MemorySlot(
            slot=slot,
            flags=flags,
            guest_phys_addr=self.start.value,
            memory_size=self.size,
            userspace_addr=self.host_address,
        )

    # Lifetime -------------------------------------------------------------

    def close(self) -> None:
        """Unmap the memory and close the backing fd; closing twice is harmless.

        Raises :class:`RegionInUseError` (leaving the region usable) while views
        of the memory are still alive. Remove the region from KVM first: a
        guest touching an unmapped memory slot fails its vCPU.
        """
        if self._closed:
            return
        self._view.release()
        try:
            self._mapping.close()
        except BufferError:
            self._view = memoryview(self._mapping)
            raise RegionInUseError(self.start.value, self.size) from None
        self._closed = True
        if self.file_offset is not None:
            os.close(self.file_offset.fd)

    def __enter__(self) -> GuestMemoryRegion:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "file" if self.file_offset is not None else "anonymous"
        state = ", closed" if self._closed else ""
        return (
            f"GuestMemoryRegion([{self.start.value:#x}, +{self.size:#x}), {kind}, "
            f"host={self.host_address:#x}{state})"
        )


def _check_layout(start: int, size: int) -> None:
    """Refuse a region KVM could not map: unaligned, empty or past ``2**64``."""
    if size <= 0:
        raise InvalidRegionError(start, size, "the size must be positive")
    if start % PAGE_SIZE or size % PAGE_SIZE:
        raise InvalidRegionError(
            start, size, f"start and size must be multiples of the page size {PAGE_SIZE:#x}"
        )
    if start < 0 or start + size > ADDRESS_LIMIT:
        raise InvalidRegionError(start, size, "it does not fit in the 64-bit address space")


def _hugepage_flags(start: int, size: int, options: MappingOptions) -> int:
    """The ``MAP_HUGE_*``/``MFD_HUGE_*`` size bits, after checking the size fits."""
    page = options.hugepage_size
    if page is not None and (page <= 0 or page & (page - 1)):
        raise InvalidRegionError(start, size, f"huge page size {page:#x} is not a power of two")
    effective = page or _default_hugepage_size()
    if start % effective or size % effective:
        raise InvalidRegionError(
            start, size, f"start and size must be multiples of the huge page size {effective:#x}"
        )
    return 0 if page is None else (page.bit_length() - 1) << _HUGE_SHIFT


def _default_hugepage_size() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("Hugepagesize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _DEFAULT_HUGEPAGE_SIZE


def _map(
    start: int, size: int, options: MappingOptions, *, fd: int, flags: int, offset: int
) -> mmap.mmap:
    """mmap with the region's errors, then apply the advice in ``options``."""
    try:
        mapping = mmap.mmap(
            fd, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE, offset=offset
        )
    except OSError as exc:
        if options.hugepages and exc.errno == errno.ENOMEM:  # no reserved huge pages left
            raise HugePagesUnavailableError(
                start,
                size,
                exc.errno,
                "not enough free huge pages (see HugePages_Free in /proc/meminfo; "
                "reserve more with /proc/sys/vm/nr_hugepages)",
            ) from exc
        raise RegionMappingError(start, size, exc.errno or 0, str(exc)) from exc
    for wanted, advice in (
        (options.dontdump, mmap.MADV_DONTDUMP),
        (options.mergeable, mmap.MADV_MERGEABLE),
        (options.transparent_hugepages, mmap.MADV_HUGEPAGE),
    ):
        if wanted:
            try:
                mapping.madvise(advice)
            except OSError as exc:
                log.warning("madvise(%d) on guest memory [%#x, +%#x): %s", advice, start, size, exc)
    return mapping
