"""The Generic Event Device (ACPI0013) status register, as Cloud Hypervisor lays it out.

One byte of MMIO. Each bit is a kind of event the VMM raised since the
guest last looked (:class:`GedEvent`). :meth:`GedDevice.notify` sets bits
and pulses the GED's interrupt; the guest's ``_EVT`` method reads the byte,
which clears it, and runs the handler of each bit (``Notify`` the power
button, scan the CPUs...). Writes are ignored.
"""

from __future__ import annotations

import enum
import threading

from vm_devices.interrupt import InterruptLine

__all__ = ["GED_LENGTH", "GedDevice", "GedEvent"]

GED_LENGTH = 1


class GedEvent(enum.IntFlag):
    """The status bits (CH's AcpiNotificationFlags)."""

    CPU_DEVICES_CHANGED = 1 << 0
    MEMORY_DEVICES_CHANGED = 1 << 1
    PCI_DEVICES_CHANGED = 1 << 2
    POWER_BUTTON_CHANGED = 1 << 3


class GedDevice:
    """The GED's status byte; `notify` may be called from any thread."""

    def __init__(self, interrupt: InterruptLine) -> None:
        self._interrupt = interrupt
        self._lock = threading.Lock()
        self._pending = GedEvent(0)

    def notify(self, events: GedEvent) -> None:
        """Record `events` and interrupt the guest."""
        with self._lock:
            self._pending |= events
        self._interrupt.trigger()

    @property
    def pending(self) -> GedEvent:
        return self._pending

    def read(self, base: int, offset: int, data: memoryview) -> None:
        with self._lock:
            value, self._pending = int(self._pending), GedEvent(0)
        data[:] = bytes(len(data))
        if offset == 0 and len(data):
            data[0] = value

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        return None
