"""KVM's binary statistics (KVM_GET_STATS_FD): exits, interrupts injected, halts, faults...

The stats fd describes itself: a header, one descriptor per statistic (name,
type, size, offset), and a data block that `read()` re-reads each time. It
works where debugfs is unavailable and costs one `pread` per snapshot.
"""

from __future__ import annotations

import errno
import os
import struct

from kvm_ioctls.errors import KvmError

_HEADER = struct.Struct("<6I")
_DESC = struct.Struct("<IhHII")


class KvmStats:
    """The statistics of one VM or vCPU, by name."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        try:
            header = os.pread(fd, _HEADER.size, 0)
            _flags, name_size, count, _id_offset, desc_offset, self._data_offset = _HEADER.unpack(
                header
            )
            desc_size = _DESC.size + name_size
            table = os.pread(fd, desc_size * count, desc_offset)
        except OSError as error:
            raise KvmError("KVM_GET_STATS_FD", error.errno or errno.EIO) from None
        self._entries: list[tuple[str, int, int]] = []  # name, offset, number of u64s
        data_end = 0
        for i in range(count):
            _flags, _exponent, size, offset, _bucket = _DESC.unpack_from(table, i * desc_size)
            raw = table[i * desc_size + _DESC.size : (i + 1) * desc_size]
            name = raw.split(b"\0", 1)[0].decode()
            self._entries.append((name, offset, size))
            data_end = max(data_end, offset + 8 * size)
        self._data_size = data_end

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self._entries]

    def read(self) -> dict[str, int | tuple[int, ...]]:
        """A snapshot: single values as ints, histograms as tuples of bucket counts."""
        try:
            data = os.pread(self._fd, self._data_size, self._data_offset)
        except OSError as error:
            raise KvmError("read(stats)", error.errno or errno.EIO) from None
        result: dict[str, int | tuple[int, ...]] = {}
        for name, offset, size in self._entries:
            values = struct.unpack_from(f"<{size}Q", data, offset)
            result[name] = values[0] if size == 1 else values
        return result

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
