"""16550A interrupts: IIR causes and priorities, and the level of the interrupt pin."""

from __future__ import annotations

import os

import pytest
from vm_devices import EventFdInterrupt
from vm_devices.legacy import Serial16550
from vm_devices.testing import RecordedSerial

RBR = THR = 0
IER, IIR, FCR, LCR, MCR, LSR, MSR = 1, 2, 2, 3, 4, 5, 6
ERBFI, ETBEI, ELSI, EDSSI = 0x01, 0x02, 0x04, 0x08


@pytest.fixture
def uart() -> RecordedSerial:
    return RecordedSerial()


def test_nothing_is_pending_after_reset(uart: RecordedSerial) -> None:
    assert uart.reg_in(IIR) == 0x01
    assert uart.levels == []
    assert not uart.serial.interrupt_asserted


def test_enabling_etbei_raises_thr_empty(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ETBEI)
    assert uart.levels == [True]
    assert uart.reg_in(IIR) == 0x02


def test_reading_iir_acknowledges_thr_empty(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ETBEI)
    uart.reg_in(IIR)
    assert uart.reg_in(IIR) == 0x01
    assert uart.levels == [True, False]


def test_writing_thr_raises_thr_empty_again(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ETBEI)
    uart.reg_in(IIR)
    uart.reg_out(THR, 0x41)
    assert uart.levels == [True, False, True]
    assert uart.reg_in(IIR) == 0x02


def test_a_burst_of_thr_writes_is_one_rise(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ETBEI)
    uart.reg_in(IIR)
    for byte in b"sixteen bytes..":
        uart.reg_out(THR, byte)
    assert uart.levels == [True, False, True]


def test_disabling_etbei_drops_thr_empty(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ETBEI)
    uart.reg_out(IER, 0)
    assert uart.reg_in(IIR) == 0x01
    assert uart.levels == [True, False]


def test_rewriting_ier_with_etbei_still_set_keeps_it_acknowledged(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ETBEI)
    uart.reg_in(IIR)
    uart.reg_out(IER, ETBEI | ERBFI)
    assert uart.reg_in(IIR) == 0x01


def test_received_data_raises_the_rx_interrupt(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ERBFI)
    uart.serial.enqueue_input(b"k")
    assert uart.levels == [True]
    assert uart.reg_in(IIR) == 0x04


def test_draining_the_receiver_clears_the_rx_interrupt(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ERBFI)
    uart.serial.enqueue_input(b"k")
    uart.reg_in(RBR)
    assert uart.reg_in(IIR) == 0x01
    assert uart.levels == [True, False]


def test_enabling_erbfi_with_data_waiting_raises_the_interrupt(uart: RecordedSerial) -> None:
    uart.serial.enqueue_input(b"k")
    assert uart.levels == []
    uart.reg_out(IER, ERBFI)
    assert uart.levels == [True]


def test_fifo_data_below_the_trigger_level_is_a_character_timeout(uart: RecordedSerial) -> None:
    uart.reg_out(FCR, 0x81)  # enable, trigger at 8 bytes (what Linux programs)
    uart.reg_out(IER, ERBFI)
    uart.serial.enqueue_input(b"1234567")
    assert uart.reg_in(IIR) == 0xCC


def test_fifo_data_at_the_trigger_level_is_received_data_available(uart: RecordedSerial) -> None:
    uart.reg_out(FCR, 0x81)
    uart.reg_out(IER, ERBFI)
    uart.serial.enqueue_input(b"12345678")
    assert uart.reg_in(IIR) == 0xC4


@pytest.mark.parametrize(("fcr", "level"), [(0x01, 1), (0x41, 4), (0x81, 8), (0xC1, 14)])
def test_fcr_selects_the_trigger_level(uart: RecordedSerial, fcr: int, level: int) -> None:
    uart.reg_out(FCR, fcr)
    uart.reg_out(IER, ERBFI)
    uart.serial.enqueue_input(bytes(level - 1))
    below = uart.reg_in(IIR)
    uart.serial.enqueue_input(b"x")
    assert (below, uart.reg_in(IIR)) == (0xCC if level > 1 else 0xC1, 0xC4)


def test_overrun_raises_the_line_status_interrupt_until_lsr_is_read(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ELSI)
    uart.reg_out(MCR, 0x10)
    uart.reg_out(THR, 1)
    uart.reg_out(THR, 2)  # the one-byte receiver is full: overrun
    assert uart.reg_in(IIR) == 0x06
    uart.reg_in(LSR)
    assert uart.reg_in(IIR) == 0x01
    assert uart.levels == [True, False]


def test_break_raises_the_line_status_interrupt(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ELSI)
    uart.serial.send_break()
    assert uart.reg_in(IIR) == 0x06


def test_modem_status_change_raises_its_interrupt_until_msr_is_read(uart: RecordedSerial) -> None:
    uart.reg_out(IER, EDSSI)
    uart.reg_out(MCR, 0x10)  # loopback: the modem inputs change
    assert uart.reg_in(IIR) == 0x00
    uart.reg_in(MSR)
    assert uart.reg_in(IIR) == 0x01
    assert uart.levels == [True, False]


def test_causes_are_reported_by_priority(uart: RecordedSerial) -> None:
    uart.reg_out(MCR, 0x10)  # loopback: modem status change
    uart.reg_out(THR, 1)
    uart.reg_out(THR, 2)  # received data, and an overrun
    uart.reg_out(IER, ERBFI | ETBEI | ELSI | EDSSI)  # THR empty too
    seen = [uart.reg_in(IIR)]
    uart.reg_in(LSR)
    seen.append(uart.reg_in(IIR))
    uart.reg_in(RBR)
    seen.append(uart.reg_in(IIR))  # reading it acknowledges THR empty
    seen.append(uart.reg_in(IIR))
    uart.reg_in(MSR)
    seen.append(uart.reg_in(IIR))
    assert seen == [0x06, 0x04, 0x02, 0x00, 0x01]
    assert uart.levels == [True, False]


def test_loopback_keeps_the_interrupt_pin_working(uart: RecordedSerial) -> None:
    uart.reg_out(IER, ERBFI)
    uart.reg_out(MCR, 0x10)
    uart.reg_out(THR, 0x55)
    assert uart.levels == [True]


def test_host_input_triggers_a_real_eventfd() -> None:
    with EventFdInterrupt.create() as line:
        serial = Serial16550(interrupt=line)
        serial.write(0x3F8, IER, bytes([ERBFI]))
        serial.enqueue_input(b"x")
        assert os.eventfd_read(line.fd) == 1
        data = bytearray(1)
        serial.read(0x3F8, RBR, memoryview(data))  # the pin falls: no eventfd write
        serial.enqueue_input(b"y")
        assert os.eventfd_read(line.fd) == 1
