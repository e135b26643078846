"""What a kernel loader tells the VMM: where the kernel went and where to start it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linux_loader.bzimage import SetupHeader

__all__ = ["KernelLoaderResult"]


@dataclass(frozen=True)
class KernelLoaderResult:
    """A loaded kernel (or ELF firmware).

    ``[kernel_load, kernel_end)`` is all the guest memory the kernel claims,
    including its bss (ELF) or ``init_size`` (bzImage): place boot data and the
    initramfs outside it. ``entry`` is the 64-bit entry point (ELF ``e_entry``,
    physical for a vmlinux; bzImage load address + 0x200), ``pvh_entry`` the
    32-bit PVH entry from the ELF note, if any. ``setup_header`` is the
    bzImage's header, to copy into the zero page.
    """

    kernel_load: int
    kernel_end: int
    entry: int
    pvh_entry: int | None = None
    setup_header: SetupHeader | None = None

    def __repr__(self) -> str:
        pvh = "None" if self.pvh_entry is None else f"{self.pvh_entry:#x}"
        return (
            f"KernelLoaderResult(kernel_load={self.kernel_load:#x}, "
            f"kernel_end={self.kernel_end:#x}, entry={self.entry:#x}, pvh_entry={pvh}, "
            f"setup_header={self.setup_header!r})"
        )

    @property
    def size(self) -> int:
        """Bytes of guest memory from ``kernel_load`` to ``kernel_end``."""
        return self.kernel_end - self.kernel_load
