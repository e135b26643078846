"""The CMOS RTC and NVRAM of a PC (MC146818), at I/O ports 0x70 (index) and 0x71 (data).

The clock registers show the host's real time (UTC), computed at each read,
in BCD or binary and in 24- or 12-hour format as status register B asks.
Writes to them are ignored: the VM keeps the host's time, as Cloud
Hypervisor's CMOS does. Status register A's UIP bit is set only during the
last 244 us of each second, when a real RTC updates, so it is never stuck.
Register C reports the update-ended flag once per elapsed second; no RTC
interrupt (IRQ 8) is generated.

The memory-size bytes firmware and bootloaders read are set from the
constructor's ``mem_below_4g``/``mem_above_4g``; every other byte of the
128-byte NVRAM reads back what was written (zero at start).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import IntEnum

from vm_devices.errors import DeviceConfigError

__all__ = ["CMOS_BASE", "CMOS_LENGTH", "Cmos", "CmosRegister"]

CMOS_BASE = 0x70
CMOS_LENGTH = 2
NVRAM_SIZE = 128

KIB = 1 << 10
MIB = 1 << 20
_BLOCK = 64 * KIB


class CmosRegister(IntEnum):
    """CMOS indexes with a fixed meaning."""

    SECONDS = 0x00
    SECONDS_ALARM = 0x01
    MINUTES = 0x02
    MINUTES_ALARM = 0x03
    HOURS = 0x04
    HOURS_ALARM = 0x05
    DAY_OF_WEEK = 0x06  # 1 = Sunday
    DAY_OF_MONTH = 0x07
    MONTH = 0x08
    YEAR = 0x09
    STATUS_A = 0x0A
    STATUS_B = 0x0B
    STATUS_C = 0x0C
    STATUS_D = 0x0D
    BASE_MEMORY_LOW = 0x15  # KiB below 1 MiB (640)
    BASE_MEMORY_HIGH = 0x16
    EXTENDED_MEMORY_LOW = 0x17  # KiB from 1 MiB, at most 0xffff
    EXTENDED_MEMORY_HIGH = 0x18
    POST_EXTENDED_MEMORY_LOW = 0x30  # the same, as POST found it
    POST_EXTENDED_MEMORY_HIGH = 0x31
    CENTURY = 0x32
    MEMORY_ABOVE_16M_LOW = 0x34  # 64 KiB blocks from 16 MiB to 4 GiB
    MEMORY_ABOVE_16M_HIGH = 0x35
    MEMORY_ABOVE_4G_LOW = 0x5B  # 64 KiB blocks above 4 GiB (3 bytes)
    MEMORY_ABOVE_4G_MID = 0x5C
    MEMORY_ABOVE_4G_HIGH = 0x5D


_UIP = 0x80
_A_DEFAULT = 0x26  # 32.768 kHz time base, 1024 Hz periodic rate
_B_SET = 0x80
_B_UPDATE_IE = 0x10
_B_BINARY = 0x04
_B_24_HOUR = 0x02
_B_DEFAULT = _B_24_HOUR
_C_IRQF = 0x80
_C_UPDATE_ENDED = 0x10
_D_VALID = 0x80
_PM = 0x80
_UIP_SECONDS = 244e-6  # the update cycle: 244 us before each second ends
_CLOCK_REGISTERS = frozenset(
    (
        CmosRegister.SECONDS,
        CmosRegister.MINUTES,
        CmosRegister.HOURS,
        CmosRegister.DAY_OF_WEEK,
        CmosRegister.DAY_OF_MONTH,
        CmosRegister.MONTH,
        CmosRegister.YEAR,
        CmosRegister.CENTURY,
    )
)
_INDEX_MASK = 0x7F  # bit 7 of the index port is the NMI mask
_INDEX, _DATA = 0, 1


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


class Cmos:
    """The RTC/NVRAM at 0x70/0x71. ``clock`` returns POSIX seconds (tests pass a fixed one)."""

    def __init__(
        self,
        mem_below_4g: int = 0,
        mem_above_4g: int = 0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (("mem_below_4g", mem_below_4g), ("mem_above_4g", mem_above_4g)):
            if value < 0:
                raise DeviceConfigError("Cmos", name, value, "must not be negative")
        if mem_below_4g > 1 << 32:
            raise DeviceConfigError("Cmos", "mem_below_4g", mem_below_4g, "is above 4 GiB")
        self._clock = clock
        self._lock = threading.Lock()
        self._index = 0
        self.nmi_disabled = False
        self._nvram = bytearray(NVRAM_SIZE)
        self._nvram[CmosRegister.STATUS_A] = _A_DEFAULT
        self._nvram[CmosRegister.STATUS_B] = _B_DEFAULT
        self._last_update_second = int(clock())
        self._store_memory_sizes(mem_below_4g, mem_above_4g)

    def _store_memory_sizes(self, below: int, above: int) -> None:
        nvram = self._nvram
        base_kib = min(640, below // KIB)
        extended_kib = min(0xFFFF, max(0, below - MIB) // KIB)
        above_16m = min(0xFFFF, max(0, below - 16 * MIB) // _BLOCK)
        above_4g = min(0xFFFFFF, above // _BLOCK)
        nvram[0x15:0x17] = base_kib.to_bytes(2, "little")
        nvram[0x17:0x19] = extended_kib.to_bytes(2, "little")
        nvram[0x30:0x32] = extended_kib.to_bytes(2, "little")
        nvram[0x34:0x36] = above_16m.to_bytes(2, "little")
        nvram[0x5B:0x5E] = above_4g.to_bytes(3, "little")

    # -- BusDevice ---------------------------------------------------------------

    def read(self, base: int, offset: int, data: memoryview) -> None:
        with self._lock:
            for index in range(len(data)):
                # The index port is write-only on a PC: it reads as a floating bus.
                data[index] = self._read_data() if offset + index == _DATA else 0xFF

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        with self._lock:
            for index, value in enumerate(data):
                if offset + index == _INDEX:
                    self._index = value & _INDEX_MASK
                    self.nmi_disabled = bool(value & 0x80)
                else:
                    self._write_data(value)

    # -- registers (called with the lock held) -------------------------------------

    def _read_data(self) -> int:
        index = self._index
        if index in _CLOCK_REGISTERS:
            return self._clock_register(index)
        if index == CmosRegister.STATUS_A:
            value = self._nvram[index] & 0x7F
            now = self._clock()
            if not self._nvram[CmosRegister.STATUS_B] & _B_SET and now % 1.0 >= 1.0 - _UIP_SECONDS:
                value |= _UIP
            return value
        if index == CmosRegister.STATUS_C:
            second = int(self._clock())
            flags = 0
            if second != self._last_update_second:
                flags = _C_UPDATE_ENDED
                if self._nvram[CmosRegister.STATUS_B] & _B_UPDATE_IE:
                    flags |= _C_IRQF
            self._last_update_second = second
            return flags
        if index == CmosRegister.STATUS_D:
            return _D_VALID
        return self._nvram[index]

    def _write_data(self, value: int) -> None:
        index = self._index
        if index in _CLOCK_REGISTERS or index in (CmosRegister.STATUS_C, CmosRegister.STATUS_D):
            return  # the host's clock, and read-only status registers
        if index == CmosRegister.STATUS_A:
            value &= 0x7F  # UIP is read-only
        self._nvram[index] = value

    def _clock_register(self, index: int) -> int:
        now = time.gmtime(int(self._clock()))
        control = self._nvram[CmosRegister.STATUS_B]
        binary = control & _B_BINARY

        def encode(number: int) -> int:
            return number if binary else _bcd(number)

        if index == CmosRegister.SECONDS:
            return encode(min(now.tm_sec, 59))  # a leap second reads as :59
        if index == CmosRegister.MINUTES:
            return encode(now.tm_min)
        if index == CmosRegister.HOURS:
            if control & _B_24_HOUR:
                return encode(now.tm_hour)
            return encode(now.tm_hour % 12 or 12) | (_PM if now.tm_hour >= 12 else 0)
        if index == CmosRegister.DAY_OF_WEEK:
            return encode((now.tm_wday + 1) % 7 + 1)  # tm_wday: Monday = 0
        if index == CmosRegister.DAY_OF_MONTH:
            return encode(now.tm_mday)
        if index == CmosRegister.MONTH:
            return encode(now.tm_mon)
        if index == CmosRegister.YEAR:
            return encode(now.tm_year % 100)
        return encode(now.tm_year // 100)  # CENTURY
