"""Definition blocks (ACPI 6.5, 5.2.11): the DSDT and SSDTs, a header and AML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from acpi_tables.aml.encoding import Aml, encode_all
from acpi_tables.errors import AcpiError, check_uint
from acpi_tables.sdt import Oem, Sdt

__all__ = ["Dsdt", "Ssdt"]


@dataclass(frozen=True)
class _DefinitionBlock:
    """A header and a TermList. Revision 2 or later: integers are 64 bits (1: 32 bits)."""

    body: Sequence[Aml]
    revision: int = 2
    oem: Oem = field(default_factory=Oem)

    SIGNATURE = ""

    def __post_init__(self) -> None:
        check_uint(f"{self.SIGNATURE} revision", self.revision, 8)
        if self.revision == 0:
            raise AcpiError(f"{self.SIGNATURE} revision", self.revision, "revisions start at 1")

    def aml(self) -> bytes:
        """The AML after the header."""
        return encode_all(self.body)

    def to_sdt(self) -> Sdt:
        sdt = Sdt(self.SIGNATURE, self.revision, self.oem)
        sdt.append(self.aml())
        return sdt

    def to_bytes(self) -> bytes:
        return self.to_sdt().to_bytes()


@dataclass(frozen=True)
class Dsdt(_DefinitionBlock):
    """The Differentiated System Description Table: the guest's device namespace."""

    SIGNATURE = "DSDT"


@dataclass(frozen=True)
class Ssdt(_DefinitionBlock):
    """A Secondary System Description Table: more of the namespace, loaded after the DSDT."""

    SIGNATURE = "SSDT"
