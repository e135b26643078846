"""Device buses: route a vCPU's port I/O or MMIO access to the device that claims it.

A :class:`Bus` maps non-overlapping address ranges to :class:`BusDevice`
objects, like Cloud Hypervisor's ``vm_device::Bus``. The VMM keeps one
:class:`PioBus` (16-bit I/O ports) and one :class:`MmioBus` (guest-physical
addresses) and calls :meth:`Bus.read`/:meth:`Bus.write` on every ``IoIn``/
``IoOut``/``MmioRead``/``MmioWrite`` exit.

Lookup is a ``bisect`` over a sorted tuple of range starts, and each address
found is remembered in a small dict, since a guest uses few addresses again and
again (a UART's data and status ports, virtio notify registers): a repeated
access costs one dict lookup. The tables are immutable tuples, and the memo
belongs to them, which :meth:`Bus.insert`/:meth:`Bus.remove` replace whole (one
attribute store, atomic in Python). vCPU threads therefore look devices up
without a lock while another thread changes the map, and never see a stale
memo. Writers are serialised by a lock. A device that has state shared with
other threads locks it itself.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass
from typing import Protocol

from vm_devices.errors import (
    BusAddressOverflowError,
    BusNotFoundError,
    BusOverlapError,
    BusZeroLengthError,
)

__all__ = ["MMIO_LIMIT", "PIO_LIMIT", "Bus", "BusDevice", "BusRange", "MmioBus", "PioBus"]

PIO_LIMIT = 1 << 16
"""x86 I/O ports are 16-bit: 0x0000-0xffff."""
MMIO_LIMIT = 1 << 64
"""Guest-physical addresses are 64-bit."""


class BusDevice(Protocol):
    """What a bus calls. ``base`` is where the device's range starts (a device
    inserted at several ranges tells them apart by it) and ``offset`` is the
    accessed address minus ``base``.

    The bus only hands a device accesses that lie wholly inside its range:
    ``offset + len(data) <= length``. The access size is ``len(data)`` (1-8
    bytes from KVM). ``read`` fills ``data`` in place; it must fill every byte.
    Neither may raise for any guest-chosen offset, size or value: the guest is
    hostile, and the vCPU thread calling them must not die.
    """

    def read(self, base: int, offset: int, data: memoryview) -> None: ...

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class BusRange:
    """The addresses ``[base, base + length)``."""

    base: int
    length: int

    @property
    def end(self) -> int:
        """First address after the range."""
        return self.base + self.length

    def contains(self, address: int) -> bool:
        return self.base <= address < self.base + self.length

    def overlaps(self, other: BusRange) -> bool:
        return self.base < other.end and other.base < self.end

    def __str__(self) -> str:
        return f"[{self.base:#x}, {self.end:#x})"


_Entry = tuple[int, int, BusDevice]  # (base, end, device)
_MEMO_LIMIT = 1024  # a guest probing many addresses cannot grow the memo beyond this


class _Table:
    """One snapshot of the device map: parallel tuples sorted by base, and its lookup memo."""

    __slots__ = ("bases", "devices", "ends", "memo")

    def __init__(
        self, bases: tuple[int, ...], ends: tuple[int, ...], devices: tuple[BusDevice, ...]
    ) -> None:
        self.bases = bases
        self.ends = ends
        self.devices = devices
        self.memo: dict[int, _Entry] = {}

    def find(self, address: int) -> _Entry | None:
        """The entry whose range holds ``address``, by bisection; remembered when found."""
        index = bisect_right(self.bases, address) - 1
        if index < 0 or address >= self.ends[index]:
            return None
        entry = (self.bases[index], self.ends[index], self.devices[index])
        memo = self.memo
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[address] = entry
        return entry

    def ranges(self) -> tuple[BusRange, ...]:
        return tuple(BusRange(b, e - b) for b, e in zip(self.bases, self.ends, strict=True))


class Bus:
    """Non-overlapping address ranges, each claimed by one device.

    ``limit`` bounds the address space: every range must lie in ``[0, limit)``.
    """

    __slots__ = ("_limit", "_table", "_write_lock")

    def __init__(self, limit: int = MMIO_LIMIT) -> None:
        if limit <= 0:
            raise ValueError(f"bus address limit must be positive, not {limit}")
        self._limit = limit
        self._table = _Table((), (), ())
        self._write_lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    def insert(self, device: BusDevice, base: int, length: int) -> None:
        """Claim ``[base, base + length)`` for ``device``.

        Raises :class:`BusZeroLengthError`, :class:`BusAddressOverflowError` or
        :class:`BusOverlapError`, and then changes nothing. One device may be
        inserted at several ranges.
        """
        new = BusRange(base, length)
        if length <= 0:
            raise BusZeroLengthError(new)
        if base < 0 or new.end > self._limit:
            raise BusAddressOverflowError(new, self._limit)
        with self._write_lock:
            table = self._table
            bases, ends, devices = table.bases, table.ends, table.devices
            index = bisect_right(bases, base)
            # Only the neighbours can overlap: the ranges are sorted and disjoint.
            if index > 0 and ends[index - 1] > base:
                raise BusOverlapError(
                    new, BusRange(bases[index - 1], ends[index - 1] - bases[index - 1])
                )
            if index < len(bases) and bases[index] < new.end:
                raise BusOverlapError(new, BusRange(bases[index], ends[index] - bases[index]))
            self._table = _Table(
                (*bases[:index], base, *bases[index:]),
                (*ends[:index], new.end, *ends[index:]),
                (*devices[:index], device, *devices[index:]),
            )

    def remove(self, base: int) -> BusDevice:
        """Release the range that starts at ``base`` and return its device.

        Raises :class:`BusNotFoundError` when no range starts there. A vCPU that
        looked the device up just before may still complete one access to it.
        """
        with self._write_lock:
            table = self._table
            bases, ends, devices = table.bases, table.ends, table.devices
            index = bisect_right(bases, base) - 1
            if index < 0 or bases[index] != base:
                raise BusNotFoundError(base, table.ranges())
            device = devices[index]
            self._table = _Table(
                bases[:index] + bases[index + 1 :],
                ends[:index] + ends[index + 1 :],
                devices[:index] + devices[index + 1 :],
            )
            return device

    def resolve(self, address: int) -> tuple[int, BusDevice] | None:
        """The ``(base, device)`` whose range contains ``address``, or None."""
        table = self._table
        entry = table.memo.get(address) or table.find(address)
        return None if entry is None else (entry[0], entry[2])

    def read(self, address: int, data: memoryview) -> bool:
        """Let the device at ``address`` fill ``data``; False if none claims it.

        An access must lie wholly inside one device's range; one that runs
        past its end is unclaimed. On False, ``data`` is untouched: the caller
        should fill it with 0xff, what x86 reads from an address no device
        decodes (the bus floats high), and may log it.
        """
        table = self._table
        entry = table.memo.get(address) or table.find(address)
        if entry is None:
            return False
        base, end, device = entry
        if address + len(data) > end:
            return False
        device.read(base, address - base, data)
        return True

    def write(self, address: int, data: memoryview | bytes) -> bool:
        """Hand ``data`` to the device at ``address``; False if none claims it.

        Same claiming rule as :meth:`read`. On False the caller should drop the
        write (and may log it): real hardware ignores writes nobody decodes.
        """
        table = self._table
        entry = table.memo.get(address) or table.find(address)
        if entry is None:
            return False
        base, end, device = entry
        if address + len(data) > end:
            return False
        device.write(base, address - base, data)
        return True

    def devices(self) -> list[tuple[BusRange, BusDevice]]:
        """Every ``(range, device)`` on the bus, sorted by address."""
        table = self._table
        return list(zip(table.ranges(), table.devices, strict=True))

    def __len__(self) -> int:
        return len(self._table.bases)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} devices, limit={self._limit:#x})"


class PioBus(Bus):
    """The x86 I/O port space: addresses 0x0000-0xffff."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(PIO_LIMIT)


class MmioBus(Bus):
    """The guest-physical MMIO space: 64-bit addresses."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(MMIO_LIMIT)
