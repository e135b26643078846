"""Load Linux into guest memory and describe the boot to it, like rust-vmm's linux-loader.

* :func:`load_elf` (vmlinux or ELF firmware, with its PVH entry),
  :func:`load_bzimage`, and :func:`load_kernel` that picks by magic;
* :func:`load_initramfs`, placed at the top of low memory;
* :class:`Cmdline` and :func:`write_cmdline`;
* :func:`write_zero_page` (64-bit Linux boot protocol) and
  :func:`write_pvh_start_info` (PVH), both with an E820 memory map.

Every loader validates the whole image before writing guest memory and
raises a :class:`LoaderError` subclass naming the bad field.
"""

from linux_loader.bootparams import (
    E820_MAX_ENTRIES_ZEROPAGE,
    LOADER_TYPE_UNDEFINED,
    ZERO_PAGE_SIZE,
    BootE820Entry,
    BootParams,
    default_setup_header,
    write_zero_page,
)
from linux_loader.bzimage import (
    LoadFlags,
    SetupHeader,
    XLoadFlags,
    load_bzimage,
    read_setup_header,
)
from linux_loader.cmdline import Cmdline, format_memory_size, write_cmdline
from linux_loader.e820 import E820Entry, E820Type
from linux_loader.elf import HIGHMEM_START, XEN_ELFNOTE_PHYS32_ENTRY, load_elf
from linux_loader.errors import (
    BootParamsError,
    CmdlineError,
    ImageReadError,
    InitramfsError,
    InvalidBzImageError,
    InvalidElfError,
    LoaderError,
    SegmentOutsideMemoryError,
    SegmentOverlapError,
    UnknownImageFormatError,
)
from linux_loader.image import ImageSource
from linux_loader.initramfs import DEFAULT_INITRD_ADDR_MAX, initramfs_ceiling, load_initramfs
from linux_loader.loader import load_kernel
from linux_loader.pvh import (
    HVM_START_INFO_MAGIC,
    HVM_START_INFO_VERSION,
    PVH_MAX_MEMMAP_ENTRIES,
    HvmMemmapTableEntry,
    HvmModlistEntry,
    HvmStartInfo,
    write_pvh_start_info,
)
from linux_loader.result import KernelLoaderResult

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_INITRD_ADDR_MAX",
    "E820_MAX_ENTRIES_ZEROPAGE",
    "HIGHMEM_START",
    "HVM_START_INFO_MAGIC",
    "HVM_START_INFO_VERSION",
    "LOADER_TYPE_UNDEFINED",
    "PVH_MAX_MEMMAP_ENTRIES",
    "XEN_ELFNOTE_PHYS32_ENTRY",
    "ZERO_PAGE_SIZE",
    "BootE820Entry",
    "BootParams",
    "BootParamsError",
    "Cmdline",
    "CmdlineError",
    "E820Entry",
    "E820Type",
    "HvmMemmapTableEntry",
    "HvmModlistEntry",
    "HvmStartInfo",
    "ImageReadError",
    "ImageSource",
    "InitramfsError",
    "InvalidBzImageError",
    "InvalidElfError",
    "KernelLoaderResult",
    "LoadFlags",
    "LoaderError",
    "SegmentOutsideMemoryError",
    "SegmentOverlapError",
    "SetupHeader",
    "UnknownImageFormatError",
    "XLoadFlags",
    "default_setup_header",
    "format_memory_size",
    "initramfs_ceiling",
    "load_bzimage",
    "load_elf",
    "load_initramfs",
    "load_kernel",
    "read_setup_header",
    "write_cmdline",
    "write_pvh_start_info",
    "write_zero_page",
]
