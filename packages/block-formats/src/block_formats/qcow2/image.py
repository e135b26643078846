"""Qcow2Image: a qcow2 (v2 or v3) file served as a virtual disk.

Crash safety comes from the order of writes, with an fdatasync barrier
between the steps so the disk cannot reorder them:

1. a new cluster's data, then its refcount (and any new refcount block);
2. barrier; then the L2 entry (or a new L2 table, barrier, then its L1 entry);
3. barrier; then the refcounts of clusters the new mapping replaced.

So a crash may leak a cluster (counted, unused: `qemu-img check` reports a
leak, harmless) but never leaves a mapping to unwritten data, nor a mapping
to a cluster whose refcount says it is free.
"""

from __future__ import annotations

import threading

from block_formats.errors import (
    BackingChainError,
    CorruptImageError,
    ImageClosedError,
    UnsupportedFeatureError,
)
from block_formats.hostfile import HostFile
from block_formats.image import DiskImage, ReadableBuffer, WritableBuffer
from block_formats.qcow2.compressed import CompressedCluster
from block_formats.qcow2.header import Qcow2Header, parse_header
from block_formats.qcow2.mapping import COMPRESSED, COPIED, OFFSET_MASK, ZERO, ClusterMap
from block_formats.qcow2.refcount import Refcounts

__all__ = ["Qcow2Image"]

_STANDARD_RESERVED = 0x3F00_0000_0000_01FE
_AUTOCLEAR_OFFSET = 88
_ZERO_CHUNK = 1 << 20


class Qcow2Image(DiskImage):
    """A qcow2 image open on `fd`; `backing` is the opened image its header names.

    `fd` is closed by ``close()`` when `owned`, and so is `backing`. A
    read-write open refuses images that are dirty (refcounts not rebuilt
    here) or hold internal snapshots (clusters may be shared), and clears
    autoclear feature bits, as the specification asks of a writer that does
    not maintain them.
    """

    def __init__(
        self, fd: int, *, read_only: bool, backing: DiskImage | None = None, owned: bool = True
    ) -> None:
        self._file = HostFile(fd, owned=owned)
        self._header = header = parse_header(self._file)
        if header.backing_file is not None and backing is None:
            raise BackingChainError(
                header.backing_file, "the image has a backing file: open it with open_image"
            )
        self._backing = backing
        self._read_only = read_only
        self._cluster_bits = header.cluster_bits
        self._cluster_size = header.cluster_size
        self._refcounts = Refcounts(self._file, header)
        self._map = ClusterMap(self._file, header, self._refcounts)
        self._lock = threading.Lock()
        self._closed = False
        self._inflated: tuple[int, bytes] | None = None
        if not read_only:
            self._prepare_for_writes(header)

    @property
    def virtual_size(self) -> int:
        return self._header.size

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def header(self) -> Qcow2Header:
        """The image's checked header, as read at open."""
        return self._header

    @property
    def backing(self) -> DiskImage | None:
        return self._backing

    def read_into(self, offset: int, buffer: WritableBuffer) -> None:
        view = memoryview(buffer).cast("B")
        self._check_range(offset, len(view))
        with self._lock:
            self._check_open()
            for cluster, start, at, size in self._chunks(offset, len(view)):
                self._read_cluster(cluster, start, view[at : at + size])

    def write(self, offset: int, data: ReadableBuffer) -> None:
        view = memoryview(data).cast("B")
        self._check_writable("write")
        self._check_range(offset, len(view))
        with self._lock:
            self._check_open()
            self._write(offset, view)

    def flush(self) -> None:
        with self._lock:
            self._check_open()
            if not self._read_only:
                self._file.sync()

    def discard(self, offset: int, length: int) -> None:
        """Free the clusters the range covers whole: they read zeros afterwards (with a
        backing file, via v3 zero clusters; a v2 image with a backing file keeps them).
        Bytes of partly covered clusters are unchanged."""
        self._check_writable("discard")
        self._check_range(offset, length)
        with self._lock:
            self._check_open()
            if self._backing is not None and self._header.version == 2:
                return
            self._unmap(offset, length)

    def write_zeroes(self, offset: int, length: int) -> None:
        self._check_writable("write_zeroes")
        self._check_range(offset, length)
        with self._lock:
            self._check_open()
            if self._backing is not None and self._header.version == 2:
                self._write_zeros(offset, length)  # v2 has no zero clusters to hide backing data
                return
            head, tail = self._unmap(offset, length)
            self._write_zeros(*head)
            self._write_zeros(*tail)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._file.close()
            finally:
                if self._backing is not None:
                    self._backing.close()

    # -- reading ---------------------------------------------------------------

    def _chunks(self, offset: int, length: int) -> list[tuple[int, int, int, int]]:
        """(guest cluster, offset in it, offset in the buffer, size) for each cluster touched."""
        chunks = []
        at = 0
        while at < length:
            cluster, start = divmod(offset + at, self._cluster_size)
            size = min(self._cluster_size - start, length - at)
            chunks.append((cluster, start, at, size))
            at += size
        return chunks

    def _read_cluster(self, cluster: int, start: int, out: memoryview) -> None:
        entry = self._map.lookup(cluster)
        if entry & COMPRESSED:
            data = self._inflate(entry)
            out[:] = data[start : start + len(out)]
            return
        host = self._host_offset(entry, cluster)
        if entry & ZERO:
            out[:] = bytes(len(out))
        elif host == 0:
            self._read_backing((cluster << self._cluster_bits) + start, out)
        else:
            self._file.read_into(host + start, out)

    def _host_offset(self, entry: int, cluster: int) -> int:
        """The data offset of a standard L2 entry, after checking its reserved bits."""
        host = entry & OFFSET_MASK
        if entry & _STANDARD_RESERVED or (entry & ZERO and self._header.version == 2):
            raise CorruptImageError(host, f"L2 entry {entry:#x} of guest cluster {cluster}")
        if host % self._cluster_size:
            raise CorruptImageError(host, f"unaligned data cluster of guest cluster {cluster}")
        return host

    def _read_backing(self, offset: int, out: memoryview) -> None:
        covered = 0
        if self._backing is not None:
            covered = max(0, min(len(out), self._backing.virtual_size - offset))
            if covered:
                self._backing.read_into(offset, out[:covered])
        if covered < len(out):
            out[covered:] = bytes(len(out) - covered)

    def _inflate(self, entry: int) -> bytes:
        if self._inflated is not None and self._inflated[0] == entry:
            return self._inflated[1]
        data = CompressedCluster(entry, self._cluster_bits).inflate(self._file, self._cluster_size)
        self._inflated = (entry, data)
        return data

    # -- writing ---------------------------------------------------------------

    def _write(self, offset: int, view: memoryview) -> None:
        mapped: dict[int, int] = {}
        replaced: list[int] = []
        for cluster, start, at, size in self._chunks(offset, len(view)):
            piece = view[at : at + size]
            entry = self._map.lookup(cluster)
            if entry & COPIED and not entry & (COMPRESSED | ZERO):
                host = self._host_offset(entry, cluster)
                if host >= self._refcounts.end:
                    raise CorruptImageError(host, f"guest cluster {cluster} maps past end of file")
                if host:
                    self._file.write(host + start, piece)
                    continue
            if size == self._cluster_size:
                content: ReadableBuffer = piece
            else:  # copy-on-write: the rest of the cluster as it reads now
                content = bytearray(self._cluster_size)
                self._read_cluster(cluster, 0, memoryview(content))
                content[start : start + size] = piece
            host = self._refcounts.reserve()
            self._file.write(host, content)
            self._refcounts.set(host, 1)
            mapped[cluster] = host | COPIED
            if self._allocated(entry):
                replaced.append(entry)
        if mapped:
            self._file.barrier()
            self._map.update(mapped)
        self._release(replaced)

    def _unmap(self, offset: int, length: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Make the clusters the range covers whole read zeros without data; the
        (offset, length) of the partly covered head and tail."""
        size = self._cluster_size
        end = offset + length
        first = -(-offset // size)
        last = end // size if end < self.virtual_size else -(-end // size)
        if first >= last:
            return (offset, length), (end, 0)
        # Without a backing file an unallocated cluster reads zeros; with one (v3
        # only here) it takes a zero cluster to hide the backing file's bytes.
        target = 0 if self._backing is None else ZERO
        mapped: dict[int, int] = {}
        replaced: list[int] = []
        for cluster in range(first, last):
            entry = self._map.lookup(cluster)
            if entry in (target, ZERO):
                continue
            mapped[cluster] = target
            if self._allocated(entry):
                replaced.append(entry)
        if mapped:
            self._map.update(mapped)
        self._release(replaced)
        head = (offset, first * size - offset)
        tail_start = min(last * size, end)
        return head, (tail_start, end - tail_start)

    def _write_zeros(self, offset: int, length: int) -> None:
        for start in range(offset, offset + length, _ZERO_CHUNK):
            self._write(start, memoryview(bytes(min(_ZERO_CHUNK, offset + length - start))))

    def _allocated(self, entry: int) -> bool:
        return bool(entry & COMPRESSED or entry & OFFSET_MASK)

    def _release(self, entries: list[int]) -> None:
        """Drop the references of replaced mappings, once the new ones are durable."""
        if not entries:
            return
        self._file.barrier()
        for entry in entries:
            if entry & COMPRESSED:
                hosts = CompressedCluster(entry, self._cluster_bits).host_clusters(
                    self._cluster_bits
                )
            else:
                hosts = range(entry & OFFSET_MASK, (entry & OFFSET_MASK) + 1)
            for host in hosts:
                if self._refcounts.release(host) == 0:
                    self._file.punch_hole(host, self._cluster_size)

    def _prepare_for_writes(self, header: Qcow2Header) -> None:
        if header.dirty:
            raise UnsupportedFeatureError(
                "writing a dirty qcow2 image (its refcounts need a rebuild: qemu-img check -r all)"
            )
        if header.nb_snapshots:
            raise UnsupportedFeatureError("writing a qcow2 image that has internal snapshots")
        if header.autoclear_features:
            self._file.write(_AUTOCLEAR_OFFSET, bytes(8))
            self._file.barrier()

    def _check_open(self) -> None:
        if self._closed:
            raise ImageClosedError
