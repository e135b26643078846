"""The ACPI devices on the VM's buses: the sleep/reset port and the Generic Event Device."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kvm_ioctls import KvmError
from vm_devices import EventFdInterrupt, MmioBus, PioBus
from vm_devices.acpi import (
    ACPI_SHUTDOWN_PORT,
    ACPI_SHUTDOWN_PORT_LENGTH,
    GED_LENGTH,
    AcpiShutdownDevice,
    GedDevice,
    GedEvent,
)

from vmm.arch import layout
from vmm.errors import DeviceError
from vmm.lifecycle import StopReason, StopSignal

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVm

log = logging.getLogger(__name__)

GED_IRQ = 5
"""The GED's interrupt: an ISA IRQ no legacy device here uses (edge, active high)."""


class AcpiDevices:
    """Owns the sleep/reset port, the GED and the eventfd behind the GED's IRQ."""

    def __init__(self, vm: HypervisorVm, pio: PioBus, mmio: MmioBus, stop: StopSignal) -> None:
        self.shutdown = AcpiShutdownDevice(
            shutdown=lambda: stop.request(
                StopReason.GUEST_SHUTDOWN, "the guest powered off (ACPI S5)"
            ),
            reset=lambda: stop.request(StopReason.GUEST_RESET, "the guest reset through ACPI"),
        )
        pio.insert(self.shutdown, ACPI_SHUTDOWN_PORT, ACPI_SHUTDOWN_PORT_LENGTH)
        self._irq = EventFdInterrupt.create()
        try:
            vm.register_irqfd(self._irq.fd, GED_IRQ)
        except KvmError as error:
            self._irq.close()
            raise DeviceError(f"cannot wire the ACPI GED's IRQ: {error}") from None
        self.ged = GedDevice(self._irq)
        mmio.insert(self.ged, layout.ACPI_GED_ADDRESS, GED_LENGTH)

    def power_button(self) -> None:
        """Press the power button: the guest's ACPI button driver sees it through the GED."""
        log.info("power button pressed")
        self.ged.notify(GedEvent.POWER_BUTTON_CHANGED)

    def close(self) -> None:
        self._irq.close()
