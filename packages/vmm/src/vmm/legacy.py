"""The PC devices every guest gets on the port I/O bus: COM1, i8042, CMOS RTC, debug port."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, BinaryIO

from kvm_ioctls import KvmError
from vm_devices import EventFdInterrupt, PioBus
from vm_devices.legacy import (
    CMOS_BASE,
    CMOS_LENGTH,
    DEBUG_PORT,
    I8042_BASE,
    I8042_LENGTH,
    SERIAL_COM1_BASE,
    SERIAL_COM1_IRQ,
    SERIAL_LENGTH,
    Cmos,
    DebugPort,
    I8042Device,
    Serial16550,
)

from vmm.arch import layout
from vmm.errors import DeviceError
from vmm.lifecycle import StopReason, StopSignal

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVm


class LegacyDevices:
    """Owns the legacy devices and the eventfd behind the UART's IRQ 4."""

    def __init__(
        self,
        vm: HypervisorVm,
        pio: PioBus,
        stop: StopSignal,
        *,
        memory_size: int,
        start_time: float,
        serial_output: BinaryIO | None,
        serial_enabled: bool,
    ) -> None:
        self.serial: Serial16550 | None = None
        self._serial_irq: EventFdInterrupt | None = None
        if serial_enabled:
            self._serial_irq = EventFdInterrupt.create()
            try:
                vm.register_irqfd(self._serial_irq.fd, SERIAL_COM1_IRQ)
            except KvmError as error:
                self._serial_irq.close()  # no one else will: this object is never made
                raise DeviceError(f"cannot wire the serial port's IRQ: {error}") from None
            self.serial = Serial16550(output=serial_output, interrupt=self._serial_irq)
            pio.insert(self.serial, SERIAL_COM1_BASE, SERIAL_LENGTH)
        self.i8042 = I8042Device(
            reset=lambda: stop.request(StopReason.GUEST_RESET, "the guest reset the i8042")
        )
        pio.insert(self.i8042, I8042_BASE, I8042_LENGTH)
        below = min(memory_size, layout.MEM_32BIT_HOLE_START)
        self.cmos = Cmos(mem_below_4g=below, mem_above_4g=memory_size - below)
        pio.insert(self.cmos, CMOS_BASE, CMOS_LENGTH)
        self.debug_port = DebugPort(start_time, log_zero=False)
        pio.insert(self.debug_port, DEBUG_PORT, 1)

    def close(self) -> None:
        if self._serial_irq is not None:
            self._serial_irq.close()


def open_serial_output(mode: str, path: str | None) -> BinaryIO | None:
    """Where COM1's output goes: the terminal, a file (created or truncated), or nowhere."""
    if mode == "tty":
        return os.fdopen(os.dup(1), "wb", buffering=0)
    if mode == "file" and path is not None:
        try:
            return open(path, "wb", buffering=0)
        except OSError as error:
            raise DeviceError(
                f"cannot open serial output file {path!r}: {error.strerror}"
            ) from None
    return None
