"""The Multiple APIC Description Table (ACPI 6.5, 5.2.12): the guest's interrupt controllers."""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from acpi_tables.errors import check_uint
from acpi_tables.sdt import Oem, Sdt

__all__ = [
    "InterruptSourceOverride",
    "IoApic",
    "LocalApic",
    "LocalApicFlags",
    "LocalApicNmi",
    "LocalX2Apic",
    "LocalX2ApicNmi",
    "Madt",
    "MadtEntry",
    "MpsIntiFlags",
    "Polarity",
    "TriggerMode",
]

LOCAL_APIC_ADDRESS = 0xFEE0_0000
PCAT_COMPAT = 1 << 0


class LocalApicFlags(enum.IntFlag):
    """A processor's flags: ENABLED, or ONLINE_CAPABLE for one the OS may enable later."""

    ENABLED = 1 << 0
    ONLINE_CAPABLE = 1 << 1


class Polarity(enum.IntEnum):
    """An interrupt's polarity, bits 0-1 of the MPS INTI flags."""

    CONFORMS = 0
    ACTIVE_HIGH = 1
    ACTIVE_LOW = 3


class TriggerMode(enum.IntEnum):
    """An interrupt's trigger mode, bits 2-3 of the MPS INTI flags."""

    CONFORMS = 0
    EDGE = 1
    LEVEL = 3


@dataclass(frozen=True)
class MpsIntiFlags:
    """Polarity and trigger mode, as the overrides and NMI entries carry them."""

    polarity: Polarity = Polarity.CONFORMS
    trigger: TriggerMode = TriggerMode.CONFORMS

    def value(self) -> int:
        return int(self.polarity) | int(self.trigger) << 2


@dataclass(frozen=True)
class LocalApic:
    """Processor Local APIC (type 0): a CPU whose APIC id fits 8 bits."""

    processor_uid: int
    apic_id: int
    flags: LocalApicFlags = LocalApicFlags.ENABLED

    def __post_init__(self) -> None:
        check_uint("LocalApic.processor_uid", self.processor_uid, 8)
        check_uint("LocalApic.apic_id", self.apic_id, 8)

    def to_bytes(self) -> bytes:
        return struct.pack("<BBBBI", 0, 8, self.processor_uid, self.apic_id, self.flags)


@dataclass(frozen=True)
class IoApic:
    """I/O APIC (type 1): its id, MMIO address, and the first GSI its pins carry."""

    io_apic_id: int
    address: int
    gsi_base: int = 0

    def __post_init__(self) -> None:
        check_uint("IoApic.io_apic_id", self.io_apic_id, 8)
        check_uint("IoApic.address", self.address, 32)
        check_uint("IoApic.gsi_base", self.gsi_base, 32)

    def to_bytes(self) -> bytes:
        return struct.pack("<BBBxII", 1, 12, self.io_apic_id, self.address, self.gsi_base)


@dataclass(frozen=True)
class InterruptSourceOverride:
    """Interrupt Source Override (type 2): ISA IRQ `source` is GSI `gsi` (IRQ0 -> GSI2)."""

    source: int
    gsi: int
    flags: MpsIntiFlags = field(default_factory=MpsIntiFlags)
    bus: int = 0  # ISA

    def __post_init__(self) -> None:
        check_uint("InterruptSourceOverride.source", self.source, 8)
        check_uint("InterruptSourceOverride.gsi", self.gsi, 32)
        check_uint("InterruptSourceOverride.bus", self.bus, 8)

    def to_bytes(self) -> bytes:
        return struct.pack("<BBBBIH", 2, 10, self.bus, self.source, self.gsi, self.flags.value())


@dataclass(frozen=True)
class LocalApicNmi:
    """Local APIC NMI (type 4): which LINT pin of which processors (0xFF: all) is the NMI."""

    processor_uid: int = 0xFF
    lint: int = 1
    flags: MpsIntiFlags = field(default_factory=MpsIntiFlags)

    def __post_init__(self) -> None:
        check_uint("LocalApicNmi.processor_uid", self.processor_uid, 8)
        check_uint("LocalApicNmi.lint", self.lint, 1)

    def to_bytes(self) -> bytes:
        return struct.pack("<BBBHB", 4, 6, self.processor_uid, self.flags.value(), self.lint)


@dataclass(frozen=True)
class LocalX2Apic:
    """Processor Local x2APIC (type 9): a CPU by its 32-bit x2APIC id."""

    processor_uid: int
    x2apic_id: int
    flags: LocalApicFlags = LocalApicFlags.ENABLED

    def __post_init__(self) -> None:
        check_uint("LocalX2Apic.processor_uid", self.processor_uid, 32)
        check_uint("LocalX2Apic.x2apic_id", self.x2apic_id, 32)

    def to_bytes(self) -> bytes:
        return struct.pack(
            "<BBxxIII", 9, 16, self.x2apic_id, self.flags, self.processor_uid
        )  # fmt: skip


@dataclass(frozen=True)
class LocalX2ApicNmi:
    """Local x2APIC NMI (type 0x0A): the NMI pin of x2APIC processors (0xFFFFFFFF: all)."""

    processor_uid: int = 0xFFFF_FFFF
    lint: int = 1
    flags: MpsIntiFlags = field(default_factory=MpsIntiFlags)

    def __post_init__(self) -> None:
        check_uint("LocalX2ApicNmi.processor_uid", self.processor_uid, 32)
        check_uint("LocalX2ApicNmi.lint", self.lint, 1)

    def to_bytes(self) -> bytes:
        return struct.pack(
            "<BBHIB3x", 0x0A, 12, self.flags.value(), self.processor_uid, self.lint
        )  # fmt: skip


MadtEntry = (
    LocalApic | IoApic | InterruptSourceOverride | LocalApicNmi | LocalX2Apic | LocalX2ApicNmi
)


@dataclass(frozen=True)
class Madt:
    """The MADT: the local APICs' address, whether 8259 PICs are there too, the entries.

    A VMM with no PIC leaves `pcat_compat` False; Linux then uses the I/O APIC
    from the start.
    """

    entries: Sequence[MadtEntry]
    local_apic_address: int = LOCAL_APIC_ADDRESS
    pcat_compat: bool = False
    oem: Oem = field(default_factory=Oem)

    SIGNATURE = "APIC"
    REVISION = 5

    def __post_init__(self) -> None:
        check_uint("Madt.local_apic_address", self.local_apic_address, 32)

    def to_sdt(self) -> Sdt:
        sdt = Sdt(self.SIGNATURE, self.REVISION, self.oem)
        flags = PCAT_COMPAT if self.pcat_compat else 0
        sdt.append(struct.pack("<II", self.local_apic_address, flags))
        for entry in self.entries:
            sdt.append(entry.to_bytes())
        return sdt

    def to_bytes(self) -> bytes:
        return self.to_sdt().to_bytes()
