"""Interrupt lines: a real eventfd for irqfd, and the callback line."""

from __future__ import annotations

import os

import pytest
from vm_devices import CallbackInterrupt, EventFdInterrupt, InterruptLine


def pending(fd: int) -> int:
    """The eventfd counter (0 when nothing was written), as KVM's irqfd would consume it."""
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0


def test_trigger_writes_one_to_the_eventfd() -> None:
    with EventFdInterrupt.create() as line:
        line.trigger()
        line.trigger()
        assert pending(line.fd) == 2


def test_rising_level_triggers_the_eventfd_and_falling_level_does_not() -> None:
    with EventFdInterrupt.create() as line:
        line.set_level(True)
        assert pending(line.fd) == 1
        line.set_level(False)
        assert pending(line.fd) == 0


def test_caller_owned_eventfd_stays_open_after_close() -> None:
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    try:
        line = EventFdInterrupt(fd)
        line.close()
        line.trigger()
        assert pending(fd) == 1
    finally:
        os.close(fd)


def test_created_eventfd_is_closed_with_the_line() -> None:
    line = EventFdInterrupt.create()
    fd = line.fd
    line.close()
    assert line.fd == -1
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


def test_full_eventfd_counter_is_not_an_error() -> None:
    with EventFdInterrupt.create() as line:
        os.eventfd_write(line.fd, 0xFFFF_FFFF_FFFF_FFFE)  # the counter's maximum
        line.trigger()
        assert pending(line.fd) == 0xFFFF_FFFF_FFFF_FFFE


def test_callback_line_reports_levels_and_pulses() -> None:
    levels: list[bool] = []
    line: InterruptLine = CallbackInterrupt(levels.append)
    line.set_level(True)
    line.set_level(False)
    line.trigger()
    assert levels == [True, False, True, False]
