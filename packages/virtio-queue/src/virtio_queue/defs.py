"""Constants of split virtqueues (VIRTIO 1.2, section 2.7).

The flag enums are for readers and callers; the hot paths compare against the
plain ``int`` constants below them, which avoids enum arithmetic per descriptor.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "AVAIL_ALIGN",
    "DESCRIPTOR_SIZE",
    "DESC_TABLE_ALIGN",
    "MAX_INDIRECT_DESCRIPTORS",
    "MAX_QUEUE_SIZE",
    "USED_ALIGN",
    "USED_ELEMENT_SIZE",
    "AvailFlags",
    "DescriptorFlags",
    "UsedFlags",
    "VirtioRingFeature",
    "avail_ring_size",
    "desc_table_size",
    "used_ring_size",
]


class DescriptorFlags(enum.IntFlag):
    """``virtq_desc.flags``."""

    NEXT = 1
    """The buffer continues in the descriptor named by ``next``."""
    WRITE = 2
    """The buffer is device write-only (otherwise device read-only)."""
    INDIRECT = 4
    """The buffer is a table of descriptors (VIRTIO_F_INDIRECT_DESC)."""


class AvailFlags(enum.IntFlag):
    """``virtq_avail.flags``, written by the driver."""

    NO_INTERRUPT = 1
    """The driver asks not to be interrupted (ignored when EVENT_IDX is on)."""


class UsedFlags(enum.IntFlag):
    """``virtq_used.flags``, written by the device."""

    NO_NOTIFY = 1
    """The device asks not to be notified (ignored when EVENT_IDX is on)."""


class VirtioRingFeature(enum.IntEnum):
    """Feature bits that change how a split virtqueue behaves."""

    INDIRECT_DESC = 28
    EVENT_IDX = 29


MAX_QUEUE_SIZE: Final = 32768
"""Largest split queue size (a power of two; 2.7: "Queue Size ... 32768")."""

DESCRIPTOR_SIZE: Final = 16
"""``struct virtq_desc``: le64 addr, le32 len, le16 flags, le16 next."""

USED_ELEMENT_SIZE: Final = 8
"""``struct virtq_used_elem``: le32 id, le32 len."""

MAX_INDIRECT_DESCRIPTORS: Final = 1 << 16
"""Most descriptors an indirect table may hold: ``next`` is 16 bits, so no
chain inside a table can reach an entry past this (see ``chain.py``)."""

# Alignment of the three areas (2.7, table "Virtqueue Part Alignment").
DESC_TABLE_ALIGN: Final = 16
AVAIL_ALIGN: Final = 2
USED_ALIGN: Final = 4

# Hot-path copies of the flags.
F_NEXT: Final = 1
F_WRITE: Final = 2
F_INDIRECT: Final = 4
AVAIL_F_NO_INTERRUPT: Final = 1
USED_F_NO_NOTIFY: Final = 1

# Ring layout: flags (u16) and idx (u16) head both rings; EVENT_IDX adds
# used_event after the avail ring and avail_event after the used ring.
RING_HEADER: Final = 4


def desc_table_size(queue_size: int) -> int:
    """Bytes of a descriptor table of ``queue_size`` entries."""
    return DESCRIPTOR_SIZE * queue_size


def avail_ring_size(queue_size: int) -> int:
    """Bytes of an available ring, ``used_event`` included."""
    return RING_HEADER + 2 * queue_size + 2


def used_ring_size(queue_size: int) -> int:
    """Bytes of a used ring, ``avail_event`` included."""
    return RING_HEADER + USED_ELEMENT_SIZE * queue_size + 2
