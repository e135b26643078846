"""The System Resource Affinity Table (ACPI 6.5, 5.2.16): which NUMA node owns which
CPUs and memory ranges."""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from acpi_tables.errors import AcpiError, check_uint
from acpi_tables.sdt import Oem, Sdt

__all__ = [
    "MemoryAffinity",
    "MemoryAffinityFlags",
    "ProcessorApicAffinity",
    "ProcessorX2ApicAffinity",
    "Srat",
    "SratEntry",
]

ENABLED = 1 << 0


@dataclass(frozen=True)
class ProcessorApicAffinity:
    """Processor Local APIC/SAPIC Affinity (type 0): an 8-bit APIC id in a proximity domain."""

    proximity_domain: int
    apic_id: int
    enabled: bool = True
    clock_domain: int = 0

    def __post_init__(self) -> None:
        check_uint("ProcessorApicAffinity.proximity_domain", self.proximity_domain, 32)
        check_uint("ProcessorApicAffinity.apic_id", self.apic_id, 8)
        check_uint("ProcessorApicAffinity.clock_domain", self.clock_domain, 32)

    def to_bytes(self) -> bytes:
        domain = self.proximity_domain
        return struct.pack(
            "<BBBBIB3sI",
            0,
            16,
            domain & 0xFF,
            self.apic_id,
            ENABLED if self.enabled else 0,
            0,  # local SAPIC EID
            (domain >> 8).to_bytes(3, "little"),
            self.clock_domain,
        )


class MemoryAffinityFlags(enum.IntFlag):
    """A memory range's flags."""

    ENABLED = 1 << 0
    HOT_PLUGGABLE = 1 << 1
    NON_VOLATILE = 1 << 2


@dataclass(frozen=True)
class MemoryAffinity:
    """Memory Affinity (type 1): a range of guest physical memory in a proximity domain."""

    proximity_domain: int
    base_address: int
    length: int
    flags: MemoryAffinityFlags = MemoryAffinityFlags.ENABLED

    def __post_init__(self) -> None:
        check_uint("MemoryAffinity.proximity_domain", self.proximity_domain, 32)
        check_uint("MemoryAffinity.base_address", self.base_address, 64)
        check_uint("MemoryAffinity.length", self.length, 64)
        if self.base_address + self.length > 1 << 64:
            raise AcpiError("MemoryAffinity.length", self.length, "the range passes 2^64")

    def to_bytes(self) -> bytes:
        return struct.pack(
            "<BBIxxQQ4xI8x",
            1,
            40,
            self.proximity_domain,
            self.base_address,
            self.length,
            self.flags,
        )


@dataclass(frozen=True)
class ProcessorX2ApicAffinity:
    """Processor Local x2APIC Affinity (type 2): an x2APIC id in a proximity domain."""

    proximity_domain: int
    x2apic_id: int
    enabled: bool = True
    clock_domain: int = 0

    def __post_init__(self) -> None:
        check_uint("ProcessorX2ApicAffinity.proximity_domain", self.proximity_domain, 32)
        check_uint("ProcessorX2ApicAffinity.x2apic_id", self.x2apic_id, 32)
        check_uint("ProcessorX2ApicAffinity.clock_domain", self.clock_domain, 32)

    def to_bytes(self) -> bytes:
        flags = ENABLED if self.enabled else 0
        return struct.pack(
            "<BBxxIIII4x", 2, 24, self.proximity_domain, self.x2apic_id, flags, self.clock_domain
        )  # fmt: skip


SratEntry = ProcessorApicAffinity | MemoryAffinity | ProcessorX2ApicAffinity


@dataclass(frozen=True)
class Srat:
    """The SRAT, revision 3: 12 reserved bytes (the first dword 1, for old OSes), the entries."""

    entries: Sequence[SratEntry]
    oem: Oem = field(default_factory=Oem)

    SIGNATURE = "SRAT"
    REVISION = 3

    def to_sdt(self) -> Sdt:
        sdt = Sdt(self.SIGNATURE, self.REVISION, self.oem)
        sdt.append(struct.pack("<I8x", 1))
        for entry in self.entries:
            sdt.append(entry.to_bytes())
        return sdt

    def to_bytes(self) -> bytes:
        return self.to_sdt().to_bytes()
