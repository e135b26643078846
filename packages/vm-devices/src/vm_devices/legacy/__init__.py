"""Legacy PC devices: the 16550A UART, the i8042 reset, the CMOS RTC and the debug port.

Each is a :class:`~vm_devices.bus.BusDevice` for the port I/O bus; the
``*_BASE``/``*_LENGTH`` constants give the ranges a PC puts them at. The
terminal helpers for a serial console are in :mod:`vm_devices.legacy.terminal`
(imported on demand: it pulls in ``termios``).
"""

from vm_devices.legacy.cmos import CMOS_BASE, CMOS_LENGTH, Cmos, CmosRegister
from vm_devices.legacy.debug_port import (
    DEBUG_PORT,
    DEBUG_PORT_LENGTH,
    DebugPort,
    DebugPortEvent,
    DebugPortRange,
)
from vm_devices.legacy.i8042 import I8042_BASE, I8042_LENGTH, I8042Device
from vm_devices.legacy.serial import (
    SERIAL_COM1_BASE,
    SERIAL_COM1_IRQ,
    SERIAL_LENGTH,
    ByteSink,
    Serial16550,
)

__all__ = [
    "CMOS_BASE",
    "CMOS_LENGTH",
    "DEBUG_PORT",
    "DEBUG_PORT_LENGTH",
    "I8042_BASE",
    "I8042_LENGTH",
    "SERIAL_COM1_BASE",
    "SERIAL_COM1_IRQ",
    "SERIAL_LENGTH",
    "ByteSink",
    "Cmos",
    "CmosRegister",
    "DebugPort",
    "DebugPortEvent",
    "DebugPortRange",
    "I8042Device",
    "Serial16550",
]
