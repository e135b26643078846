"""A type-0 PCI configuration space: the header, the BARs and the capability list.

The 256 bytes are kept as the guest sees them, with a writable-bits mask
beside them: a guest write changes only the bits the mask allows, so the
read-only fields (IDs, class, capability list, BAR type bits) cannot be
altered. BAR sizing falls out of the mask: the address bits below the BAR's
size are read-only zeros, so writing all ones reads back the size mask.

A BAR has a *programmed* address (its registers, which the guest writes) and
a *mapped* address (where the VMM decodes it). A write that makes the two
differ, other than a sizing probe, is reported as a :class:`BarReprogram`;
the owner moves the BAR and then calls :meth:`PciConfiguration.set_bar_address`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vm_devices.errors import DeviceConfigError
from vm_devices.pci.defs import (
    BAR0,
    BAR_COUNT,
    BAR_MEMORY_64,
    BAR_PREFETCHABLE,
    CACHE_LINE_SIZE,
    CAPABILITIES_START,
    CAPABILITY_POINTER,
    CLASS_REVISION,
    COMMAND,
    CONFIG_SPACE_SIZE,
    DEVICE_ID,
    HEADER_TYPE,
    INTERRUPT_LINE,
    INTERRUPT_PIN,
    LATENCY_TIMER,
    STATUS,
    STATUS_CAPABILITIES,
    SUBSYSTEM_ID,
    SUBSYSTEM_VENDOR_ID,
    VENDOR_ID,
    Command,
)
from vm_devices.pci.errors import CapabilitySpaceFullError, InvalidBarError

__all__ = ["BarKind", "BarReprogram", "PciBar", "PciConfiguration"]

_MIN_BAR_SIZE = 16
_COMMAND_WRITABLE = int(
    Command.IO_SPACE
    | Command.MEMORY_SPACE
    | Command.BUS_MASTER
    | Command.PARITY_ERROR_RESPONSE
    | Command.SERR
    | Command.INTX_DISABLE
)


class BarKind(enum.Enum):
    """A memory BAR decoding 32-bit addresses (one register) or 64-bit ones (two)."""

    MEMORY32 = "mem32"
    MEMORY64 = "mem64"

    @property
    def limit(self) -> int:
        """First address the BAR cannot reach."""
        return 1 << 32 if self is BarKind.MEMORY32 else 1 << 64


@dataclass(frozen=True, slots=True)
class PciBar:
    """One BAR: its number, kind, size (a power of two) and the address it is mapped at."""

    index: int
    kind: BarKind
    size: int
    address: int = 0
    prefetchable: bool = False

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass(frozen=True, slots=True)
class BarReprogram:
    """The guest moved BAR ``index`` from ``old_base`` to ``new_base``; ``length`` bytes."""

    index: int
    kind: BarKind
    old_base: int
    new_base: int
    length: int


def _check_u(name: str, value: int, bits: int) -> int:
    if not 0 <= value < 1 << bits:
        raise DeviceConfigError("PCI configuration", name, value, f"is not a u{bits}")
    return value


class PciConfiguration:
    """The configuration space of one PCI function with a type-0 header."""

    __slots__ = ("_bars", "_cap_tail", "_next_cap", "_regs", "_wmask")

    def __init__(
        self,
        vendor_id: int,
        device_id: int,
        *,
        class_code: int,
        subclass: int = 0,
        prog_if: int = 0,
        revision: int = 0,
        subsystem_vendor_id: int = 0,
        subsystem_id: int = 0,
        interrupt_pin: int = 0,
        multifunction: bool = False,
    ) -> None:
        self._regs = bytearray(CONFIG_SPACE_SIZE)
        self._wmask = bytearray(CONFIG_SPACE_SIZE)
        self._bars: dict[int, PciBar] = {}
        self._cap_tail = CAPABILITY_POINTER  # where the last "next" pointer lives
        self._next_cap = CAPABILITIES_START
        self._put(VENDOR_ID, _check_u("vendor_id", vendor_id, 16), 2)
        self._put(DEVICE_ID, _check_u("device_id", device_id, 16), 2)
        self._put(CLASS_REVISION, _check_u("revision", revision, 8), 1)
        self._put(CLASS_REVISION + 1, _check_u("prog_if", prog_if, 8), 1)
        self._put(CLASS_REVISION + 2, _check_u("subclass", subclass, 8), 1)
        self._put(CLASS_REVISION + 3, _check_u("class_code", class_code, 8), 1)
        self._put(HEADER_TYPE, 0x80 if multifunction else 0, 1)
        self._put(SUBSYSTEM_VENDOR_ID, _check_u("subsystem_vendor_id", subsystem_vendor_id, 16), 2)
        self._put(SUBSYSTEM_ID, _check_u("subsystem_id", subsystem_id, 16), 2)
        if interrupt_pin not in range(5):
            raise DeviceConfigError(
                "PCI configuration", "interrupt_pin", interrupt_pin, "is not 0 (none) to 4 (INTD)"
            )
        self._put(INTERRUPT_PIN, interrupt_pin, 1)
        self._wmask[COMMAND : COMMAND + 2] = _COMMAND_WRITABLE.to_bytes(2, "little")
        self._wmask[CACHE_LINE_SIZE] = self._wmask[LATENCY_TIMER] = 0xFF
        self._wmask[INTERRUPT_LINE] = 0xFF

    # Access ------------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        """``size`` bytes at ``offset``, little-endian; outside the 256 bytes reads as 0."""
        if offset < 0 or offset + size > CONFIG_SPACE_SIZE:
            return 0
        return int.from_bytes(self._regs[offset : offset + size], "little")

    def read_dword(self, reg: int) -> int:
        """Dword register ``reg`` (0-63); any other register reads as 0."""
        return self.read(reg * 4, 4)

    def write(self, offset: int, data: bytes | memoryview) -> BarReprogram | None:
        """A guest write: only the writable bits change. Returns the BAR move it asks
        for, if any; the BAR's mapped address stays as it was until
        :meth:`set_bar_address`."""
        end = offset + len(data)
        if offset < 0 or end > CONFIG_SPACE_SIZE or not data:
            return None
        regs, wmask = self._regs, self._wmask
        for position, byte in enumerate(bytes(data), offset):
            mask = wmask[position]
            if mask:
                regs[position] = (regs[position] & ~mask) | (byte & mask)
        if offset < BAR0 + 4 * BAR_COUNT and end > BAR0:
            return self._bar_written(offset, end)
        return None

    def poke(self, offset: int, data: bytes | memoryview) -> None:
        """A device-side write that ignores the writable mask (for registers the
        device itself updates). Out-of-range writes are dropped."""
        end = offset + len(data)
        if offset >= 0 and end <= CONFIG_SPACE_SIZE:
            self._regs[offset:end] = data

    def _put(self, offset: int, value: int, size: int) -> None:
        self._regs[offset : offset + size] = value.to_bytes(size, "little")

    # BARs --------------------------------------------------------------------------

    def add_bar(
        self, index: int, size: int, kind: BarKind, *, prefetchable: bool = False
    ) -> PciBar:
        """Declare BAR ``index`` (a 64-bit BAR also takes ``index + 1``), unmapped at 0."""
        if not 0 <= index < BAR_COUNT - (kind is BarKind.MEMORY64):
            raise InvalidBarError(index, "index", index, "has no room for this kind of BAR")
        if size < _MIN_BAR_SIZE or size & (size - 1) or size > kind.limit >> 1:
            raise InvalidBarError(
                index, "size", size, f"is not a power of two in [16, {kind.limit >> 1:#x}]"
            )
        for taken in self._bars.values():
            used = {taken.index, taken.index + (taken.kind is BarKind.MEMORY64)}
            if index in used or (kind is BarKind.MEMORY64 and index + 1 in used):
                raise InvalidBarError(index, "index", index, f"overlaps BAR {taken.index}")
        bar = PciBar(index, kind, size, 0, prefetchable)
        self._bars[index] = bar
        mask = ~(size - 1) & (kind.limit - 1)
        low = BAR0 + 4 * index
        flags = (BAR_MEMORY_64 if kind is BarKind.MEMORY64 else 0) | (
            BAR_PREFETCHABLE if prefetchable else 0
        )
        self._put(low, flags, 4)
        self._wmask[low : low + 4] = (mask & 0xFFFFFFF0).to_bytes(4, "little")
        if kind is BarKind.MEMORY64:
            self._wmask[low + 4 : low + 8] = (mask >> 32).to_bytes(4, "little")
        return bar

    def bars(self) -> list[PciBar]:
        """The declared BARs, by index, with their mapped addresses."""
        return [self._bars[index] for index in sorted(self._bars)]

    def bar(self, index: int) -> PciBar:
        """BAR ``index``; :class:`InvalidBarError` if it was not declared."""
        bar = self._bars.get(index)
        if bar is None:
            raise InvalidBarError(index, "index", index, "is not a declared BAR")
        return bar

    def set_bar_address(self, index: int, address: int) -> PciBar:
        """Map BAR ``index`` at ``address``: program its registers and record it."""
        bar = self.bar(index)
        if address % bar.size or not 0 <= address <= bar.kind.limit - bar.size:
            raise InvalidBarError(
                index, "address", address, f"is not a {bar.size:#x}-aligned {bar.kind.value} base"
            )
        low = BAR0 + 4 * index
        flags = self._regs[low] & 0xF
        self._put(low, (address & 0xFFFFFFF0) | flags, 4)
        if bar.kind is BarKind.MEMORY64:
            self._put(low + 4, address >> 32, 4)
        bar = PciBar(index, bar.kind, bar.size, address, bar.prefetchable)
        self._bars[index] = bar
        return bar

    def _programmed(self, bar: PciBar) -> tuple[int, bool]:
        """The address in ``bar``'s registers, and whether they hold a sizing probe
        (every writable address bit of a register set)."""
        low_reg = BAR0 + 4 * bar.index
        mask = ~(bar.size - 1) & (bar.kind.limit - 1)
        low_mask = mask & 0xFFFFFFF0
        low = self.read(low_reg, 4) & low_mask
        probe = low_mask != 0 and low == low_mask
        if bar.kind is BarKind.MEMORY32:
            return low, probe
        high_mask = mask >> 32
        high = self.read(low_reg + 4, 4) & high_mask
        return high << 32 | low, probe or high == high_mask

    def _bar_written(self, start: int, end: int) -> BarReprogram | None:
        for bar in self._bars.values():
            # A 64-bit BAR moves when its high register is written (Linux writes low, then high).
            reg = BAR0 + 4 * (bar.index + (bar.kind is BarKind.MEMORY64))
            if start >= reg + 4 or end <= reg:
                continue
            address, probe = self._programmed(bar)
            if not probe and address != bar.address:
                return BarReprogram(bar.index, bar.kind, bar.address, address, bar.size)
        return None

    # Capabilities --------------------------------------------------------------------

    def add_capability(self, cap_id: int, body: bytes, writable: bytes | None = None) -> int:
        """Append a capability: ID, next pointer, then ``body``; ``writable`` (as long as
        ``body``) masks the bits the guest may change. Returns its offset."""
        if writable is not None and len(writable) != len(body):
            raise DeviceConfigError(
                "PCI capability", "writable", len(writable), f"is not {len(body)} bytes long"
            )
        offset = self._next_cap
        length = 2 + len(body)
        if offset + length > CONFIG_SPACE_SIZE:
            raise CapabilitySpaceFullError(offset, length)
        self._put(offset, _check_u("cap_id", cap_id, 8), 1)
        self._regs[offset + 2 : offset + length] = body
        if writable is not None:
            self._wmask[offset + 2 : offset + length] = writable
        self._put(self._cap_tail, offset, 1)
        self._cap_tail = offset + 1
        self._next_cap = (offset + length + 3) & ~3
        self._regs[STATUS] |= STATUS_CAPABILITIES
        return offset
