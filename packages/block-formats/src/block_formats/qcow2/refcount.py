"""qcow2 reference counts: how many mappings use each host cluster, and where new ones go.

A cluster with refcount 0 is free; QEMU (and `qemu-img check`) trusts these
counts, so every allocation and release goes through here and is written
through to the file at once. New clusters are always taken at the end of the
file; freed ones are punched out by the image, not reused.
"""

from __future__ import annotations

import struct
from collections import OrderedDict

from block_formats.errors import CorruptImageError, UnsupportedFeatureError
from block_formats.hostfile import HostFile
from block_formats.qcow2.header import Qcow2Header

__all__ = ["Refcounts"]

_TABLE_OFFSET_MASK = 0xFFFF_FFFF_FFFF_FE00
_CACHED_BLOCKS = 8


class Refcounts:
    """The refcount table (held in memory) and a small cache of refcount blocks."""

    def __init__(self, file: HostFile, header: Qcow2Header) -> None:
        self._file = file
        self._cluster_bits = header.cluster_bits
        self._cluster_size = header.cluster_size
        self._width = 1 << header.refcount_order
        self._per_block = self._cluster_size * 8 // self._width
        self._table_offset = header.refcount_table_offset
        raw = file.read_exact(
            header.refcount_table_offset,
            header.refcount_table_clusters * self._cluster_size,
            "refcount table",
        )
        self._table = list(struct.unpack(f">{len(raw) // 8}Q", raw))
        self._blocks: OrderedDict[int, bytearray] = OrderedDict()
        self._end = -(-file.size() // self._cluster_size) * self._cluster_size

    def reserve(self) -> int:
        """The offset of a fresh cluster past everything in the file (refcount still 0:
        the caller writes its contents, then calls `set(offset, 1)`)."""
        offset = self._end
        self._end += self._cluster_size
        return offset

    @property
    def end(self) -> int:
        """Where the next cluster goes: past the end of the file and of every cluster so far."""
        return self._end

    def get(self, offset: int) -> int:
        """The refcount of the host cluster at `offset`."""
        index, at = divmod(offset >> self._cluster_bits, self._per_block)
        if index >= len(self._table) or self._table[index] == 0:
            return 0
        return self._read_entry(self._block(index), at)

    def set(self, offset: int, value: int) -> None:
        """Store `value` as the refcount of the cluster at `offset`, adding a refcount
        block (made durable before the table points at it) when its range has none."""
        if value >> self._width:
            raise CorruptImageError(offset, f"refcount {value} does not fit {self._width} bits")
        index, at = divmod(offset >> self._cluster_bits, self._per_block)
        if index >= len(self._table):
            raise UnsupportedFeatureError(
                f"growing the refcount table (cluster at {offset:#x} is past what its "
                f"{len(self._table)} entries cover)"
            )
        if self._table[index] == 0:
            if value == 0:
                return
            self._add_block(index)
        block = self._block(index)
        self._write_entry(self._table[index] & _TABLE_OFFSET_MASK, block, at, value)

    def release(self, offset: int) -> int:
        """Drop one reference to the cluster at `offset`; its new refcount."""
        count = self.get(offset)
        if count == 0:
            raise CorruptImageError(offset, "freeing a cluster whose refcount is already 0")
        self.set(offset, count - 1)
        return count - 1

    def _add_block(self, index: int) -> None:
        block_offset = self.reserve()
        block = bytearray(self._cluster_size)
        own_index, own_at = divmod(block_offset >> self._cluster_bits, self._per_block)
        if own_index == index:
            self._put(block, own_at, 1)
        self._file.write(block_offset, block)
        self._file.barrier()
        self._table[index] = block_offset
        self._file.write(self._table_offset + index * 8, block_offset.to_bytes(8, "big"))
        self._remember(block_offset, block)
        if own_index != index:
            self.set(block_offset, 1)

    def _block(self, index: int) -> bytearray:
        entry = self._table[index]
        offset = entry & _TABLE_OFFSET_MASK
        if entry != offset or offset % self._cluster_size:
            raise CorruptImageError(self._table_offset + index * 8, "bad refcount table entry")
        block = self._blocks.get(offset)
        if block is None:
            block = bytearray(self._file.read_exact(offset, self._cluster_size, "refcount block"))
            self._remember(offset, block)
        else:
            self._blocks.move_to_end(offset)
        return block

    def _remember(self, offset: int, block: bytearray) -> None:
        self._blocks[offset] = block
        if len(self._blocks) > _CACHED_BLOCKS:
            self._blocks.popitem(last=False)

    def _read_entry(self, block: bytearray, at: int) -> int:
        if self._width >= 8:
            size = self._width // 8
            return int.from_bytes(block[at * size : (at + 1) * size], "big")
        byte, shift = divmod(at * self._width, 8)
        return block[byte] >> shift & ((1 << self._width) - 1)

    def _put(self, block: bytearray, at: int, value: int) -> tuple[int, int]:
        """Store `value` in `block`; the (start, end) of the bytes that changed."""
        if self._width >= 8:
            size = self._width // 8
            block[at * size : (at + 1) * size] = value.to_bytes(size, "big")
            return at * size, (at + 1) * size
        byte, shift = divmod(at * self._width, 8)
        mask = ((1 << self._width) - 1) << shift
        block[byte] = (block[byte] & ~mask) | (value << shift)
        return byte, byte + 1

    def _write_entry(self, block_offset: int, block: bytearray, at: int, value: int) -> None:
        start, end = self._put(block, at, value)
        self._file.write(block_offset + start, block[start:end])
