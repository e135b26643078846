"""The System Locality Information Table (ACPI 6.5, 5.2.17): distances between NUMA nodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from acpi_tables.errors import AcpiError, check_uint
from acpi_tables.sdt import Oem, Sdt

__all__ = ["LOCAL_DISTANCE", "UNREACHABLE", "Slit"]

LOCAL_DISTANCE = 10
UNREACHABLE = 0xFF


@dataclass(frozen=True)
class Slit:
    """The SLIT: `distances[i][j]`, from node i to node j, relative to 10 for a node to itself.

    Other distances are 11 to 254, or 255 for unreachable (values under 10
    are reserved). Symmetry is not required by the specification, so it is
    left to the caller (the VMM's configuration check).
    """

    distances: Sequence[Sequence[int]]
    oem: Oem = field(default_factory=Oem)

    SIGNATURE = "SLIT"
    REVISION = 1

    def __post_init__(self) -> None:
        count = len(self.distances)
        for i, row in enumerate(self.distances):
            if len(row) != count:
                raise AcpiError(f"Slit.distances[{i}]", row, f"{count} nodes need {count} entries")
            for j, distance in enumerate(row):
                check_uint(f"Slit.distances[{i}][{j}]", distance, 8)
                if i == j and distance != LOCAL_DISTANCE:
                    raise AcpiError(f"Slit.distances[{i}][{j}]", distance, "a node to itself is 10")
                if i != j and distance <= LOCAL_DISTANCE:
                    raise AcpiError(
                        f"Slit.distances[{i}][{j}]", distance, "another node is 11 to 255"
                    )

    def to_sdt(self) -> Sdt:
        sdt = Sdt(self.SIGNATURE, self.REVISION, self.oem)
        sdt.append(len(self.distances).to_bytes(8, "little"))
        sdt.append(bytes(distance for row in self.distances for distance in row))
        return sdt

    def to_bytes(self) -> bytes:
        return self.to_sdt().to_bytes()
