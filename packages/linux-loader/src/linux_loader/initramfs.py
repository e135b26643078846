"""Placing the initramfs: as high as it fits, below the kernel's limit.

Boot loaders put the initramfs at the top of low memory (the kernel
decompresses or unpacks it from there, out of the way of everything else).
For a bzImage the highest byte it may occupy is ``initrd_addr_max``.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Final, SupportsIndex

from linux_loader.errors import InitramfsError
from linux_loader.image import ImageFile, ImageSource

if TYPE_CHECKING:
    from vm_memory import GuestMemory

    from linux_loader.bzimage import SetupHeader

__all__ = ["DEFAULT_INITRD_ADDR_MAX", "initramfs_ceiling", "load_initramfs"]

DEFAULT_INITRD_ADDR_MAX: Final = 0x37FF_FFFF
"""The boot protocol's limit for kernels that do not state one (before 2.03)."""
_ADDRESS_LIMIT: Final = 1 << 64


def initramfs_ceiling(setup_header: SetupHeader | None, *, low_memory_end: int) -> int:
    """The ``highest`` to pass to :func:`load_initramfs`: the end of low RAM, or
    just past the bzImage's ``initrd_addr_max`` if that is lower. An ELF kernel
    (no header) takes it anywhere in low RAM."""
    if setup_header is None:
        return low_memory_end
    limit = int(setup_header.initrd_addr_max) or DEFAULT_INITRD_ADDR_MAX
    return min(low_memory_end, limit + 1)


def load_initramfs(
    memory: GuestMemory,
    image: ImageSource,
    *,
    lowest: SupportsIndex,
    highest: SupportsIndex,
    alignment: int = 4096,
) -> tuple[int, int]:
    """Read the initramfs into guest memory at the highest ``alignment``-aligned
    address with ``address >= lowest`` and ``address + size <= highest``;
    returns ``(address, size)``. Nothing is written when it does not fit."""
    floor = operator.index(lowest)
    ceiling = operator.index(highest)
    if alignment <= 0 or alignment & (alignment - 1):
        raise InitramfsError(0, f"alignment {alignment:#x} is not a power of two")
    with ImageFile(image) as file:
        size = file.size
        if size == 0:
            raise InitramfsError(0, "the image is empty")
        if not 0 <= floor <= ceiling <= _ADDRESS_LIMIT:
            raise InitramfsError(size, f"bad window [{floor:#x}, {ceiling:#x})")
        address = (ceiling - size) // alignment * alignment
        if ceiling < size or address < floor:
            raise InitramfsError(
                size,
                f"it does not fit in [{floor:#x}, {ceiling:#x}) at {alignment:#x} alignment",
            )
        if not memory.check_range(address, size):
            raise InitramfsError(
                size, f"[{address:#x}, +{size:#x}) below {ceiling:#x} is not guest memory"
            )
        file.read_into_memory(memory, address, 0, size)
    return address, size
