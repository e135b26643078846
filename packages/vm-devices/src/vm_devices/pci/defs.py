"""PCI Local Bus 3.0 constants: type-0 header offsets, command bits, class and capability IDs."""

from __future__ import annotations

import enum

__all__ = [
    "BAR0",
    "BAR_COUNT",
    "CAPABILITIES_START",
    "CAPABILITY_POINTER",
    "CLASS_REVISION",
    "COMMAND",
    "CONFIG_SPACE_SIZE",
    "EXTENDED_CONFIG_SPACE_SIZE",
    "HEADER_TYPE",
    "INTERRUPT_LINE",
    "INTERRUPT_PIN",
    "ROM_BAR",
    "STATUS",
    "STATUS_CAPABILITIES",
    "SUBSYSTEM_ID",
    "SUBSYSTEM_VENDOR_ID",
    "VENDOR_ID",
    "CapabilityId",
    "Command",
    "PciClass",
]

CONFIG_SPACE_SIZE = 256
"""A conventional function's configuration space, what CONF1 reaches."""
EXTENDED_CONFIG_SPACE_SIZE = 4096
"""A PCIe function's configuration space, what ECAM reaches (0x100 up reads as zero here)."""

VENDOR_ID = 0x00
DEVICE_ID = 0x02
COMMAND = 0x04
STATUS = 0x06
CLASS_REVISION = 0x08  # revision, prog-if, subclass, class
CACHE_LINE_SIZE = 0x0C
LATENCY_TIMER = 0x0D
HEADER_TYPE = 0x0E
BAR0 = 0x10
BAR_COUNT = 6
SUBSYSTEM_VENDOR_ID = 0x2C
SUBSYSTEM_ID = 0x2E
ROM_BAR = 0x30
CAPABILITY_POINTER = 0x34
INTERRUPT_LINE = 0x3C
INTERRUPT_PIN = 0x3D
CAPABILITIES_START = 0x40
"""Capabilities live in [0x40, 0x100), each at a dword-aligned offset."""

STATUS_CAPABILITIES = 1 << 4
"""Status bit 4: the capability pointer at 0x34 is valid."""

BAR_MEMORY_64 = 0b100
BAR_PREFETCHABLE = 0b1000


class Command(enum.IntFlag):
    """The command register bits a guest may set (the others are hardwired to 0)."""

    IO_SPACE = 1 << 0
    MEMORY_SPACE = 1 << 1
    BUS_MASTER = 1 << 2
    PARITY_ERROR_RESPONSE = 1 << 6
    SERR = 1 << 8
    INTX_DISABLE = 1 << 10


class PciClass(enum.IntEnum):
    """Base class codes (PCI Code and ID Assignment 1.x, section 1)."""

    MASS_STORAGE = 0x01
    NETWORK = 0x02
    DISPLAY = 0x03
    MULTIMEDIA = 0x04
    MEMORY = 0x05
    BRIDGE = 0x06
    COMMUNICATION = 0x07
    SYSTEM_PERIPHERAL = 0x08
    OTHER = 0xFF


class CapabilityId(enum.IntEnum):
    """Capability IDs in the conventional capability list."""

    POWER_MANAGEMENT = 0x01
    MSI = 0x05
    VENDOR_SPECIFIC = 0x09
    PCI_EXPRESS = 0x10
    MSIX = 0x11
