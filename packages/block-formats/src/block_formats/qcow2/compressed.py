"""Compressed qcow2 clusters: where their deflate stream lies, and inflating it."""

from __future__ import annotations

import zlib

from block_formats.errors import CorruptImageError
from block_formats.hostfile import HostFile

__all__ = ["CompressedCluster"]

_SECTOR = 512
_QCOW2_WBITS = -12  # raw deflate, 4 KiB window: what QEMU writes and reads


class CompressedCluster:
    """The host byte range of one compressed cluster, from its L2 entry."""

    def __init__(self, entry: int, cluster_bits: int) -> None:
        offset_bits = 62 - (cluster_bits - 8)
        self.offset = entry & ((1 << offset_bits) - 1)
        sectors = ((entry >> offset_bits) & ((1 << (cluster_bits - 8)) - 1)) + 1
        self.length = sectors * _SECTOR - (self.offset % _SECTOR)
        self.first_sector = self.offset - self.offset % _SECTOR
        self.sectors = sectors

    def host_clusters(self, cluster_bits: int) -> range:
        """Offsets of the host clusters its sectors touch (each holds one reference)."""
        size = 1 << cluster_bits
        first = self.first_sector >> cluster_bits
        last = (self.first_sector + self.sectors * _SECTOR - 1) >> cluster_bits
        return range(first * size, (last + 1) * size, size)

    def inflate(self, file: HostFile, cluster_size: int) -> bytes:
        """The cluster's `cluster_size` bytes; CorruptImageError if the stream is bad."""
        data = bytearray(self.length)
        file.read_into(self.offset, memoryview(data))
        try:
            out = zlib.decompressobj(_QCOW2_WBITS).decompress(data, cluster_size)
        except zlib.error as error:
            raise CorruptImageError(self.offset, f"compressed cluster: {error}") from None
        if len(out) != cluster_size:
            raise CorruptImageError(self.offset, "compressed cluster inflates short")
        return out
