"""qcow2's two-level map from guest clusters to L2 entries (L1 in memory, L2 tables cached).

Updates are written through. A new L2 table is written whole, counted, and
made durable before the L1 entry that publishes it, so a crash never leaves
L1 pointing at a table that is not on disk.
"""

from __future__ import annotations

import sys
from array import array
from collections import OrderedDict

from block_formats.errors import CorruptImageError
from block_formats.hostfile import HostFile
from block_formats.qcow2.header import Qcow2Header
from block_formats.qcow2.refcount import Refcounts

__all__ = ["COMPRESSED", "COPIED", "OFFSET_MASK", "ZERO", "ClusterMap"]

COPIED = 1 << 63
COMPRESSED = 1 << 62
ZERO = 1
OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00
_L1_RESERVED = 0x7F00_0000_0000_01FF
_CACHED_TABLES = 16


def _from_big_endian(data: bytes) -> array[int]:
    table = array("Q", data)
    if sys.byteorder == "little":
        table.byteswap()
    return table


class ClusterMap:
    """Guest cluster index -> raw 64-bit L2 entry, and back."""

    def __init__(self, file: HostFile, header: Qcow2Header, refcounts: Refcounts) -> None:
        self._file = file
        self._refcounts = refcounts
        self._cluster_size = header.cluster_size
        self._l2_bits = header.cluster_bits - 3
        self._l1_offset = header.l1_table_offset
        self._l1 = _from_big_endian(
            file.read_exact(header.l1_table_offset, header.l1_size * 8, "L1 table")
        )
        self._tables: OrderedDict[int, array[int]] = OrderedDict()

    def lookup(self, cluster: int) -> int:
        """The L2 entry of guest cluster `cluster` (0 when it has no L2 table)."""
        l1_index = cluster >> self._l2_bits
        table_offset = self._table_offset(l1_index)
        if table_offset == 0:
            return 0
        return self._table(table_offset)[cluster & ((1 << self._l2_bits) - 1)]

    def update(self, entries: dict[int, int]) -> None:
        """Set the L2 entries of guest clusters (cluster -> entry). The data each entry
        names must already be durable; missing L2 tables are made here."""
        fresh: dict[int, array[int]] = {}
        for cluster, entry in entries.items():
            l1_index = cluster >> self._l2_bits
            at = cluster & ((1 << self._l2_bits) - 1)
            table_offset = self._table_offset(l1_index, writing=True)
            if table_offset:
                self._table(table_offset)[at] = entry
                self._file.write(table_offset + at * 8, entry.to_bytes(8, "big"))
            else:
                table = fresh.setdefault(l1_index, array("Q", bytes(self._cluster_size)))
                table[at] = entry
        if not fresh:
            return
        placed: dict[int, int] = {}
        for l1_index, table in fresh.items():
            table_offset = self._refcounts.reserve()
            data = array("Q", table)
            if sys.byteorder == "little":
                data.byteswap()
            self._file.write(table_offset, data.tobytes())
            self._refcounts.set(table_offset, 1)
            placed[l1_index] = table_offset
            self._remember(table_offset, table)
        self._file.barrier()
        for l1_index, table_offset in placed.items():
            self._l1[l1_index] = table_offset | COPIED
            l1_entry = (table_offset | COPIED).to_bytes(8, "big")
            self._file.write(self._l1_offset + l1_index * 8, l1_entry)

    def _table_offset(self, l1_index: int, *, writing: bool = False) -> int:
        entry = self._l1[l1_index]
        offset = entry & OFFSET_MASK
        if entry & _L1_RESERVED or offset % self._cluster_size:
            raise CorruptImageError(self._l1_offset + l1_index * 8, f"bad L1 entry {entry:#x}")
        if writing and offset and not entry & COPIED:
            raise CorruptImageError(
                self._l1_offset + l1_index * 8, "L2 table shared with a snapshot (no COPIED flag)"
            )
        return offset

    def _table(self, offset: int) -> array[int]:
        table = self._tables.get(offset)
        if table is None:
            table = _from_big_endian(self._file.read_exact(offset, self._cluster_size, "L2 table"))
            self._remember(offset, table)
        else:
            self._tables.move_to_end(offset)
        return table

    def _remember(self, offset: int, table: array[int]) -> None:
        self._tables[offset] = table
        if len(self._tables) > _CACHED_TABLES:
            self._tables.popitem(last=False)
