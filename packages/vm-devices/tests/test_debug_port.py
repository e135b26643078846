"""The debug port 0x80: timestamped, named boot-progress codes."""

from __future__ import annotations

import logging

import pytest
from vm_devices import DeviceConfigError, PioBus
from vm_devices.legacy import DEBUG_PORT, DebugPort, DebugPortEvent, DebugPortRange
from vm_devices.testing import PortIo


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def attach(device: DebugPort) -> PortIo:
    bus = PioBus()
    bus.insert(device, DEBUG_PORT, 1)
    return PortIo(bus)


def test_each_write_is_recorded_with_seconds_since_start() -> None:
    clock = Clock(100.0)
    port = DebugPort(start=99.5, clock=clock)
    io = attach(port)
    io.outb(DEBUG_PORT, 0x41)
    clock.now = 102.25
    io.outb(DEBUG_PORT, 0x60)
    assert port.events == [DebugPortEvent(0x41, 0.5), DebugPortEvent(0x60, 2.75)]


def test_start_defaults_to_creation_time() -> None:
    clock = Clock(7.0)
    port = DebugPort(clock=clock)
    clock.now = 8.5
    attach(port).outb(DEBUG_PORT, 1)
    assert port.start == 7.0
    assert port.events[0].seconds == 1.5


def test_each_write_is_logged_at_info_in_cloud_hypervisor_style(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = DebugPort(start=0.0, clock=Clock(1.5))
    with caplog.at_level(logging.INFO, logger="vm_devices.legacy.debug_port"):
        attach(port).outb(DEBUG_PORT, 0x41)
    assert caplog.records[0].levelno == logging.INFO
    assert caplog.records[0].getMessage() == "[Debug I/O port: Kernel code 0x41] 1.500000 seconds"


def test_zero_writes_can_be_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    port = DebugPort(start=0.0, clock=Clock(1.0), log_zero=False)
    with caplog.at_level(logging.DEBUG, logger="vm_devices.legacy.debug_port"):
        attach(port).outb(DEBUG_PORT, 0)
    assert [record.levelno for record in caplog.records] == [logging.DEBUG]
    assert port.events == [DebugPortEvent(0, 1.0)]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0x00, DebugPortRange.FIRMWARE),
        (0x1F, DebugPortRange.FIRMWARE),
        (0x20, DebugPortRange.BOOTLOADER),
        (0x40, DebugPortRange.KERNEL),
        (0x7F, DebugPortRange.USERSPACE),
        (0x80, DebugPortRange.CUSTOM),
        (0xFF, DebugPortRange.CUSTOM),
    ],
)
def test_code_ranges_name_the_writer(code: int, expected: DebugPortRange) -> None:
    assert DebugPortRange.of(code) is expected
    assert DebugPortEvent(code, 0.0).range is expected


def test_only_the_latest_events_are_kept() -> None:
    port = DebugPort(max_events=3)
    io = attach(port)
    for code in range(5):
        io.outb(DEBUG_PORT, code)
    assert [event.code for event in port.events] == [2, 3, 4]


def test_reads_return_zero() -> None:
    assert attach(DebugPort()).inb(DEBUG_PORT) == 0


def test_wider_accesses_are_not_the_debug_port() -> None:
    port = DebugPort()
    io = attach(port)
    assert not io.outw(DEBUG_PORT, 0x4142)
    assert port.events == []


def test_negative_event_limit_is_refused() -> None:
    with pytest.raises(DeviceConfigError):
        DebugPort(max_events=-1)
