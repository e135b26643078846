"""Guest RAM from `--memory-zone`s: each zone its own backing, laid out one after another.

As in Cloud Hypervisor, `--memory size=0` plus zones gives the guest the
zones' RAM in the order given: the first zone starts at guest address 0, and
a zone that reaches the 32-bit device hole goes on at 4 GiB, so the guest's
memory map is the same as for one `--memory` of the zones' total size. Each
zone is anonymous memory, a shared memfd, huge pages, or a file (a regular
file of at least the zone's size, or a directory such as a hugetlbfs mount,
where an unnamed file is made).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from vm_memory import GuestMemoryMmap, GuestMemoryRegion, MappingOptions, VmMemoryError

from vmm.arch import layout
from vmm.errors import GuestRamError


@dataclass(frozen=True, slots=True)
class RamZone:
    """One memory zone: its id, size and backing."""

    id: str
    size: int
    file: str | None = None
    shared: bool = False
    options: MappingOptions = field(default_factory=MappingOptions)


@dataclass(frozen=True, slots=True)
class ZonePiece:
    """A zone's RAM at `start` in guest memory, `offset` bytes into the zone."""

    zone: str
    start: int
    size: int
    offset: int


def lay_out(zones: Sequence[RamZone]) -> list[ZonePiece]:
    """Where each zone's RAM goes: the layout's RAM ranges, filled in zone order."""
    total = sum(zone.size for zone in zones)
    pieces: list[ZonePiece] = []
    queue = [(zone.id, zone.size) for zone in zones if zone.size]
    offset = 0
    for range_start, range_size in layout.ram_ranges(total):
        cursor, end = range_start, range_start + range_size
        while cursor < end and queue:
            zone_id, zone_size = queue[0]
            size = min(zone_size - offset, end - cursor)
            pieces.append(ZonePiece(zone_id, cursor, size, offset))
            cursor += size
            offset += size
            if offset == zone_size:
                queue.pop(0)
                offset = 0
    return pieces


def create_zoned_ram(zones: Sequence[RamZone]) -> GuestMemoryMmap:
    """Map every piece of every zone; on failure, unmap what was mapped and raise GuestRamError."""
    by_id = {zone.id: zone for zone in zones}
    regions: list[GuestMemoryRegion] = []
    try:
        for piece in lay_out(zones):
            regions.append(_map_piece(by_id[piece.zone], piece))
        return GuestMemoryMmap(regions)
    except BaseException:
        for region in regions:
            region.close()
        raise


def _map_piece(zone: RamZone, piece: ZonePiece) -> GuestMemoryRegion:
    try:
        if zone.file is not None:
            return _file_region(zone, piece)
        if zone.shared:
            return GuestMemoryRegion.memfd(piece.start, piece.size, zone.options, name=zone.id)
        return GuestMemoryRegion.anonymous(piece.start, piece.size, zone.options)
    except VmMemoryError as error:
        raise GuestRamError(f"memory zone {zone.id!r}: {error}") from None


def _file_region(zone: RamZone, piece: ZonePiece) -> GuestMemoryRegion:
    """A zone's file: a regular file mapped as is, or an unnamed file made in a directory."""
    assert zone.file is not None
    try:
        info = os.stat(zone.file)
        if stat.S_ISDIR(info.st_mode):
            fd = os.open(zone.file, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                os.ftruncate(fd, zone.size)
                options = MappingOptions(prefault=zone.options.prefault)
                return GuestMemoryRegion.from_file(
                    piece.start, piece.size, fd, offset=piece.offset, shared=zone.shared,
                    options=options,
                )  # fmt: skip
            finally:
                os.close(fd)  # the region holds its own duplicate
    except OSError as error:
        raise GuestRamError(
            f"memory zone {zone.id!r}: cannot use {zone.file!r}: {error.strerror}"
        ) from None
    options = MappingOptions(prefault=zone.options.prefault, mergeable=zone.options.mergeable)
    return GuestMemoryRegion.from_file(
        piece.start, piece.size, zone.file, offset=piece.offset, shared=zone.shared,
        options=options,
    )  # fmt: skip
