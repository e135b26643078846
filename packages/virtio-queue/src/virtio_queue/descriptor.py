"""One split-virtqueue descriptor, as the driver wrote it."""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from virtio_queue.defs import F_INDIRECT, F_NEXT, F_WRITE, DescriptorFlags

__all__ = ["DESCRIPTOR", "Descriptor"]

DESCRIPTOR: Final = struct.Struct("<QIHH")
"""``struct virtq_desc`` (le64 addr, le32 len, le16 flags, le16 next): read in
one ``unpack_from`` so a driver changing it concurrently cannot tear it."""


class Descriptor(NamedTuple):
    """A descriptor: a tuple, so a chain's descriptors cost one allocation each.

    Field names follow the spec (``len`` shadows the builtin only as an
    attribute). Values are exactly what the driver wrote; a
    :class:`~virtio_queue.chain.DescriptorChain` only yields descriptors that
    passed its checks.
    """

    addr: int
    len: int
    flags: int = 0
    next: int = 0

    @property
    def has_next(self) -> bool:
        """``NEXT`` is set: the chain goes on at ``next``."""
        return bool(self.flags & F_NEXT)

    @property
    def is_write_only(self) -> bool:
        """``WRITE`` is set: the device writes this buffer, the driver reads it."""
        return bool(self.flags & F_WRITE)

    @property
    def is_indirect(self) -> bool:
        """``INDIRECT`` is set: the buffer is a table of descriptors."""
        return bool(self.flags & F_INDIRECT)

    @property
    def descriptor_flags(self) -> DescriptorFlags:
        """``flags`` as the enum (bits the spec does not define are dropped)."""
        return DescriptorFlags(self.flags & (F_NEXT | F_WRITE | F_INDIRECT))

    def pack(self) -> bytes:
        """The 16 bytes of the descriptor in guest memory."""
        return DESCRIPTOR.pack(self.addr, self.len, self.flags, self.next)

    @classmethod
    def unpack(cls, data: bytes | memoryview) -> Descriptor:
        """The descriptor stored in the first 16 bytes of ``data``."""
        return cls._make(DESCRIPTOR.unpack_from(data))
