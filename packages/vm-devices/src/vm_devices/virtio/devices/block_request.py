"""One virtio-blk request: parse the chain, do the I/O, write the status byte.

A request is a 16-byte header (type, reserved, sector) the device reads,
then data (read by the device for OUT, DISCARD and WRITE_ZEROES, written by
it for IN and GET_ID), then one status byte: the last device-writable byte
of the chain (VIRTIO 1.2, 5.2.6).

The guest is hostile, so the shape of every chain is checked against its
type before any I/O: a header too short, data in the wrong direction, a
length that is not whole sectors, a range past the end of the disk, a
write to a read-only disk, all end that request with ``IOERR`` (an
unknown type with ``UNSUPP``) and the device goes on. A chain with no
writable byte at all has no place for a status: it is returned with length
0 and logged.
"""

from __future__ import annotations

import enum
import logging
import struct
from collections.abc import Sequence
from typing import Final

from virtio_queue import DescriptorChain, InvalidChainError

from vm_devices.virtio.devices.disk import SECTOR_SIZE, DiskImage
from vm_devices.virtio.devices.formatted_disk import FormattedDisk
from vm_devices.virtio.devices.serve import GuestErrorLog

__all__ = ["ID_BYTES", "BlockCounters", "BlockRequestHandler", "RequestType", "Status"]

log = logging.getLogger(__name__)

HEADER: Final = struct.Struct("<IIQ")
SEGMENT: Final = struct.Struct("<QII")  # sector, num_sectors, flags: discard/write zeroes
ID_BYTES: Final = 20
WRITE_ZEROES_FLAG_UNMAP: Final = 1


class RequestType(enum.IntEnum):
    IN = 0
    OUT = 1
    FLUSH = 4
    GET_ID = 8
    DISCARD = 11
    WRITE_ZEROES = 13


class Status(enum.IntEnum):
    OK = 0
    IOERR = 1
    UNSUPP = 2


_HEADER_SIZE: Final = HEADER.size
_unpack_header: Final = HEADER.unpack_from
_IN: Final = int(RequestType.IN)
_OUT: Final = int(RequestType.OUT)
_OK: Final = int(Status.OK)
_IOERR: Final = int(Status.IOERR)
_UNSUPP: Final = int(Status.UNSUPP)


class BlockCounters:
    """Per-queue statistics (Cloud Hypervisor's names); one writer thread each."""

    __slots__ = ("read_bytes", "read_ops", "write_bytes", "write_ops")

    def __init__(self) -> None:
        self.read_bytes = self.read_ops = self.write_bytes = self.write_ops = 0


class BlockRequestHandler:
    """Serves the requests of one queue against ``disk``; ``handle`` is the
    :data:`~vm_devices.virtio.devices.serve.ChainHandler`."""

    def __init__(
        self,
        disk: DiskImage | FormattedDisk,
        serial: bytes,
        *,
        max_discard_segments: int = 1,
        max_discard_sectors: int = 0xFFFF_FFFF,
        name: str = "virtio-blk",
    ) -> None:
        self.disk = disk
        self.serial = serial[:ID_BYTES].ljust(ID_BYTES, b"\0")
        self.max_segments = max_discard_segments
        self.max_discard_sectors = max_discard_sectors
        self.name = name
        self.counters = BlockCounters()
        self.guest_error = GuestErrorLog(log, name)
        self.host_error = GuestErrorLog(log, f"{name}: host I/O error")
        self._end = disk.capacity * SECTOR_SIZE  # the first byte past the disk

    def handle(self, chain: DescriptorChain) -> int:
        """Do the request in ``chain``; the bytes written into it (data and status).

        Written out in one function for reads and writes: this runs once per
        request, and every call costs.
        """
        try:
            readable = chain.readable_views()
            writable = chain.writable_views()
        except InvalidChainError as error:
            self.guest_error("%s", error)
            return 0
        if not writable:
            self.guest_error("chain %d has no status byte", chain.head_index)
            return 0
        status_view = writable[-1]
        first = readable[0] if readable else b""
        if len(first) >= _HEADER_SIZE:
            kind, _, sector = _unpack_header(first)
            header_alone = len(first) == _HEADER_SIZE and len(readable) == 1
        elif chain.readable_len >= _HEADER_SIZE:  # a header split over buffers
            kind, _, sector = HEADER.unpack(_gather(readable, _HEADER_SIZE))
            header_alone = chain.readable_len == _HEADER_SIZE
        else:
            status_view[-1] = _IOERR
            return 1
        status = _IOERR
        written = 0
        offset = sector * SECTOR_SIZE
        try:
            if kind == _IN:
                length = chain.writable_len - 1
                if header_alone and not length % SECTOR_SIZE and offset + length <= self._end:
                    if length:
                        if len(status_view) == 1:
                            data = writable[:-1]
                        else:
                            data = writable[:-1]
                            data.append(status_view[:-1])
                        self.disk.read(data, length, offset)
                    counters = self.counters
                    counters.read_bytes += length
                    counters.read_ops += 1
                    status = _OK
                    written = length
            elif kind == _OUT:
                length = chain.readable_len - _HEADER_SIZE
                if (
                    len(writable) == 1
                    and len(status_view) == 1
                    and not self.disk.readonly
                    and not length % SECTOR_SIZE
                    and offset + length <= self._end
                ):
                    if length:
                        self.disk.write(_skip(readable, _HEADER_SIZE), length, offset)
                    counters = self.counters
                    counters.write_bytes += length
                    counters.write_ops += 1
                    status = _OK
            else:
                status, written = self._other(kind, header_alone, chain, readable, writable)
        except OSError as error:
            self.host_error("%s", error)
            status, written = _IOERR, 0
        status_view[-1] = status
        return written + 1

    def _other(
        self,
        kind: int,
        header_alone: bool,
        chain: DescriptorChain,
        readable: list[memoryview],
        writable: list[memoryview],
    ) -> tuple[int, int]:
        """(status, data bytes written) of the requests other than IN and OUT."""
        readable_len = chain.readable_len
        writable_len = chain.writable_len
        if kind == RequestType.FLUSH:
            if not header_alone or writable_len != 1:
                return _IOERR, 0
            if not self.disk.readonly:
                self.disk.flush()
            return _OK, 0
        if kind == RequestType.GET_ID:
            if not header_alone:
                return _IOERR, 0
            count = min(writable_len - 1, ID_BYTES)
            _scatter_bytes(self.serial[:count], writable)
            return _OK, count
        if kind in (RequestType.DISCARD, RequestType.WRITE_ZEROES):
            count, rest = divmod(readable_len - HEADER.size, SEGMENT.size)
            if (
                self.disk.readonly
                or writable_len != 1
                or rest
                or not 0 < count <= self.max_segments
            ):
                return _IOERR, 0
            data = _gather(readable, readable_len)[HEADER.size :]
            return self._ranges(kind == RequestType.DISCARD, data), 0
        return _UNSUPP, 0

    def _ranges(self, discard: bool, data: bytes) -> int:
        """Discard or zero every segment (whole segments, as many as allowed),
        after checking them all."""
        segments = list(SEGMENT.iter_unpack(data))
        for sector, sectors, flags in segments:
            if flags & ~WRITE_ZEROES_FLAG_UNMAP or (discard and flags):
                return _UNSUPP  # 5.2.6.2: unknown flags, or unmap on a discard
            if sectors > self.max_discard_sectors:
                return _IOERR
            if not self._in_range(sector, sectors * SECTOR_SIZE):
                return _IOERR
        for sector, sectors, flags in segments:
            offset = sector * SECTOR_SIZE
            length = sectors * SECTOR_SIZE
            if not length:
                continue
            if discard:
                self.disk.discard(offset, length)
            else:
                self.disk.write_zeroes(offset, length, bool(flags & WRITE_ZEROES_FLAG_UNMAP))
        return _OK

    def _in_range(self, sector: int, length: int) -> bool:
        """Whole sectors, inside the disk."""
        return not length % SECTOR_SIZE and sector * SECTOR_SIZE + length <= self._end


def _gather(views: Sequence[memoryview], count: int) -> bytes:
    """A copy of the first ``count`` bytes of ``views`` (all of them at most)."""
    out = bytearray()
    for view in views:
        if len(out) >= count:
            break
        out += view[: count - len(out)]
    return bytes(out)


def _skip(views: list[memoryview], count: int) -> list[memoryview]:
    """The views after the first ``count`` bytes."""
    index = 0
    while count:
        size = len(views[index])
        if count < size:
            return [views[index][count:], *views[index + 1 :]]
        count -= size
        index += 1
    return views[index:]


def _scatter_bytes(data: bytes, views: Sequence[memoryview]) -> None:
    position = 0
    for view in views:
        if position >= len(data):
            return
        take = min(len(view), len(data) - position)
        view[:take] = data[position : position + take]
        position += take
