"""The qcow2 header and its extensions, parsed and checked before anything trusts them.

Every size or offset that later drives an allocation, a loop or a read is
bounded here against the format's limits and the file's real size, so a
hostile header fails at open with InvalidHeaderError rather than as a huge
allocation or an endless walk later.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from block_formats.errors import CorruptImageError, InvalidHeaderError, UnsupportedFeatureError
from block_formats.hostfile import HostFile
from block_formats.qcow2.features import IncompatibleFeature, check_incompatible

__all__ = ["Qcow2Header", "parse_header"]

MAGIC = b"QFI\xfb"
V2_HEADER_LENGTH = 72
V3_HEADER_LENGTH = 104
MIN_CLUSTER_BITS = 9
MAX_CLUSTER_BITS = 21
MAX_L1_ENTRIES = 32 * 1024 * 1024 // 8  # QEMU's limit: a 32 MiB L1 table
MAX_REFCOUNT_TABLE_BYTES = 8 * 1024 * 1024  # QEMU's limit
MAX_SNAPSHOTS = 65536
MAX_BACKING_NAME = 1023
MAX_REFCOUNT_ORDER = 6

_EXT_END = 0x00000000
_EXT_BACKING_FORMAT = 0xE2792ACA
_EXT_FEATURE_NAMES = 0x6803F857
_FEATURE_NAME_ENTRY = 48

_V2 = struct.Struct(">4sIQIIQIIQQIIQ")
_V3 = struct.Struct(">QQQII")


@dataclass(frozen=True)
class Qcow2Header:
    """The checked header of a qcow2 image (field names are the specification's)."""

    version: int
    cluster_bits: int
    size: int
    l1_size: int
    l1_table_offset: int
    refcount_table_offset: int
    refcount_table_clusters: int
    nb_snapshots: int
    incompatible_features: int
    compatible_features: int
    autoclear_features: int
    refcount_order: int
    header_length: int
    backing_file: str | None
    backing_format: str | None
    feature_names: dict[tuple[int, int], str] = field(default_factory=dict)

    @property
    def cluster_size(self) -> int:
        return 1 << self.cluster_bits

    @property
    def dirty(self) -> bool:
        return bool(self.incompatible_features & IncompatibleFeature.DIRTY)


def parse_header(file: HostFile) -> Qcow2Header:
    """Read and check the header at the start of `file`."""
    file_size = file.size()
    if file_size < V2_HEADER_LENGTH:
        raise InvalidHeaderError("length", file_size, "file is shorter than a qcow2 header")
    fixed = bytearray(V3_HEADER_LENGTH + 8)  # past end of file reads zeros
    file.read_into(0, memoryview(fixed))
    (magic, version, backing_offset, backing_size, cluster_bits, size, crypt_method, l1_size,
     l1_offset, refcount_offset, refcount_clusters, nb_snapshots, _snapshots_offset,
     ) = _V2.unpack_from(fixed)  # fmt: skip
    if magic != MAGIC:
        raise InvalidHeaderError("magic", bytes(magic), "not a qcow2 image")
    if version not in (2, 3):
        raise InvalidHeaderError("version", version, "only versions 2 and 3 exist")
    if not MIN_CLUSTER_BITS <= cluster_bits <= MAX_CLUSTER_BITS:
        raise InvalidHeaderError("cluster_bits", cluster_bits, "outside 9..21")
    cluster_size = 1 << cluster_bits
    incompatible = compatible = autoclear = 0
    refcount_order, header_length, compression_type = 4, V2_HEADER_LENGTH, 0
    if version == 3:
        if file_size < V3_HEADER_LENGTH:
            raise InvalidHeaderError("length", file_size, "file is shorter than a v3 header")
        incompatible, compatible, autoclear, refcount_order, header_length = _V3.unpack_from(
            fixed, V2_HEADER_LENGTH
        )
        if not V3_HEADER_LENGTH <= header_length <= min(cluster_size, file_size):
            raise InvalidHeaderError("header_length", header_length, "outside 104..cluster size")
        if header_length > V3_HEADER_LENGTH:
            compression_type = fixed[V3_HEADER_LENGTH]
        if refcount_order > MAX_REFCOUNT_ORDER:
            raise InvalidHeaderError("refcount_order", refcount_order, "above 6 (64 bits)")
    if crypt_method != 0:
        raise UnsupportedFeatureError(f"encrypted qcow2 (crypt_method {crypt_method})")
    _check_size(size, l1_size, l1_offset, cluster_bits, file_size)
    _check_refcount_table(refcount_offset, refcount_clusters, cluster_size, file_size)
    if nb_snapshots > MAX_SNAPSHOTS:
        raise InvalidHeaderError("nb_snapshots", nb_snapshots, f"above {MAX_SNAPSHOTS}")

    first_cluster = bytearray(min(cluster_size, file_size))
    file.read_into(0, memoryview(first_cluster))
    backing_file = _backing_name(first_cluster, backing_offset, backing_size, cluster_size)
    extensions_end = backing_offset if backing_file is not None else cluster_size
    backing_format, names = _extensions(first_cluster, header_length, extensions_end)
    check_incompatible(incompatible, names)
    if incompatible & IncompatibleFeature.CORRUPT:
        raise CorruptImageError(0, "the image is marked corrupt; repair it with qemu-img check -r")
    if compression_type != 0:
        if not incompatible & IncompatibleFeature.COMPRESSION_TYPE:
            raise InvalidHeaderError(
                "compression_type", compression_type, "set without incompatible feature bit 3"
            )
        if compression_type == 1:
            raise UnsupportedFeatureError("zstd-compressed qcow2 clusters")
        raise InvalidHeaderError("compression_type", compression_type, "unknown compression")
    return Qcow2Header(
        version=version, cluster_bits=cluster_bits, size=size, l1_size=l1_size,
        l1_table_offset=l1_offset, refcount_table_offset=refcount_offset,
        refcount_table_clusters=refcount_clusters, nb_snapshots=nb_snapshots,
        incompatible_features=incompatible, compatible_features=compatible,
        autoclear_features=autoclear, refcount_order=refcount_order,
        header_length=header_length, backing_file=backing_file,
        backing_format=backing_format, feature_names=names,
    )  # fmt: skip


def _check_size(size: int, l1_size: int, l1_offset: int, cluster_bits: int, file_size: int) -> None:
    """The virtual size must fit the L1 table, and the L1 table the file."""
    cluster_size = 1 << cluster_bits
    bytes_per_l1_entry = cluster_size * (cluster_size // 8)
    if l1_size > MAX_L1_ENTRIES:
        raise InvalidHeaderError("l1_size", l1_size, f"above {MAX_L1_ENTRIES} entries")
    if size > l1_size * bytes_per_l1_entry:
        raise InvalidHeaderError("size", size, f"more than an L1 table of {l1_size} covers")
    if l1_size == 0:
        return
    if l1_offset == 0 or l1_offset % cluster_size:
        raise InvalidHeaderError("l1_table_offset", l1_offset, "zero or not cluster aligned")
    if l1_offset + l1_size * 8 > file_size:
        raise InvalidHeaderError("l1_table_offset", l1_offset, "L1 table runs past end of file")


def _check_refcount_table(offset: int, clusters: int, cluster_size: int, file_size: int) -> None:
    if clusters == 0 or clusters * cluster_size > MAX_REFCOUNT_TABLE_BYTES:
        raise InvalidHeaderError("refcount_table_clusters", clusters, "zero or above 8 MiB")
    if offset == 0 or offset % cluster_size:
        raise InvalidHeaderError("refcount_table_offset", offset, "zero or not cluster aligned")
    if offset + clusters * cluster_size > file_size:
        raise InvalidHeaderError("refcount_table_offset", offset, "table runs past end of file")


def _backing_name(first: bytearray, offset: int, size: int, cluster_size: int) -> str | None:
    if offset == 0 or size == 0:
        return None
    if size > MAX_BACKING_NAME or offset + size > cluster_size or offset + size > len(first):
        raise InvalidHeaderError("backing_file_size", size, "name too long or past first cluster")
    raw = bytes(first[offset : offset + size])
    if b"\0" in raw:
        raise InvalidHeaderError("backing_file_offset", offset, "backing file name holds a NUL")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidHeaderError("backing_file_offset", offset, "name is not UTF-8") from None


def _extensions(
    first: bytearray, start: int, end: int
) -> tuple[str | None, dict[tuple[int, int], str]]:
    """The backing format and feature names from the header extensions in [start, end)."""
    backing_format: str | None = None
    names: dict[tuple[int, int], str] = {}
    end = min(end, len(first))
    offset = start
    while offset + 8 <= end:
        kind, length = struct.unpack_from(">II", first, offset)
        offset += 8
        if kind == _EXT_END:
            break
        if length > end - offset:
            raise InvalidHeaderError("header extension", kind, "runs past the extension area")
        data = bytes(first[offset : offset + length])
        offset += (length + 7) & ~7
        if kind == _EXT_BACKING_FORMAT:
            try:
                backing_format = data.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidHeaderError("backing format", data, "not ASCII") from None
        elif kind == _EXT_FEATURE_NAMES:
            for at in range(0, length - _FEATURE_NAME_ENTRY + 1, _FEATURE_NAME_ENTRY):
                name = data[at + 2 : at + _FEATURE_NAME_ENTRY].split(b"\0", 1)[0]
                names[(data[at], data[at + 1])] = name.decode("ascii", "replace")
    return backing_format, names
