"""Load any supported kernel image, telling ELF from bzImage by its magic."""

from __future__ import annotations

from typing import TYPE_CHECKING, SupportsIndex

from linux_loader.bzimage import HDRS_MAGIC, load_bzimage
from linux_loader.elf import ELF_MAGIC, HIGHMEM_START, load_elf
from linux_loader.errors import UnknownImageFormatError
from linux_loader.image import ImageFile, ImageSource
from linux_loader.result import KernelLoaderResult

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["load_kernel"]

_HDRS_OFFSET = 0x202


def load_kernel(
    memory: GuestMemory,
    image: ImageSource,
    *,
    highmem_start: SupportsIndex = HIGHMEM_START,
    kernel_offset: SupportsIndex | None = None,
) -> KernelLoaderResult:
    """Load an ELF kernel or firmware (``highmem_start`` applies) or a bzImage
    (``kernel_offset`` applies); :class:`UnknownImageFormatError` otherwise."""
    with ImageFile(image) as file:
        magic = file.read(0, min(file.size, 4))
        hdrs = file.read(_HDRS_OFFSET, 4) if file.size >= _HDRS_OFFSET + 4 else b""
        if magic == ELF_MAGIC:
            return load_elf(memory, file.stream, highmem_start=highmem_start)
        if hdrs == HDRS_MAGIC.to_bytes(4, "little"):
            return load_bzimage(memory, file.stream, kernel_offset=kernel_offset)
    raise UnknownImageFormatError(magic)
