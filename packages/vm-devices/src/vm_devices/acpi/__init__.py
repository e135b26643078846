"""The ACPI platform devices of a hardware-reduced machine, as Cloud Hypervisor has them.

- :class:`AcpiShutdownDevice`: one I/O port that the FADT names as the sleep
  control, sleep status and reset register. The guest's S5 write powers the
  machine off, the reset value reboots it.
- :class:`GedDevice`: the Generic Event Device's one-byte status register.
  The VMM raises an event (power button, and later CPU, memory and PCI
  hot-plug) with :meth:`GedDevice.notify`; the guest's ``_EVT`` method reads
  which ones happened, and the read clears them.

Both are :class:`~vm_devices.bus.BusDevice` objects; the ACPI tables that
describe them are the VMM's to write.
"""

from vm_devices.acpi.ged import GED_LENGTH, GedDevice, GedEvent
from vm_devices.acpi.shutdown import (
    ACPI_SHUTDOWN_PORT,
    ACPI_SHUTDOWN_PORT_LENGTH,
    RESET_VALUE,
    S5_SLEEP_TYPE,
    SLEEP_ENABLE,
    AcpiShutdownDevice,
    sleep_control_value,
)

__all__ = [
    "ACPI_SHUTDOWN_PORT",
    "ACPI_SHUTDOWN_PORT_LENGTH",
    "GED_LENGTH",
    "RESET_VALUE",
    "S5_SLEEP_TYPE",
    "SLEEP_ENABLE",
    "AcpiShutdownDevice",
    "GedDevice",
    "GedEvent",
    "sleep_control_value",
]
