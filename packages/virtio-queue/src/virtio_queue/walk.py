"""The general walk over a descriptor chain: any chain, through the memory map.

It follows ``NEXT`` links and one level of ``INDIRECT``, checks every rule
listed in :mod:`virtio_queue.chain` and raises the first broken one as an
:class:`~virtio_queue.errors.InvalidChainError`. It reads each descriptor
with one ``read_struct`` of the memory map, so it needs no view made ahead:
chains made by hand, rings across memory regions and every chain that pop's
fast pass leaves alone (indirect tables after direct descriptors, buffers
across regions, malformed chains) come here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from vm_memory import GuestMemoryError

from virtio_queue.defs import F_INDIRECT, F_NEXT, F_WRITE, MAX_INDIRECT_DESCRIPTORS
from virtio_queue.descriptor import DESCRIPTOR
from virtio_queue.errors import (
    ChainLengthOverflowError,
    ChainLoopError,
    DescriptorIndexError,
    DescriptorMemoryError,
    DescriptorOrderError,
    IndirectDescriptorError,
)

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["WalkedChain", "walk_chain"]

_U32_MAX: Final = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class WalkedChain:
    """What the walk found: the raw descriptors in chain order, views of the
    readable and of the writable buffers, and their lengths."""

    descriptors: list[tuple[Any, ...]]
    readable: list[memoryview]
    writable: list[memoryview]
    readable_len: int
    writable_len: int


def walk_chain(memory: GuestMemory, desc_table: int, queue_size: int, head: int) -> WalkedChain:
    """Follow the chain at ``head`` of the table at ``desc_table`` (``queue_size``
    entries) through ``memory``, checking every rule; raise the first broken
    one as an :class:`InvalidChainError` naming ``head``."""
    read_struct = memory.read_struct
    get_slice = memory.get_slice
    table_limit = queue_size
    if head >= table_limit:
        raise DescriptorIndexError(head, head, table_limit, False)
    table = desc_table
    index = head
    budget = table_limit  # descriptors left before the chain counts as a loop
    indirect = False
    descriptors: list[tuple[Any, ...]] = []
    readable: list[memoryview] = []
    writable: list[memoryview] = []
    readable_len = writable_len = 0
    writing = False
    while True:
        if not budget:
            raise ChainLoopError(head, table_limit)
        budget -= 1
        where = table + 16 * index
        try:
            raw = read_struct(where, DESCRIPTOR)
        except GuestMemoryError as error:
            raise DescriptorMemoryError(head, where, 16, "descriptor") from error
        addr, length, flags, next_index = raw
        if flags & F_INDIRECT:
            table_limit = _check_indirect(memory, head, len(descriptors), raw, indirect)
            table, index, budget, indirect = addr, 0, table_limit, True
            continue
        if flags & F_WRITE:
            writing = True
            target = writable
            writable_len += length
        elif not writing:
            target = readable
            readable_len += length
        else:
            raise DescriptorOrderError(head, len(descriptors))
        if readable_len + writable_len > _U32_MAX:
            raise ChainLengthOverflowError(head, readable_len + writable_len)
        if length:
            try:
                target.append(get_slice(addr, length))
            except GuestMemoryError:
                # Outside guest memory, or across a region boundary.
                target += _buffer_views(memory, head, addr, length)
        descriptors.append(raw)
        if not flags & F_NEXT:
            break
        if next_index >= table_limit:
            raise DescriptorIndexError(head, next_index, table_limit, indirect)
        index = next_index
    return WalkedChain(descriptors, readable, writable, readable_len, writable_len)


def _buffer_views(memory: GuestMemory, head: int, addr: int, length: int) -> list[memoryview]:
    """Views of a buffer that does not fit in one memory region."""
    try:
        return memory.get_slices(addr, length)
    except GuestMemoryError as error:
        raise DescriptorMemoryError(head, addr, length) from error


def _check_indirect(
    memory: GuestMemory, head: int, position: int, raw: tuple[Any, ...], nested: bool
) -> int:
    """The number of entries of the indirect table ``raw`` points to, once the
    descriptor passed the rules of 2.7.5.3.1."""
    addr: int = raw[0]
    length: int = raw[1]
    flags: int = raw[2]
    if nested:
        raise IndirectDescriptorError(head, position, length, "is inside an indirect table")
    if flags & F_NEXT:
        raise IndirectDescriptorError(head, position, length, "also has NEXT set")
    if length == 0 or length % 16:
        raise IndirectDescriptorError(head, position, length, "is not a non-zero multiple of 16")
    count = length // 16
    if count > MAX_INDIRECT_DESCRIPTORS:
        raise IndirectDescriptorError(
            head, position, length, f"has more than {MAX_INDIRECT_DESCRIPTORS} entries"
        )
    if not memory.check_range(addr, length):
        raise DescriptorMemoryError(head, addr, length, "indirect table")
    return count
