"""How a guest reaches configuration space: CONF1 I/O ports and ECAM (MMCONFIG).

:class:`PciConfigIo` is the x86 configuration mechanism #1, a
:class:`~vm_devices.bus.BusDevice` for the port I/O bus at 0xCF8-0xCFF: a
dword write to 0xCF8 selects enable bit 31, bus, device, function and register,
and 0xCFC-0xCFF access that register's bytes. :class:`PciConfigMmio` is the
PCIe enhanced mechanism, a BusDevice for the MMIO bus: 1 MiB per bus, the
function's 4 KiB at ``bus << 20 | device << 15 | function << 12``. Accesses
that the mechanisms do not define (an access straddling a dword, an 8-byte
access) read all ones and write nothing.
"""

from __future__ import annotations

import threading

from vm_devices.pci.bus import NO_DEVICE, PciBus

__all__ = [
    "CONF1_ADDRESS_PORT",
    "CONF1_DATA_PORT",
    "CONF1_LENGTH",
    "ECAM_BUS_SIZE",
    "PciConfigIo",
    "PciConfigMmio",
    "conf1_address",
    "ecam_offset",
]

CONF1_ADDRESS_PORT = 0xCF8
CONF1_DATA_PORT = 0xCFC
CONF1_LENGTH = 8
"""Insert :class:`PciConfigIo` at ``CONF1_ADDRESS_PORT`` with this length."""
ECAM_BUS_SIZE = 1 << 20
"""Bytes of ECAM space per bus number."""

_ENABLE = 1 << 31


def conf1_address(bus: int, device: int, function: int, offset: int) -> int:
    """The 0xCF8 value selecting ``offset`` (its dword) of a function."""
    return _ENABLE | bus << 16 | device << 11 | function << 8 | (offset & 0xFC)


def ecam_offset(bus: int, device: int, function: int, offset: int) -> int:
    """The offset into ECAM space of byte ``offset`` of a function's configuration space."""
    return bus << 20 | device << 15 | function << 12 | offset


def _read_bytes(dword: int, start: int, data: memoryview) -> None:
    size = len(data)
    data[:] = (dword >> (8 * start) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


class PciConfigIo:
    """CONF1 at ports 0xCF8-0xCFF for one :class:`PciBus`.

    The address register is shared by all vCPUs (a guest serialises its
    address/data pairs, as Linux does with ``pci_config_lock``).
    """

    def __init__(self, bus: PciBus) -> None:
        self.pci_bus = bus
        self._address = 0
        self._lock = threading.Lock()

    def read(self, base: int, offset: int, data: memoryview) -> None:
        size = len(data)
        if offset < 4:
            if offset + size <= 4:
                _read_bytes(self._address, offset, data)
            else:
                data[:] = b"\xff" * size
            return
        start = offset - 4
        with self._lock:
            address = self._address
            if not address & _ENABLE or start + size > 4:
                data[:] = b"\xff" * size
                return
            bus, slot, function, reg = self._decode(address)
            _read_bytes(self.pci_bus.read_config(bus, slot, function, reg), start, data)

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        size = len(data)
        if offset < 4:
            # Only a dword write sets the address (Linux's type-1 probe writes a byte
            # to 0xCFB first and expects the address register to stay as it was).
            if offset == 0 and size == 4:
                with self._lock:
                    self._address = int.from_bytes(data, "little")
            return
        start = offset - 4
        with self._lock:
            address = self._address
            if not address & _ENABLE or start + size > 4:
                return
            bus, slot, function, reg = self._decode(address)
            self.pci_bus.write_config(bus, slot, function, reg << 2 | start, bytes(data))

    @staticmethod
    def _decode(address: int) -> tuple[int, int, int, int]:
        return address >> 16 & 0xFF, address >> 11 & 0x1F, address >> 8 & 0x7, address >> 2 & 0x3F


class PciConfigMmio:
    """ECAM for one :class:`PciBus`; insert it at the MMCONFIG base with length
    ``ECAM_BUS_SIZE * bus_count``. ``start_bus`` is the bus number at offset 0."""

    def __init__(self, bus: PciBus, start_bus: int = 0) -> None:
        self.pci_bus = bus
        self.start_bus = start_bus

    def _decode(self, offset: int, size: int) -> tuple[int, int, int, int, int] | None:
        start = offset & 3
        if size not in (1, 2, 4) or start + size > 4:
            return None
        return (
            self.start_bus + (offset >> 20),
            offset >> 15 & 0x1F,
            offset >> 12 & 0x7,
            (offset & 0xFFF) >> 2,
            start,
        )

    def read(self, base: int, offset: int, data: memoryview) -> None:
        decoded = self._decode(offset, len(data))
        if decoded is None:
            data[:] = b"\xff" * len(data)
            return
        bus, slot, function, reg, start = decoded
        dword = self.pci_bus.read_config(bus, slot, function, reg) if bus <= 0xFF else NO_DEVICE
        _read_bytes(dword, start, data)

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        decoded = self._decode(offset, len(data))
        if decoded is not None:
            bus, slot, function, reg, start = decoded
            self.pci_bus.write_config(bus, slot, function, reg << 2 | start, bytes(data))
