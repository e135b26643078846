"""The i8042 keyboard controller, as far as rebooting needs it, and system control port B.

One device for ports 0x60-0x64 (insert it at :data:`I8042_BASE` with
:data:`I8042_LENGTH`):

- 0x60 data: reads 0 (no keyboard); a write completes a "write output port"
  command (0xD1), whose bit 0 is the CPU reset line.
- 0x61 system control port B (chipset, not i8042, but in this range): bits 0-3
  (timer 2 gate, speaker, parity/IOCHK disables) read back; bit 4 (refresh)
  toggles on every read, as memory refresh does, so loops waiting for a change
  end; bit 5 (timer 2 output) is always 1, as in kvmtool and Cloud Hypervisor,
  so a guest calibrating its TSC against PIT channel 2 (``pit_calibrate_tsc``)
  does not poll forever. With KVM's in-kernel PIT (speaker dummy) KVM handles
  0x61 itself and this is never asked.
- 0x62, 0x63: not decoded: reads 0xff, writes are ignored.
- 0x64 status/command: the status reads 0 (input buffer empty, so Linux's
  ``kb_wait()`` goes on at once); commands 0xF0-0xFE pulse output port lines,
  and those pulsing bit 0 (0xFE, Linux's ``reboot=k``) reset the machine.

A reset calls ``reset()`` on the vCPU thread that asked for it: the VMM stops
the VM (with exit status 0).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import IntEnum

__all__ = ["I8042_BASE", "I8042_LENGTH", "I8042Command", "I8042Device", "PortB"]

logger = logging.getLogger(__name__)

I8042_BASE = 0x60
I8042_LENGTH = 5


class I8042Command(IntEnum):
    """Controller commands (written to port 0x64) that this model acts on."""

    WRITE_OUTPUT_PORT = 0xD1  # the next byte written to 0x60 becomes the output port
    PULSE_RESET = 0xFE  # pulse output port bit 0 (the CPU reset line) low


class PortB(IntEnum):
    """Bits of system control port B (0x61)."""

    TIMER2_GATE = 0x01
    SPEAKER_DATA = 0x02
    PARITY_CHECK_DISABLE = 0x04
    CHANNEL_CHECK_DISABLE = 0x08
    REFRESH = 0x10
    TIMER2_OUTPUT = 0x20
    IOCHK = 0x40
    PARITY_ERROR = 0x80


_DATA, _PORT_B, _COMMAND = 0, 1, 4
_PORT_B_WRITABLE = 0x0F
_OUTPUT_PORT_RESET = 0x01  # output port bit 0: low = reset the CPU
_PULSE_COMMANDS = 0xF0


class I8042Device:
    """The i8042 at 0x60/0x64 with port 0x61; ``reset`` is called when the guest resets."""

    def __init__(self, reset: Callable[[], object]) -> None:
        self._reset = reset
        self._lock = threading.Lock()
        self._port_b = 0
        self._refresh = 0
        self._awaiting_output_port = False
        self.reset_requests = 0

    def read(self, base: int, offset: int, data: memoryview) -> None:
        for index in range(len(data)):
            data[index] = self._read_port(offset + index)

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        for index, value in enumerate(data):
            self._write_port(offset + index, value)

    def _read_port(self, offset: int) -> int:
        if offset in (_DATA, _COMMAND):
            return 0
        if offset == _PORT_B:
            with self._lock:
                self._refresh ^= PortB.REFRESH.value
                return self._port_b | self._refresh | PortB.TIMER2_OUTPUT.value
        return 0xFF

    def _write_port(self, offset: int, value: int) -> None:
        with self._lock:
            if offset == _PORT_B:
                self._port_b = value & _PORT_B_WRITABLE
                return
            if offset == _COMMAND:
                self._awaiting_output_port = value == I8042Command.WRITE_OUTPUT_PORT
                reset = value & _PULSE_COMMANDS == _PULSE_COMMANDS and not value & 1
            elif offset == _DATA and self._awaiting_output_port:
                self._awaiting_output_port = False
                reset = not value & _OUTPUT_PORT_RESET
            else:
                return
            if reset:
                self.reset_requests += 1
        if reset:
            what = "command" if offset == _COMMAND else "output port"
            logger.info("guest reset the machine through the i8042 (%s %#x)", what, value)
            self._reset()
