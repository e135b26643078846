"""The i8042 reset path (Linux's reboot=k) and system control port B."""

from __future__ import annotations

import logging

import pytest
from vm_devices import PioBus
from vm_devices.legacy import I8042_BASE, I8042_LENGTH, I8042Device
from vm_devices.testing import PortIo

DATA, PORT_B, STATUS = 0x60, 0x61, 0x64


class Machine:
    def __init__(self) -> None:
        self.resets = 0
        self.i8042 = I8042Device(reset=self.reset)
        bus = PioBus()
        bus.insert(self.i8042, I8042_BASE, I8042_LENGTH)
        self.io = PortIo(bus)

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture
def machine() -> Machine:
    return Machine()


def test_linux_reboot_k_resets_the_machine(machine: Machine) -> None:
    # native_machine_emergency_restart, BOOT_KBD: kb_wait() then outb(0xfe, 0x64).
    while machine.io.inb(STATUS) & 0x02:
        pass
    machine.io.outb(STATUS, 0xFE)
    assert machine.resets == 1
    assert machine.i8042.reset_requests == 1


def test_status_port_reads_zero(machine: Machine) -> None:
    assert machine.io.inb(STATUS) == 0


def test_data_port_reads_zero(machine: Machine) -> None:
    assert machine.io.inb(DATA) == 0


@pytest.mark.parametrize("command", [0xF0, 0xF2, 0xFC])
def test_any_pulse_of_output_bit_0_resets(machine: Machine, command: int) -> None:
    machine.io.outb(STATUS, command)
    assert machine.resets == 1


@pytest.mark.parametrize("command", [0xFF, 0xF1, 0x20, 0xAA, 0xAD, 0xD4])
def test_other_commands_do_not_reset(machine: Machine, command: int) -> None:
    machine.io.outb(STATUS, command)
    assert machine.resets == 0


def test_writing_the_output_port_with_bit_0_clear_resets(machine: Machine) -> None:
    machine.io.outb(STATUS, 0xD1)
    machine.io.outb(DATA, 0xDE)
    assert machine.resets == 1


def test_writing_the_output_port_with_bit_0_set_does_not_reset(machine: Machine) -> None:
    machine.io.outb(STATUS, 0xD1)
    machine.io.outb(DATA, 0xDF)
    machine.io.outb(DATA, 0x00)  # a plain keyboard byte now, not the output port
    assert machine.resets == 0


def test_reset_is_logged(machine: Machine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="vm_devices.legacy.i8042"):
        machine.io.outb(STATUS, 0xFE)
    assert "reset" in caplog.text


def test_port_b_keeps_its_control_bits(machine: Machine) -> None:
    machine.io.outb(PORT_B, 0xFF)
    assert machine.io.inb(PORT_B) & 0x0F == 0x0F
    machine.io.outb(PORT_B, 0x00)
    assert machine.io.inb(PORT_B) & 0x0F == 0x00


def test_port_b_refresh_bit_toggles_on_each_read(machine: Machine) -> None:
    bits = [machine.io.inb(PORT_B) & 0x10 for _ in range(4)]
    assert bits[0] != bits[1]
    assert bits[0] == bits[2]
    assert bits[1] == bits[3]


def test_linux_pit_calibration_loop_ends_at_once(machine: Machine) -> None:
    # pit_calibrate_tsc(): gate timer 2 on, speaker off, then poll for OUT2 (bit 5).
    machine.io.outb(PORT_B, (machine.io.inb(PORT_B) & ~0x02) | 0x01)
    polls = 0
    while not machine.io.inb(PORT_B) & 0x20:
        polls += 1
        assert polls < 1000
    assert polls == 0


def test_port_b_never_reports_nmi_sources(machine: Machine) -> None:
    assert all(not machine.io.inb(PORT_B) & 0xC0 for _ in range(4))


@pytest.mark.parametrize("port", [0x62, 0x63])
def test_undecoded_ports_float(machine: Machine, port: int) -> None:
    machine.io.outb(port, 0xFE)
    assert machine.io.inb(port) == 0xFF
    assert machine.resets == 0
