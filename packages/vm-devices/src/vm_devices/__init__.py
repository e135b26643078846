"""Devices for a Python VMM on KVM, shaped like Cloud Hypervisor's vm-device and devices crates.

The top level holds what every device shares: the port I/O and MMIO
:class:`Bus` that vCPU exits are routed through, the :class:`BusDevice`
protocol, the :class:`InterruptLine` devices raise their interrupts on, and
the errors. The devices live in subpackages: :mod:`vm_devices.legacy` (16550A
UART, i8042, CMOS RTC, debug port).
"""

from vm_devices.bus import MMIO_LIMIT, PIO_LIMIT, Bus, BusDevice, BusRange, MmioBus, PioBus
from vm_devices.errors import (
    BusAddressOverflowError,
    BusError,
    BusNotFoundError,
    BusOverlapError,
    BusZeroLengthError,
    DeviceConfigError,
    VmDevicesError,
)
from vm_devices.interrupt import CallbackInterrupt, EventFdInterrupt, InterruptLine

__version__ = "0.1.0"

__all__ = [
    "MMIO_LIMIT",
    "PIO_LIMIT",
    "Bus",
    "BusAddressOverflowError",
    "BusDevice",
    "BusError",
    "BusNotFoundError",
    "BusOverlapError",
    "BusRange",
    "BusZeroLengthError",
    "CallbackInterrupt",
    "DeviceConfigError",
    "EventFdInterrupt",
    "InterruptLine",
    "MmioBus",
    "PioBus",
    "VmDevicesError",
]
