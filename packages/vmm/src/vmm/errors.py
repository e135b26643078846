"""Errors the VMM reports to its user: each one line that says what failed and why."""

from __future__ import annotations


class VmmError(Exception):
    """A VM could not be created, booted or run; the message is shown to the user as is."""


class PayloadError(VmmError):
    """The kernel, firmware, initramfs or command line cannot be used."""


class GuestRamError(VmmError):
    """Guest memory could not be created or mapped into the VM."""


class CpuError(VmmError):
    """A vCPU could not be created or configured, or failed while running."""


class DeviceError(VmmError):
    """A device could not be created or wired to the VM."""
