"""The ACPI sleep/reset register: S5 powers off, the reset value reboots, the rest is ignored."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from vm_devices.acpi import (
    ACPI_SHUTDOWN_PORT,
    RESET_VALUE,
    S5_SLEEP_TYPE,
    AcpiShutdownDevice,
    sleep_control_value,
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def device(self) -> AcpiShutdownDevice:
        return AcpiShutdownDevice(
            shutdown=lambda: self.calls.append("shutdown"),
            reset=lambda: self.calls.append("reset"),
        )


def test_s5_write_is_what_linux_writes_for_the_s5_package() -> None:
    # acpi_hw_extended_sleep(): (SLP_TYP << 2) & 0x1C | SLP_EN (0x20)
    assert sleep_control_value(S5_SLEEP_TYPE) == 0x34


def test_s5_powers_off_and_reset_value_reboots() -> None:
    recorder = Recorder()
    device = recorder.device()
    device.write(ACPI_SHUTDOWN_PORT, 0, bytes([sleep_control_value(S5_SLEEP_TYPE)]))
    device.write(ACPI_SHUTDOWN_PORT, 0, bytes([RESET_VALUE]))
    assert recorder.calls == ["shutdown", "reset"]
    assert (device.shutdown_requests, device.reset_requests) == (1, 1)


def test_reads_are_zero_of_any_size() -> None:
    device = Recorder().device()
    for size in (1, 2, 4):
        data = memoryview(bytearray(b"\xff" * size))
        device.read(ACPI_SHUTDOWN_PORT, 0, data)
        assert bytes(data) == bytes(size)


def test_other_sleep_states_and_wide_writes_do_nothing() -> None:
    recorder = Recorder()
    device = recorder.device()
    device.write(ACPI_SHUTDOWN_PORT, 0, bytes([sleep_control_value(3)]))  # S3: not offered
    device.write(ACPI_SHUTDOWN_PORT, 0, bytes([S5_SLEEP_TYPE << 2]))  # no SLP_EN
    device.write(ACPI_SHUTDOWN_PORT, 0, bytes([RESET_VALUE, 0]))
    device.write(ACPI_SHUTDOWN_PORT, 0, bytes([0x34, 0, 0, 0]))
    assert recorder.calls == []


@given(st.binary(min_size=0, max_size=8))
def test_no_write_raises_and_only_two_values_act(data: bytes) -> None:
    recorder = Recorder()
    recorder.device().write(ACPI_SHUTDOWN_PORT, 0, data)
    if len(data) == 1 and data[0] == RESET_VALUE:
        assert recorder.calls == ["reset"]
    elif len(data) == 1 and data[0] & 0x3C == 0x34:
        assert recorder.calls == ["shutdown"]
    else:
        assert recorder.calls == []
