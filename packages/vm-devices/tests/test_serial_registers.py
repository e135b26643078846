"""16550A registers, one behaviour per test (no interrupts here: see test_serial_interrupts)."""

from __future__ import annotations

import errno
import logging
import threading
import time

import pytest
from vm_devices.legacy import Serial16550
from vm_devices.testing import RecordedSerial

RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7


@pytest.fixture
def uart() -> RecordedSerial:
    return RecordedSerial()


def enable_fifo(uart: RecordedSerial) -> None:
    uart.reg_out(FCR, 0x07)


def test_registers_after_reset(uart: RecordedSerial) -> None:
    values = {reg: uart.reg_in(reg) for reg in (IER, IIR, LCR, MCR, LSR, MSR, SCR)}
    assert values == {IER: 0, IIR: 0x01, LCR: 0, MCR: 0, LSR: 0x60, MSR: 0xB0, SCR: 0}


def test_thr_write_is_output_at_once(uart: RecordedSerial) -> None:
    for byte in b"hello\n":
        uart.reg_out(THR, byte)
    assert uart.output.getvalue() == b"hello\n"


def test_each_thr_write_is_one_sink_call() -> None:
    calls: list[bytes] = []
    serial = Serial16550(calls.append)
    serial.write(0x3F8, THR, b"a")
    serial.write(0x3F8, THR, b"b")
    assert calls == [b"a", b"b"]


def test_no_output_sink_discards_output() -> None:
    serial = Serial16550()
    serial.write(0x3F8, 0, b"x")
    data = bytearray(1)
    serial.read(0x3F8, 5, memoryview(data))
    assert data[0] == 0x60


def test_lsr_reports_thr_and_transmitter_empty_after_output(uart: RecordedSerial) -> None:
    uart.reg_out(THR, 0x41)
    assert uart.reg_in(LSR) == 0x60


def test_scratch_register_keeps_any_byte(uart: RecordedSerial) -> None:
    for value in range(256):
        uart.reg_out(SCR, value)
        assert uart.reg_in(SCR) == value


def test_ier_keeps_only_its_four_bits(uart: RecordedSerial) -> None:
    uart.reg_out(IER, 0xFF)
    assert uart.reg_in(IER) == 0x0F


def test_lcr_reads_back_all_bits(uart: RecordedSerial) -> None:
    uart.reg_out(LCR, 0x5B)
    assert uart.reg_in(LCR) == 0x5B


def test_mcr_keeps_its_five_bits(uart: RecordedSerial) -> None:
    uart.reg_out(MCR, 0xEF)
    assert uart.reg_in(MCR) == 0x0F


def test_dlab_turns_ports_0_and_1_into_the_divisor(uart: RecordedSerial) -> None:
    uart.reg_out(IER, 0x05)
    uart.reg_out(LCR, 0x83)
    uart.reg_out(DLL, 0x01)
    uart.reg_out(DLM, 0x00)
    assert (uart.reg_in(DLL), uart.reg_in(DLM)) == (0x01, 0x00)
    uart.reg_out(LCR, 0x03)
    assert uart.output.getvalue() == b""
    assert uart.reg_in(IER) == 0x05
    assert uart.serial.baud_rate == 115_200


def test_default_divisor_is_9600_baud(uart: RecordedSerial) -> None:
    uart.reg_out(LCR, 0x80)
    assert (uart.reg_in(DLL), uart.reg_in(DLM)) == (12, 0)
    assert uart.serial.baud_rate == 9600


def test_zero_divisor_reports_zero_baud(uart: RecordedSerial) -> None:
    uart.reg_out(LCR, 0x80)
    uart.reg_out(DLL, 0)
    assert uart.serial.baud_rate == 0


def test_lsr_and_msr_ignore_writes(uart: RecordedSerial) -> None:
    uart.reg_out(LSR, 0x00)
    uart.reg_out(MSR, 0x00)
    assert (uart.reg_in(LSR), uart.reg_in(MSR)) == (0x60, 0xB0)


def test_received_bytes_are_read_in_order_with_data_ready(uart: RecordedSerial) -> None:
    enable_fifo(uart)
    assert uart.serial.enqueue_input(b"ab") == 2
    assert uart.reg_in(LSR) & 0x01
    assert uart.reg_in(RBR) == ord("a")
    assert uart.reg_in(RBR) == ord("b")
    assert not uart.reg_in(LSR) & 0x01


def test_reading_an_empty_rbr_returns_zero(uart: RecordedSerial) -> None:
    assert uart.reg_in(RBR) == 0


def test_without_fifo_the_receiver_holds_one_byte(uart: RecordedSerial) -> None:
    assert uart.serial.enqueue_input(b"xyz") == 1
    assert uart.serial.input_room == 0
    assert uart.reg_in(RBR) == ord("x")
    assert uart.serial.input_room == 1


def test_fifo_holds_sixteen_bytes_and_refuses_the_rest(uart: RecordedSerial) -> None:
    enable_fifo(uart)
    assert uart.serial.enqueue_input(bytes(range(20))) == 16
    assert uart.serial.enqueue_input(b"more") == 0
    assert [uart.reg_in(RBR) for _ in range(16)] == list(range(16))


def test_empty_input_is_accepted_as_nothing(uart: RecordedSerial) -> None:
    assert uart.serial.enqueue_input(b"") == 0


def test_iir_shows_fifo_enabled_bits(uart: RecordedSerial) -> None:
    uart.reg_out(FCR, 0x01)
    assert uart.reg_in(IIR) == 0xC1
    uart.reg_out(FCR, 0x00)
    assert uart.reg_in(IIR) == 0x01


def test_fcr_clear_rx_empties_the_fifo(uart: RecordedSerial) -> None:
    enable_fifo(uart)
    uart.serial.enqueue_input(b"data")
    uart.reg_out(FCR, 0x03)
    assert not uart.reg_in(LSR) & 0x01
    assert uart.serial.input_room == 16


def test_turning_the_fifo_on_or_off_empties_it(uart: RecordedSerial) -> None:
    uart.serial.enqueue_input(b"a")
    uart.reg_out(FCR, 0x01)
    assert not uart.reg_in(LSR) & 0x01
    uart.serial.enqueue_input(b"bc")
    uart.reg_out(FCR, 0x00)
    assert not uart.reg_in(LSR) & 0x01


def test_loopback_sends_thr_to_the_receiver_not_the_output(uart: RecordedSerial) -> None:
    enable_fifo(uart)
    uart.reg_out(MCR, 0x10)
    uart.reg_out(THR, 0x5A)
    assert uart.output.getvalue() == b""
    assert uart.reg_in(LSR) & 0x01
    assert uart.reg_in(RBR) == 0x5A


def test_loopback_msr_of_linux_probe(uart: RecordedSerial) -> None:
    uart.reg_out(MCR, 0x1A)  # LOOP | OUT2 | RTS
    assert uart.reg_in(MSR) & 0xF0 == 0x90  # DCD | CTS


@pytest.mark.parametrize(
    ("mcr_bit", "msr_bit"),
    [(0x01, 0x20), (0x02, 0x10), (0x04, 0x40), (0x08, 0x80)],
    ids=["DTR-DSR", "RTS-CTS", "OUT1-RI", "OUT2-DCD"],
)
def test_loopback_wires_each_modem_output_to_its_input(
    uart: RecordedSerial, mcr_bit: int, msr_bit: int
) -> None:
    uart.reg_out(MCR, 0x10 | mcr_bit)
    assert uart.reg_in(MSR) & 0xF0 == msr_bit


def test_msr_outside_loopback_shows_a_connected_terminal(uart: RecordedSerial) -> None:
    uart.reg_out(MCR, 0x0F)
    assert uart.reg_in(MSR) == 0xB0  # DCD, DSR, CTS; no ring


def test_msr_delta_bits_report_changes_once(uart: RecordedSerial) -> None:
    uart.reg_out(MCR, 0x10)  # loopback, all outputs off: DCD, DSR, CTS fall
    assert uart.reg_in(MSR) == 0x0B
    assert uart.reg_in(MSR) == 0x00


def test_msr_ring_indicator_delta_is_on_the_trailing_edge(uart: RecordedSerial) -> None:
    uart.reg_out(MCR, 0x10)
    uart.reg_in(MSR)
    uart.reg_out(MCR, 0x14)  # OUT1 -> RI rises: no delta
    assert uart.reg_in(MSR) == 0x40
    uart.reg_out(MCR, 0x10)  # RI falls: trailing edge
    assert uart.reg_in(MSR) == 0x04


def test_loopback_overrun_sets_oe_until_lsr_is_read(uart: RecordedSerial) -> None:
    enable_fifo(uart)
    uart.reg_out(MCR, 0x10)
    for value in range(17):
        uart.reg_out(THR, value)
    assert uart.reg_in(LSR) == 0x63  # OE | DR | THRE | TEMT
    assert uart.reg_in(LSR) == 0x61
    assert [uart.reg_in(RBR) for _ in range(16)] == list(range(16))


def test_host_input_is_refused_in_loopback(uart: RecordedSerial) -> None:
    enable_fifo(uart)
    uart.reg_out(MCR, 0x10)
    assert uart.serial.enqueue_input(b"x") == 0
    uart.reg_out(MCR, 0x00)
    assert uart.serial.enqueue_input(b"x") == 1


def test_break_is_a_nul_with_bi_and_fifo_error(uart: RecordedSerial) -> None:
    enable_fifo(uart)
    assert uart.serial.send_break()
    assert uart.reg_in(LSR) == 0xF1  # FIFO error | TEMT | THRE | BI | DR
    assert uart.reg_in(LSR) == 0x61
    assert uart.reg_in(RBR) == 0


def test_break_needs_room(uart: RecordedSerial) -> None:
    uart.serial.enqueue_input(b"x")
    assert not uart.serial.send_break()


def test_wait_for_room_returns_at_once_when_there_is_room(uart: RecordedSerial) -> None:
    assert uart.serial.wait_for_room(timeout=0)


def test_wait_for_room_times_out_while_the_fifo_is_full(uart: RecordedSerial) -> None:
    uart.serial.enqueue_input(b"x")
    started = time.monotonic()
    assert not uart.serial.wait_for_room(timeout=0.05)
    assert time.monotonic() - started >= 0.05


def test_wait_for_room_wakes_when_the_guest_reads(uart: RecordedSerial) -> None:
    uart.serial.enqueue_input(b"x")
    reader = threading.Timer(0.05, uart.reg_in, args=(RBR,))
    reader.start()
    try:
        assert uart.serial.wait_for_room(timeout=10)
    finally:
        reader.join()


def test_multi_byte_read_covers_consecutive_registers(uart: RecordedSerial) -> None:
    assert uart.inw(uart.base + LSR) == 0xB060  # LSR, then MSR


def test_failing_output_is_logged_once_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    def broken(data: bytes) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    serial = Serial16550(broken)
    with caplog.at_level(logging.WARNING):
        serial.write(0x3F8, 0, b"a")
        serial.write(0x3F8, 0, b"b")
    assert len(caplog.records) == 1
    assert serial.dropped_output == 1  # the second byte had no sink to fail in


def test_output_that_would_block_drops_only_that_byte() -> None:
    sent: list[bytes] = []

    def full_once(data: bytes) -> None:
        if not sent:
            sent.append(b"")
            raise BlockingIOError(errno.EAGAIN, "full")
        sent.append(data)

    serial = Serial16550(full_once)
    serial.write(0x3F8, 0, b"a")
    serial.write(0x3F8, 0, b"b")
    assert sent == [b"", b"b"]
    assert serial.dropped_output == 1
