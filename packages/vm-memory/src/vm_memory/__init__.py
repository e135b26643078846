"""Guest memory for a Python VMM on KVM, shaped like rust-vmm's vm-memory.

Guest physical memory is a :class:`GuestMemoryMmap` of mmap-backed
:class:`GuestMemoryRegion` objects. Every access is checked and all-or-nothing;
zero-copy ``memoryview`` slices let virtio I/O go straight into guest memory;
:class:`MemorySlot` and :class:`DirtyBitmap` connect the memory to KVM, and
:class:`GuestMemoryAtomic` lets the map change while devices run.
"""

from vm_memory.address import ADDRESS_LIMIT, AddressLike, GuestAddress, as_int
from vm_memory.atomic import GuestMemoryAtomic
from vm_memory.bytes import Bytes, GuestMemory
from vm_memory.dirty import DIRTY_PAGE_SIZE, DirtyBitmap
from vm_memory.errors import (
    AlignmentError,
    DirtyBitmapError,
    GuestAddressOverflow,
    GuestMemoryError,
    HugePagesUnavailableError,
    InvalidRegionError,
    NoRegionsError,
    RegionInUseError,
    RegionMappingError,
    RegionNotFoundError,
    RegionOverlapError,
    VmMemoryError,
)
from vm_memory.kvm import KvmMemoryFlags, MemorySlot
from vm_memory.mmap import GuestMemoryMmap
from vm_memory.region import PAGE_SIZE, Backing, FileOffset, GuestMemoryRegion, MappingOptions

__version__ = "0.1.0"

__all__ = [
    "ADDRESS_LIMIT",
    "DIRTY_PAGE_SIZE",
    "PAGE_SIZE",
    "AddressLike",
    "AlignmentError",
    "Backing",
    "Bytes",
    "DirtyBitmap",
    "DirtyBitmapError",
    "FileOffset",
    "GuestAddress",
    "GuestAddressOverflow",
    "GuestMemory",
    "GuestMemoryAtomic",
    "GuestMemoryError",
    "GuestMemoryMmap",
    "GuestMemoryRegion",
    "HugePagesUnavailableError",
    "InvalidRegionError",
    "KvmMemoryFlags",
    "MappingOptions",
    "MemorySlot",
    "NoRegionsError",
    "RegionInUseError",
    "RegionMappingError",
    "RegionNotFoundError",
    "RegionOverlapError",
    "VmMemoryError",
    "as_int",
]
