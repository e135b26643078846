"""Split virtqueues for a Python VMM, shaped like rust-vmm's virtio-queue.

The device side of a VIRTIO 1.2 split virtqueue (section 2.7) that holds up
against a hostile driver: :class:`Queue` pops available
:class:`DescriptorChain` objects, checks each against every rule of the spec,
moves data with a zero-copy :class:`Reader`/:class:`Writer`, returns chains
with ``add_used`` and decides on interrupts with EVENT_IDX.
:class:`MockSplitQueue` plays the driver for tests and benchmarks.
"""

from virtio_queue.barrier import STRONGLY_ORDERED, full_barrier
from virtio_queue.chain import DescriptorChain
from virtio_queue.defs import (
    AVAIL_ALIGN,
    DESC_TABLE_ALIGN,
    DESCRIPTOR_SIZE,
    MAX_INDIRECT_DESCRIPTORS,
    MAX_QUEUE_SIZE,
    USED_ALIGN,
    USED_ELEMENT_SIZE,
    AvailFlags,
    DescriptorFlags,
    UsedFlags,
    VirtioRingFeature,
    avail_ring_size,
    desc_table_size,
    used_ring_size,
)
from virtio_queue.descriptor import Descriptor
from virtio_queue.errors import (
    ChainLengthOverflowError,
    ChainLoopError,
    ChainTooShortError,
    DescriptorIndexError,
    DescriptorMemoryError,
    DescriptorOrderError,
    IndirectDescriptorError,
    InvalidAvailIndexError,
    InvalidChainError,
    InvalidHeadIndexError,
    InvalidQueueConfigError,
    InvalidUsedElementError,
    QueueMemoryError,
    QueueNotReadyError,
    UnexpectedEofError,
    VirtioQueueError,
)
from virtio_queue.io import IOV_MAX, FileDescriptorLike, Reader, Writer
from virtio_queue.mock import MockChain, MockSplitQueue, UsedElement
from virtio_queue.queue import Queue
from virtio_queue.state import QueueState

__version__ = "0.1.0"

__all__ = [
    "AVAIL_ALIGN",
    "DESCRIPTOR_SIZE",
    "DESC_TABLE_ALIGN",
    "IOV_MAX",
    "MAX_INDIRECT_DESCRIPTORS",
    "MAX_QUEUE_SIZE",
    "STRONGLY_ORDERED",
    "USED_ALIGN",
    "USED_ELEMENT_SIZE",
    "AvailFlags",
    "ChainLengthOverflowError",
    "ChainLoopError",
    "ChainTooShortError",
    "Descriptor",
    "DescriptorChain",
    "DescriptorFlags",
    "DescriptorIndexError",
    "DescriptorMemoryError",
    "DescriptorOrderError",
    "FileDescriptorLike",
    "IndirectDescriptorError",
    "InvalidAvailIndexError",
    "InvalidChainError",
    "InvalidHeadIndexError",
    "InvalidQueueConfigError",
    "InvalidUsedElementError",
    "MockChain",
    "MockSplitQueue",
    "Queue",
    "QueueMemoryError",
    "QueueNotReadyError",
    "QueueState",
    "Reader",
    "UnexpectedEofError",
    "UsedElement",
    "UsedFlags",
    "VirtioQueueError",
    "VirtioRingFeature",
    "Writer",
    "avail_ring_size",
    "desc_table_size",
    "full_barrier",
    "used_ring_size",
]
