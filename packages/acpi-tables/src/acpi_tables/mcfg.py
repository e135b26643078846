"""The PCI Express memory-mapped configuration table (PCI Firmware 3.3, 4.1.2): MCFG.

Each allocation says where a PCI segment's ECAM window is; without it a
guest finds PCI only through the legacy 0xCF8/0xCFC ports.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from acpi_tables.errors import AcpiError, check_uint
from acpi_tables.sdt import Oem, Sdt

__all__ = ["EcamAllocation", "Mcfg"]

ECAM_BUS_SIZE = 1 << 20  # 32 devices x 8 functions x 4 KiB


@dataclass(frozen=True)
class EcamAllocation:
    """One segment's ECAM window: its base holds bus 0's space, even if `start_bus` > 0."""

    base_address: int
    segment: int = 0
    start_bus: int = 0
    end_bus: int = 0xFF

    def __post_init__(self) -> None:
        check_uint("EcamAllocation.base_address", self.base_address, 64)
        check_uint("EcamAllocation.segment", self.segment, 16)
        check_uint("EcamAllocation.start_bus", self.start_bus, 8)
        check_uint("EcamAllocation.end_bus", self.end_bus, 8)
        if self.end_bus < self.start_bus:
            raise AcpiError("EcamAllocation.end_bus", self.end_bus, "below the start bus")
        if self.base_address % ECAM_BUS_SIZE:
            raise AcpiError("EcamAllocation.base_address", self.base_address, "not 1 MiB aligned")

    def to_bytes(self) -> bytes:
        return struct.pack(
            "<QHBB4x", self.base_address, self.segment, self.start_bus, self.end_bus
        )  # fmt: skip


@dataclass(frozen=True)
class Mcfg:
    """The MCFG: 8 reserved bytes, then one allocation per segment."""

    allocations: Sequence[EcamAllocation]
    oem: Oem = field(default_factory=Oem)

    SIGNATURE = "MCFG"
    REVISION = 1

    def to_sdt(self) -> Sdt:
        sdt = Sdt(self.SIGNATURE, self.REVISION, self.oem)
        sdt.append(bytes(8))
        for allocation in self.allocations:
            sdt.append(allocation.to_bytes())
        return sdt

    def to_bytes(self) -> bytes:
        return self.to_sdt().to_bytes()
