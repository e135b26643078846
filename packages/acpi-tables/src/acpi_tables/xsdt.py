"""The Extended System Description Table (ACPI 6.5, 5.2.8): the list of the other tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from acpi_tables.errors import check_uint
from acpi_tables.sdt import Oem, Sdt

__all__ = ["Xsdt"]


@dataclass(frozen=True)
class Xsdt:
    """The guest physical addresses of every table but the DSDT (the FADT points at that)."""

    entries: Sequence[int]
    oem: Oem = field(default_factory=Oem)

    SIGNATURE = "XSDT"
    REVISION = 1

    def __post_init__(self) -> None:
        for address in self.entries:
            check_uint("Xsdt.entries", address, 64)

    def to_sdt(self) -> Sdt:
        sdt = Sdt(self.SIGNATURE, self.REVISION, self.oem)
        sdt.append(b"".join(address.to_bytes(8, "little") for address in self.entries))
        return sdt

    def to_bytes(self) -> bytes:
        return self.to_sdt().to_bytes()
