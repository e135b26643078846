"""The sleep control/status and reset register of a hardware-reduced ACPI machine.

A hardware-reduced FADT has no PM1 blocks: the guest powers off by writing
``SLP_TYPx << 2 | SLP_EN`` to the sleep control register (SLP_TYP from the
DSDT's ``\\_S5_`` package) and reboots by writing the FADT's reset value to
the reset register. Cloud Hypervisor puts all three registers at I/O port
0x600, and so does this device: reads return 0 (never "woken"), the reset
value resets, the S5 value powers off, anything else is ignored.

The callbacks run on the vCPU thread that wrote: the VMM stops the VM from
them, and the vCPU sees the stop when it leaves this exit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = [
    "ACPI_SHUTDOWN_PORT",
    "ACPI_SHUTDOWN_PORT_LENGTH",
    "RESET_VALUE",
    "S5_SLEEP_TYPE",
    "SLEEP_ENABLE",
    "AcpiShutdownDevice",
    "sleep_control_value",
]

logger = logging.getLogger(__name__)

ACPI_SHUTDOWN_PORT = 0x600
ACPI_SHUTDOWN_PORT_LENGTH = 1
RESET_VALUE = 1
"""The FADT's RESET_VALUE for this register."""
S5_SLEEP_TYPE = 5
"""SLP_TYP of S5 (soft off): the first element of the DSDT's ``\\_S5_`` package."""
SLEEP_ENABLE = 1 << 5
_SLEEP_TYPE_SHIFT = 2
_SLEEP_TYPE_MASK = 0x7 << _SLEEP_TYPE_SHIFT


def sleep_control_value(sleep_type: int) -> int:
    """What a guest writes to the sleep control register to enter `sleep_type`."""
    return (sleep_type << _SLEEP_TYPE_SHIFT) & _SLEEP_TYPE_MASK | SLEEP_ENABLE


class AcpiShutdownDevice:
    """Port 0x600: ``shutdown()`` on the S5 write, ``reset()`` on the reset value."""

    def __init__(self, *, shutdown: Callable[[], object], reset: Callable[[], object]) -> None:
        self._shutdown = shutdown
        self._reset = reset
        self.shutdown_requests = 0
        self.reset_requests = 0

    def read(self, base: int, offset: int, data: memoryview) -> None:
        data[:] = bytes(len(data))

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        if len(data) != 1:
            logger.debug("ignored a %d-byte write to the ACPI sleep/reset register", len(data))
            return
        value = data[0]
        if value == RESET_VALUE:
            self.reset_requests += 1
            logger.info("guest reset the machine through the ACPI reset register")
            self._reset()
        elif value & (_SLEEP_TYPE_MASK | SLEEP_ENABLE) == sleep_control_value(S5_SLEEP_TYPE):
            self.shutdown_requests += 1
            logger.info("guest entered ACPI S5 (soft off)")
            self._shutdown()
