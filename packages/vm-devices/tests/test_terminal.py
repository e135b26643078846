"""The serial console's host side on real ptys and pipes."""

from __future__ import annotations

import contextlib
import os
import termios
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from vm_devices.legacy import Serial16550
from vm_devices.legacy.terminal import FdWriter, InputPump, RawTerminal


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    """A pseudo-terminal: (master, slave). The slave is a real tty."""
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):  # the test closed it
            os.close(fd)


def lflag(fd: int) -> int:
    return int(termios.tcgetattr(fd)[3])


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def fifo_serial() -> Serial16550:
    serial = Serial16550()
    serial.write(0x3F8, 2, b"\x01")  # FIFO on: 16 bytes of room
    return serial


def drain(serial: Serial16550, count: int, timeout: float = 5.0) -> bytes:
    """Read ``count`` bytes as the guest would: poll LSR.DR, then read RBR."""
    received = bytearray()
    byte = bytearray(1)
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        serial.read(0x3F8, 5, memoryview(byte))
        if byte[0] & 0x01:
            serial.read(0x3F8, 0, memoryview(byte))
            received += byte
        else:
            time.sleep(0.001)
    return bytes(received)


def test_raw_terminal_turns_off_line_editing_echo_and_signals(pty: tuple[int, int]) -> None:
    _, slave = pty
    with RawTerminal(slave) as terminal:
        assert terminal.active
        assert lflag(slave) & (termios.ICANON | termios.ECHO | termios.ISIG) == 0


def test_raw_terminal_restores_the_settings_on_exit(pty: tuple[int, int]) -> None:
    _, slave = pty
    before = termios.tcgetattr(slave)
    with RawTerminal(slave):
        pass
    assert termios.tcgetattr(slave) == before


def test_raw_terminal_restores_the_settings_after_an_exception(pty: tuple[int, int]) -> None:
    _, slave = pty
    before = termios.tcgetattr(slave)
    with pytest.raises(RuntimeError, match="boom"), RawTerminal(slave):
        raise RuntimeError("boom")
    assert termios.tcgetattr(slave) == before


def test_raw_terminal_keeps_output_post_processing(pty: tuple[int, int]) -> None:
    _, slave = pty
    with RawTerminal(slave):
        assert int(termios.tcgetattr(slave)[1]) & termios.OPOST


def test_raw_terminal_does_nothing_for_a_pipe(pipe: tuple[int, int]) -> None:
    read_end, _ = pipe
    with RawTerminal(read_end) as terminal:
        assert not terminal.active


def test_restore_is_idempotent(pty: tuple[int, int]) -> None:
    _, slave = pty
    before = termios.tcgetattr(slave)
    terminal = RawTerminal(slave)
    terminal.__enter__()
    terminal.restore()
    terminal.restore()
    assert termios.tcgetattr(slave) == before
    assert not terminal.active


def test_pump_feeds_what_it_reads_to_the_uart(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    serial = fifo_serial()
    with InputPump(read_end, serial):
        os.write(write_end, b"uname -a\n")
        assert drain(serial, 9) == b"uname -a\n"


def test_pump_waits_for_room_instead_of_losing_input(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    serial = fifo_serial()
    text = bytes(range(32, 127)) * 3  # far more than the 16-byte FIFO
    with InputPump(read_end, serial) as pump:
        os.write(write_end, text)
        assert drain(serial, len(text)) == text
        assert pump.bytes_forwarded == len(text)


def test_pump_ends_at_end_of_file(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    pump = InputPump(read_end, fifo_serial())
    pump.start()
    os.close(write_end)
    assert wait_until(lambda: not pump.running)
    pump.stop()


def test_pump_stops_when_asked_while_idle(pipe: tuple[int, int]) -> None:
    read_end, _ = pipe
    pump = InputPump(read_end, fifo_serial())
    pump.start()
    pump.stop()
    assert not pump.running


def test_pump_stops_while_the_uart_is_full(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    serial = fifo_serial()
    pump = InputPump(read_end, serial)
    pump.start()
    os.write(write_end, bytes(64))
    assert wait_until(lambda: serial.input_room == 0)
    pump.stop()
    assert not pump.running


def test_ctrl_c_typed_on_a_raw_terminal_reaches_the_guest(pty: tuple[int, int]) -> None:
    master, slave = pty
    serial = fifo_serial()
    with RawTerminal(slave), InputPump(slave, serial):
        os.write(master, b"\x03\r")
        assert drain(serial, 2) == b"\x03\r"  # no SIGINT, no CR-to-NL translation


def test_fd_writer_writes_everything(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    assert FdWriter(write_end).write(b"console") == 7
    assert os.read(read_end, 100) == b"console"


def test_fd_writer_waits_while_a_non_blocking_fd_is_full(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.set_blocking(write_end, False)
    payload = bytes(range(256)) * 1024  # 256 KiB, more than a pipe holds
    received = bytearray()

    def reader() -> None:
        while len(received) < len(payload):
            received.extend(os.read(read_end, 65536))

    thread = threading.Thread(target=reader)
    thread.start()
    FdWriter(write_end).write(payload)
    thread.join(timeout=10)
    assert bytes(received) == payload


def test_fd_writer_is_a_uart_output(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    serial = Serial16550(FdWriter(write_end))
    serial.write(0x3F8, 0, b"$")
    assert os.read(read_end, 1) == b"$"
