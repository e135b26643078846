"""ACPI tables for a Python VMM, shaped like rust-vmm's acpi_tables crate.

The tables a VMM hands an x86-64 guest, each a small frozen dataclass whose
``to_bytes()`` is the finished table, length and checksum included:
:class:`Rsdp` (revision 2) points at the :class:`Xsdt`, which lists the
:class:`Fadt` (which points at the :class:`Dsdt`), :class:`Madt`,
:class:`Mcfg`, :class:`Srat` and :class:`Slit`. :class:`Sdt` builds any
other table. :mod:`acpi_tables.aml` encodes the DSDT's AML.

Standard library only; the tests check every table with ACPICA's iasl.
"""

from acpi_tables import aml
from acpi_tables.dsdt import Dsdt, Ssdt
from acpi_tables.errors import AcpiError
from acpi_tables.fadt import Fadt, FadtFlags, IapcBootArch, PmProfile
from acpi_tables.gas import AccessSize, AddressSpaceId, GenericAddress
from acpi_tables.madt import (
    InterruptSourceOverride,
    IoApic,
    LocalApic,
    LocalApicFlags,
    LocalApicNmi,
    LocalX2Apic,
    LocalX2ApicNmi,
    Madt,
    MadtEntry,
    MpsIntiFlags,
    Polarity,
    TriggerMode,
)
from acpi_tables.mcfg import EcamAllocation, Mcfg
from acpi_tables.rsdp import Rsdp
from acpi_tables.sdt import Oem, Sdt, SdtHeader, Table, checksum, is_checksum_valid
from acpi_tables.slit import Slit
from acpi_tables.srat import (
    MemoryAffinity,
    MemoryAffinityFlags,
    ProcessorApicAffinity,
    ProcessorX2ApicAffinity,
    Srat,
    SratEntry,
)
from acpi_tables.xsdt import Xsdt

__version__ = "0.1.0"

__all__ = [
    "AccessSize",
    "AcpiError",
    "AddressSpaceId",
    "Dsdt",
    "EcamAllocation",
    "Fadt",
    "FadtFlags",
    "GenericAddress",
    "IapcBootArch",
    "InterruptSourceOverride",
    "IoApic",
    "LocalApic",
    "LocalApicFlags",
    "LocalApicNmi",
    "LocalX2Apic",
    "LocalX2ApicNmi",
    "Madt",
    "MadtEntry",
    "Mcfg",
    "MemoryAffinity",
    "MemoryAffinityFlags",
    "MpsIntiFlags",
    "Oem",
    "PmProfile",
    "Polarity",
    "ProcessorApicAffinity",
    "ProcessorX2ApicAffinity",
    "Rsdp",
    "Sdt",
    "SdtHeader",
    "Slit",
    "Srat",
    "SratEntry",
    "Ssdt",
    "Table",
    "TriggerMode",
    "Xsdt",
    "aml",
    "checksum",
    "is_checksum_valid",
]
