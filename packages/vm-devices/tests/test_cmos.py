"""The CMOS RTC: host time in every format, status registers, memory sizes, NVRAM."""

from __future__ import annotations

import calendar
import time

import pytest
from vm_devices import DeviceConfigError, PioBus
from vm_devices.legacy import CMOS_BASE, CMOS_LENGTH, Cmos
from vm_devices.testing import PortIo

# Saturday 2024-02-10 21:07:05.25 UTC
WHEN = calendar.timegm((2024, 2, 10, 21, 7, 5, 0, 0, 0)) + 0.25
MIB = 1 << 20
GIB = 1 << 30


class Rtc:
    def __init__(self, cmos: Cmos) -> None:
        self.cmos = cmos
        bus = PioBus()
        bus.insert(cmos, CMOS_BASE, CMOS_LENGTH)
        self.io = PortIo(bus)

    def get(self, index: int) -> int:
        self.io.outb(0x70, index)
        return self.io.inb(0x71)

    def set(self, index: int, value: int) -> None:
        self.io.outb(0x70, index)
        self.io.outb(0x71, value)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(WHEN)


@pytest.fixture
def rtc(clock: Clock) -> Rtc:
    return Rtc(Cmos(128 * MIB, 0, clock=clock))


def test_time_registers_are_bcd_by_default(rtc: Rtc) -> None:
    fields = [rtc.get(i) for i in (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32)]
    assert fields == [0x05, 0x07, 0x21, 0x07, 0x10, 0x02, 0x24, 0x20]


def test_time_registers_are_binary_when_status_b_says_so(rtc: Rtc) -> None:
    rtc.set(0x0B, 0x06)  # binary, 24-hour
    fields = [rtc.get(i) for i in (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32)]
    assert fields == [5, 7, 21, 7, 10, 2, 24, 20]


def test_twelve_hour_mode_sets_the_pm_bit(rtc: Rtc) -> None:
    rtc.set(0x0B, 0x00)  # BCD, 12-hour
    assert rtc.get(0x04) == 0x80 | 0x09


def test_twelve_hour_mode_shows_midnight_as_12_am(clock: Clock) -> None:
    clock.now = calendar.timegm((2024, 2, 10, 0, 30, 0, 0, 0, 0))
    rtc = Rtc(Cmos(clock=clock))
    rtc.set(0x0B, 0x00)
    assert rtc.get(0x04) == 0x12


def test_sunday_is_day_1(clock: Clock) -> None:
    clock.now = calendar.timegm((2024, 2, 11, 12, 0, 0, 0, 0, 0))
    assert Rtc(Cmos(clock=clock)).get(0x06) == 1


def test_clock_follows_the_host_time(rtc: Rtc, clock: Clock) -> None:
    clock.now += 60
    assert rtc.get(0x02) == 0x08


def test_real_host_clock_gives_the_current_utc_year() -> None:
    rtc = Rtc(Cmos())
    rtc.set(0x0B, 0x06)
    year = rtc.get(0x32) * 100 + rtc.get(0x09)
    assert year == time.gmtime().tm_year


def test_writes_to_the_clock_are_ignored(rtc: Rtc) -> None:
    rtc.set(0x00, 0x59)
    rtc.set(0x09, 0x99)
    assert (rtc.get(0x00), rtc.get(0x09)) == (0x05, 0x24)


def test_alarm_registers_read_back(rtc: Rtc) -> None:
    rtc.set(0x01, 0x30)
    assert rtc.get(0x01) == 0x30


def test_status_a_is_32k_time_base_and_1024_hz(rtc: Rtc) -> None:
    assert rtc.get(0x0A) == 0x26


def test_uip_is_set_only_in_the_last_244_us_of_a_second(rtc: Rtc, clock: Clock) -> None:
    clock.now = int(WHEN) + 0.9998
    assert rtc.get(0x0A) & 0x80
    clock.now = int(WHEN) + 0.9997
    assert not rtc.get(0x0A) & 0x80
    clock.now = int(WHEN) + 1.0
    assert not rtc.get(0x0A) & 0x80


def test_uip_cannot_be_written(rtc: Rtc, clock: Clock) -> None:
    rtc.set(0x0A, 0xA6)
    assert rtc.get(0x0A) == 0x26


def test_uip_is_clear_while_the_clock_is_being_set(rtc: Rtc, clock: Clock) -> None:
    clock.now = int(WHEN) + 0.9999
    rtc.set(0x0B, 0x82)
    assert not rtc.get(0x0A) & 0x80


def test_linux_mc146818_get_time_sequence_reads_a_consistent_time(rtc: Rtc) -> None:
    # mc146818_avoid_UIP(): seconds, UIP, seconds again, the fields, UIP, seconds.
    seconds = rtc.get(0x00)
    assert not rtc.get(0x0A) & 0x80
    assert rtc.get(0x00) == seconds
    fields = [rtc.get(i) for i in (0x02, 0x04, 0x07, 0x08, 0x09)]
    control = rtc.get(0x0B)
    assert not rtc.get(0x0A) & 0x80
    assert rtc.get(0x00) == seconds
    assert (fields, control) == ([0x07, 0x21, 0x10, 0x02, 0x24], 0x02)


def test_status_c_reports_update_ended_once_per_second(rtc: Rtc, clock: Clock) -> None:
    assert rtc.get(0x0C) == 0
    clock.now += 1
    assert rtc.get(0x0C) == 0x10
    assert rtc.get(0x0C) == 0


def test_status_c_sets_irqf_when_update_interrupts_are_enabled(rtc: Rtc, clock: Clock) -> None:
    rtc.set(0x0B, 0x12)
    clock.now += 1
    assert rtc.get(0x0C) == 0x90


def test_status_d_says_the_time_is_valid(rtc: Rtc) -> None:
    rtc.set(0x0D, 0x00)
    assert rtc.get(0x0D) == 0x80


def test_index_bit_7_is_the_nmi_mask_not_part_of_the_index(rtc: Rtc) -> None:
    rtc.set(0x80 | 0x40, 0x5A)
    assert rtc.cmos.nmi_disabled
    assert rtc.get(0x40) == 0x5A
    assert not rtc.cmos.nmi_disabled


def test_nvram_reads_back_every_plain_byte(rtc: Rtc) -> None:
    plain = [i for i in range(0x0E, 0x80) if i != 0x32]
    for index in plain:
        rtc.set(index, index ^ 0xA5)
    assert [rtc.get(i) for i in plain] == [i ^ 0xA5 for i in plain]


def test_index_port_reads_as_floating_bus(rtc: Rtc) -> None:
    rtc.io.outb(0x70, 0x10)
    assert rtc.io.inb(0x70) == 0xFF


def memory_bytes(rtc: Rtc) -> dict[str, int]:
    def word(low: int) -> int:
        return rtc.get(low) | rtc.get(low + 1) << 8

    return {
        "base": word(0x15),
        "extended": word(0x17),
        "post_extended": word(0x30),
        "above_16m": word(0x34),
        "above_4g": rtc.get(0x5B) | rtc.get(0x5C) << 8 | rtc.get(0x5D) << 16,
    }


def test_memory_size_bytes_for_128_mib() -> None:
    assert memory_bytes(Rtc(Cmos(128 * MIB))) == {
        "base": 640,
        "extended": 0xFFFF,  # 127 MiB in KiB does not fit: saturated
        "post_extended": 0xFFFF,
        "above_16m": 112 * 16,
        "above_4g": 0,
    }


def test_memory_size_bytes_saturate_and_count_memory_above_4g() -> None:
    assert memory_bytes(Rtc(Cmos(3 * GIB, 5 * GIB))) == {
        "base": 640,
        "extended": 0xFFFF,
        "post_extended": 0xFFFF,
        "above_16m": (3 * GIB - 16 * MIB) // (64 * 1024),
        "above_4g": 5 * GIB // (64 * 1024),
    }


def test_memory_size_bytes_with_less_than_16_mib() -> None:
    assert memory_bytes(Rtc(Cmos(8 * MIB))) == {
        "base": 640,
        "extended": 7 * 1024,
        "post_extended": 7 * 1024,
        "above_16m": 0,
        "above_4g": 0,
    }


def test_memory_size_bytes_below_1_mib() -> None:
    assert memory_bytes(Rtc(Cmos(512 * 1024)))["base"] == 512


def test_full_4_gib_below_4g_counts_0xff00_blocks_above_16m() -> None:
    assert memory_bytes(Rtc(Cmos(4 * GIB)))["above_16m"] == 0xFF00


@pytest.mark.parametrize(
    ("below", "above", "name"),
    [(-1, 0, "mem_below_4g"), (0, -1, "mem_above_4g"), (4 * GIB + 1, 0, "mem_below_4g")],
)
def test_impossible_memory_sizes_are_refused(below: int, above: int, name: str) -> None:
    with pytest.raises(DeviceConfigError) as raised:
        Cmos(below, above)
    assert raised.value.name == name
