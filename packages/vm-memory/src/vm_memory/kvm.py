"""What KVM needs to map guest memory, without importing any KVM package.

:class:`MemorySlot` mirrors ``struct kvm_userspace_memory_region`` field for
field (and in the same order), so a KVM wrapper can build the ioctl argument
from it directly; :class:`KvmMemoryFlags` are the slot flags of the KVM UAPI.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["KvmMemoryFlags", "MemorySlot"]


class KvmMemoryFlags(enum.IntFlag):
    """``KVM_MEM_*`` flags of a memory slot."""

    LOG_DIRTY_PAGES = 1 << 0
    """KVM records guest writes in a per-slot bitmap (``KVM_GET_DIRTY_LOG``)."""
    READONLY = 1 << 1
    """Guest writes to the slot exit to userspace as MMIO."""


@dataclass(frozen=True, slots=True)
class MemorySlot:
    """One ``struct kvm_userspace_memory_region``: guest memory as KVM sees it."""

    slot: int
    flags: KvmMemoryFlags
    guest_phys_addr: int
    memory_size: int
    userspace_addr: int
