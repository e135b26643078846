"""bzImage loader for the 64-bit Linux boot protocol (Documentation/arch/x86/boot.rst).

A bzImage is real-mode setup code (``setup_sects + 1`` sectors, the setup
header at 0x1f1) followed by the protected-mode kernel: a self-decompressing
payload that is loaded at ``pref_address`` (or any suitably aligned address
when relocatable) and started at its 64-bit entry, load address + 0x200. The
real-mode part is not loaded; the VMM copies the header into the zero page.
"""

from __future__ import annotations

import ctypes
import enum
import operator
from typing import TYPE_CHECKING, Final, SupportsIndex

from linux_loader.errors import InvalidBzImageError, SegmentOutsideMemoryError
from linux_loader.image import ImageFile, ImageSource
from linux_loader.result import KernelLoaderResult

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = [
    "BOOT_FLAG_MAGIC",
    "HDRS_MAGIC",
    "SETUP_HEADER_OFFSET",
    "LoadFlags",
    "SetupHeader",
    "XLoadFlags",
    "load_bzimage",
    "read_setup_header",
]

SETUP_HEADER_OFFSET: Final = 0x1F1
BOOT_FLAG_MAGIC: Final = 0xAA55
HDRS_MAGIC: Final = 0x53726448  # "HdrS"
ENTRY_64_OFFSET: Final = 0x200
MIN_VERSION: Final = 0x0206
"""Oldest header this package reads (cmdline_size and 64-bit command line pointers)."""
MIN_VERSION_64BIT: Final = 0x020C
"""Oldest protocol with ``xloadflags``, which says whether the 64-bit entry exists."""
_SECTOR: Final = 512
_LOW_MEMORY_END: Final = 0x10_0000
_ADDRESS_LIMIT: Final = 1 << 64


class LoadFlags(enum.IntFlag):
    """``loadflags`` bits."""

    LOADED_HIGH = 0x01
    KASLR_FLAG = 0x02
    QUIET_FLAG = 0x20
    KEEP_SEGMENTS = 0x40
    CAN_USE_HEAP = 0x80


class XLoadFlags(enum.IntFlag):
    """``xloadflags`` bits (protocol 2.12+)."""

    KERNEL_64 = 0x01
    CAN_BE_LOADED_ABOVE_4G = 0x02
    EFI_HANDOVER_32 = 0x04
    EFI_HANDOVER_64 = 0x08
    EFI_KEXEC = 0x10
    FIVE_LEVEL = 0x20
    FIVE_LEVEL_ENABLED = 0x40


class SetupHeader(ctypes.LittleEndianStructure):
    """Linux's ``struct setup_header`` (arch/x86/include/uapi/asm/bootparam.h),
    found at offset 0x1f1 of a bzImage and of the zero page."""

    _pack_ = 1
    _fields_ = [
        ("setup_sects", ctypes.c_uint8),  # 0x1f1
        ("root_flags", ctypes.c_uint16),
        ("syssize", ctypes.c_uint32),
        ("ram_size", ctypes.c_uint16),
        ("vid_mode", ctypes.c_uint16),
        ("root_dev", ctypes.c_uint16),
        ("boot_flag", ctypes.c_uint16),  # 0x1fe
        ("jump", ctypes.c_uint16),  # 0x200
        ("header", ctypes.c_uint32),  # 0x202
        ("version", ctypes.c_uint16),
        ("realmode_swtch", ctypes.c_uint32),
        ("start_sys_seg", ctypes.c_uint16),
        ("kernel_version", ctypes.c_uint16),
        ("type_of_loader", ctypes.c_uint8),  # 0x210
        ("loadflags", ctypes.c_uint8),
        ("setup_move_size", ctypes.c_uint16),
        ("code32_start", ctypes.c_uint32),
        ("ramdisk_image", ctypes.c_uint32),  # 0x218
        ("ramdisk_size", ctypes.c_uint32),
        ("bootsect_kludge", ctypes.c_uint32),
        ("heap_end_ptr", ctypes.c_uint16),
        ("ext_loader_ver", ctypes.c_uint8),
        ("ext_loader_type", ctypes.c_uint8),
        ("cmd_line_ptr", ctypes.c_uint32),  # 0x228
        ("initrd_addr_max", ctypes.c_uint32),
        ("kernel_alignment", ctypes.c_uint32),  # 0x230
        ("relocatable_kernel", ctypes.c_uint8),
        ("min_alignment", ctypes.c_uint8),
        ("xloadflags", ctypes.c_uint16),
        ("cmdline_size", ctypes.c_uint32),  # 0x238
        ("hardware_subarch", ctypes.c_uint32),
        ("hardware_subarch_data", ctypes.c_uint64),
        ("payload_offset", ctypes.c_uint32),  # 0x248
        ("payload_length", ctypes.c_uint32),
        ("setup_data", ctypes.c_uint64),
        ("pref_address", ctypes.c_uint64),  # 0x258
        ("init_size", ctypes.c_uint32),
        ("handover_offset", ctypes.c_uint32),
        ("kernel_info_offset", ctypes.c_uint32),  # 0x268
    ]

    @property
    def setup_size(self) -> int:
        """Bytes of real-mode code before the protected-mode kernel (0 sectors means 4)."""
        return ((self.setup_sects or 4) + 1) * _SECTOR

    @property
    def kernel_size(self) -> int:
        """Bytes of the protected-mode kernel in the file (``syssize`` paragraphs)."""
        return int(self.syssize) * 16

    def __repr__(self) -> str:
        return (
            f"SetupHeader(version={self.version:#06x}, setup_sects={self.setup_sects}, "
            f"syssize={self.syssize:#x}, pref_address={self.pref_address:#x}, "
            f"init_size={self.init_size:#x}, relocatable_kernel={self.relocatable_kernel})"
        )


def read_setup_header(image: ImageSource) -> SetupHeader:
    """The setup header of a bzImage, checked for the ``HdrS`` protocol 2.06+."""
    with ImageFile(image) as file:
        return _read_header(file)


def load_bzimage(
    memory: GuestMemory,
    image: ImageSource,
    *,
    kernel_offset: SupportsIndex | None = None,
) -> KernelLoaderResult:
    """Load a bzImage's protected-mode kernel for its 64-bit entry point.

    The kernel goes to ``kernel_offset`` if given, else to the header's
    ``pref_address``; ``[load, load + max(init_size, kernel size))`` must be
    guest memory. Raises :class:`~linux_loader.errors.LoaderError` (having
    written nothing) for anything the 64-bit boot protocol does not allow.
    """
    with ImageFile(image) as file:
        header = _read_header(file)
        _check_for_64bit_boot(header, file.size)
        load = _load_address(header, kernel_offset)
        extent = max(int(header.init_size), header.kernel_size)
        if load + extent > _ADDRESS_LIMIT or not memory.check_range(load, extent):
            raise SegmentOutsideMemoryError(
                "bzImage kernel (load address to init_size)", load, extent
            )
        file.read_into_memory(memory, load, header.setup_size, header.kernel_size)
    return KernelLoaderResult(
        kernel_load=load,
        kernel_end=load + extent,
        entry=load + ENTRY_64_OFFSET,
        setup_header=header,
    )


def _read_header(file: ImageFile) -> SetupHeader:
    end = SETUP_HEADER_OFFSET + ctypes.sizeof(SetupHeader)
    if file.size < end:
        raise InvalidBzImageError(
            "file size", file.size, f"too short for a setup header (ends at {end:#x})"
        )
    raw = bytearray(file.read(SETUP_HEADER_OFFSET, ctypes.sizeof(SetupHeader)))
    header = SetupHeader.from_buffer_copy(raw)
    if header.boot_flag != BOOT_FLAG_MAGIC:
        raise InvalidBzImageError("boot_flag", header.boot_flag, "must be 0xaa55")
    if header.header != HDRS_MAGIC:
        raise InvalidBzImageError("header", header.header, "must be 0x53726448 ('HdrS')")
    if header.version < MIN_VERSION:
        raise InvalidBzImageError("version", header.version, "boot protocol 2.06+ is needed")
    # The header ends where the jump at 0x200 lands; fields past it are setup code.
    header_end = 0x202 + (header.jump >> 8)
    if header_end < end:
        raw[header_end - SETUP_HEADER_OFFSET :] = bytes(end - header_end)
        header = SetupHeader.from_buffer_copy(raw)
    return header


def _check_for_64bit_boot(header: SetupHeader, file_size: int) -> None:
    if header.version < MIN_VERSION_64BIT:
        raise InvalidBzImageError(
            "version", header.version, "the 64-bit entry needs boot protocol 2.12+ (xloadflags)"
        )
    if not header.loadflags & LoadFlags.LOADED_HIGH:
        raise InvalidBzImageError(
            "loadflags", header.loadflags, "LOADED_HIGH is clear: not a bzImage (zImage?)"
        )
    if not header.xloadflags & XLoadFlags.KERNEL_64:
        raise InvalidBzImageError(
            "xloadflags", header.xloadflags, "XLF_KERNEL_64 is clear: no 64-bit entry point"
        )
    if header.setup_size >= file_size:
        raise InvalidBzImageError(
            "setup_sects", header.setup_sects, f"setup code fills the {file_size:#x}-byte file"
        )
    if header.syssize == 0 or header.setup_size + header.kernel_size > file_size:
        raise InvalidBzImageError(
            "syssize",
            header.syssize,
            f"{header.kernel_size:#x} kernel bytes after {header.setup_size:#x} bytes of "
            f"setup do not fit in the {file_size:#x}-byte file",
        )
    if header.init_size == 0:
        raise InvalidBzImageError("init_size", 0, "must give the memory the kernel needs")
    if header.relocatable_kernel:
        alignment = int(header.kernel_alignment)
        if alignment == 0 or alignment & (alignment - 1):
            raise InvalidBzImageError("kernel_alignment", alignment, "not a power of two")
        if header.min_alignment > 31 or 1 << header.min_alignment > alignment:
            raise InvalidBzImageError(
                "min_alignment", header.min_alignment, f"above kernel_alignment {alignment:#x}"
            )
    if not _LOW_MEMORY_END <= header.pref_address < _ADDRESS_LIMIT - header.init_size:
        raise InvalidBzImageError("pref_address", header.pref_address, "not above 1 MiB")


def _load_address(header: SetupHeader, kernel_offset: SupportsIndex | None) -> int:
    preferred = int(header.pref_address)
    if kernel_offset is None:
        return preferred
    load = operator.index(kernel_offset)
    if not header.relocatable_kernel and load != preferred:
        raise InvalidBzImageError(
            "relocatable_kernel",
            0,
            f"the kernel must be loaded at pref_address {preferred:#x}, not {load:#x}",
        )
    alignment = 1 << header.min_alignment
    if header.relocatable_kernel and load % alignment:
        raise InvalidBzImageError(
            "min_alignment",
            header.min_alignment,
            f"kernel_offset {load:#x} is not aligned to {alignment:#x}",
        )
    if not _LOW_MEMORY_END <= load < _ADDRESS_LIMIT:
        raise SegmentOutsideMemoryError("bzImage kernel", load, 0, "must be loaded above 1 MiB")
    return load
