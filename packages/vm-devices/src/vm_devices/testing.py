"""Helpers for tests that drive devices the way a guest does.

:class:`PortIo` turns ``inb``/``outb`` (and the 16- and 32-bit forms) into bus
calls, with the VMM's rule for unclaimed ports (reads float to 0xff).
:class:`RecordedSerial` is a 16550A at COM1 whose output and interrupt level
changes are recorded, for tests of code that talks to a UART.
"""

from __future__ import annotations

import io

from vm_devices.bus import Bus, PioBus
from vm_devices.interrupt import CallbackInterrupt
from vm_devices.legacy.serial import SERIAL_COM1_BASE, SERIAL_LENGTH, Serial16550

__all__ = ["PortIo", "RecordedSerial"]


class PortIo:
    """x86 ``in``/``out`` on a bus. Reads of an unclaimed port return all ones."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def read(self, port: int, size: int) -> int:
        data = bytearray(size)
        if not self.bus.read(port, memoryview(data)):
            data[:] = b"\xff" * size
        return int.from_bytes(data, "little")

    def write(self, port: int, value: int, size: int) -> bool:
        """False when no device claimed the write."""
        return self.bus.write(port, value.to_bytes(size, "little"))

    def inb(self, port: int) -> int:
        return self.read(port, 1)

    def inw(self, port: int) -> int:
        return self.read(port, 2)

    def inl(self, port: int) -> int:
        return self.read(port, 4)

    def outb(self, port: int, value: int) -> bool:
        return self.write(port, value, 1)

    def outw(self, port: int, value: int) -> bool:
        return self.write(port, value, 2)

    def outl(self, port: int, value: int) -> bool:
        return self.write(port, value, 4)


class RecordedSerial(PortIo):
    """A :class:`Serial16550` at COM1 on its own :class:`PioBus`.

    ``output`` collects what the guest transmits and ``levels`` every change of
    the interrupt pin, in order. :meth:`reg_in`/:meth:`reg_out` address the
    registers by their offset from ``base``.
    """

    def __init__(self, base: int = SERIAL_COM1_BASE) -> None:
        super().__init__(PioBus())
        self.base = base
        self.output = io.BytesIO()
        self.levels: list[bool] = []
        self.serial = Serial16550(self.output, CallbackInterrupt(self.levels.append))
        self.bus.insert(self.serial, base, SERIAL_LENGTH)

    def reg_in(self, register: int) -> int:
        return self.inb(self.base + register)

    def reg_out(self, register: int, value: int) -> None:
        self.outb(self.base + register, value)
