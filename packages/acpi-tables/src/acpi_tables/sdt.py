"""System Description Tables (ACPI 6.5, 5.2.6): the common header and a checksummed builder."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

from acpi_tables.errors import AcpiError, check_ascii, check_uint

__all__ = ["Oem", "Sdt", "SdtHeader", "Table", "checksum", "is_checksum_valid"]

_HEADER = struct.Struct("<4sIBB6s8sI4sI")
CHECKSUM_OFFSET = 9


def checksum(data: bytes | bytearray) -> int:
    """The byte that makes the sum of `data` and itself 0 (mod 256)."""
    return -sum(data) & 0xFF


def is_checksum_valid(data: bytes | bytearray) -> bool:
    """Whether the bytes of `data` (its checksum byte included) add up to 0 (mod 256)."""
    return sum(data) & 0xFF == 0


@dataclass(frozen=True)
class Oem:
    """Who made a table: the header's OEM and creator fields.

    `table_id` names the table for the OEM (Cloud Hypervisor uses "CHDSDT",
    "CHFACP"...); None means the table's signature. The OSPM matches
    `oem_id` and `table_id` across tables, so one VM's tables share `oem_id`.
    """

    oem_id: str = "PYVMM"
    table_id: str | None = None
    revision: int = 1
    creator_id: str = "PYAT"
    creator_revision: int = 1

    def __post_init__(self) -> None:
        check_ascii("Oem.oem_id", self.oem_id, 6)
        if self.table_id is not None:
            check_ascii("Oem.table_id", self.table_id, 8)
        check_uint("Oem.revision", self.revision, 32)
        check_ascii("Oem.creator_id", self.creator_id, 4)
        check_uint("Oem.creator_revision", self.creator_revision, 32)


@dataclass(frozen=True)
class SdtHeader:
    """The 36-byte header every SDT starts with."""

    signature: str
    length: int
    revision: int
    checksum: int
    oem_id: str
    oem_table_id: str
    oem_revision: int
    creator_id: str
    creator_revision: int

    SIZE: ClassVar[int] = _HEADER.size

    def __post_init__(self) -> None:
        if len(self.signature) != 4:
            raise AcpiError("signature", self.signature, "a signature is 4 characters")
        check_ascii("signature", self.signature, 4)
        check_uint("length", self.length, 32)
        check_uint("revision", self.revision, 8)
        check_uint("checksum", self.checksum, 8)

    def pack(self) -> bytes:
        return _HEADER.pack(
            self.signature.encode("ascii"),
            self.length,
            self.revision,
            self.checksum,
            check_ascii("oem_id", self.oem_id, 6),
            check_ascii("oem_table_id", self.oem_table_id, 8),
            self.oem_revision,
            check_ascii("creator_id", self.creator_id, 4),
            self.creator_revision,
        )

    @classmethod
    def unpack(cls, table: bytes) -> SdtHeader:
        """The header at the start of `table` (the ids as written, padding included)."""
        if len(table) < cls.SIZE:
            raise AcpiError("table", len(table), f"shorter than a {cls.SIZE}-byte header")
        (
            signature,
            length,
            revision,
            check,
            oem_id,
            table_id,
            oem_revision,
            creator,
            creator_revision,
        ) = _HEADER.unpack_from(table)
        return cls(
            signature=signature.decode("ascii"),
            length=length,
            revision=revision,
            checksum=check,
            oem_id=oem_id.decode("ascii"),
            oem_table_id=table_id.decode("ascii"),
            oem_revision=oem_revision,
            creator_id=creator.decode("ascii"),
            creator_revision=creator_revision,
        )


class Table(Protocol):
    """Anything that serialises to a complete table: what an XSDT points at."""

    def to_bytes(self) -> bytes: ...


class Sdt:
    """A table being built: a header and a body, length and checksum filled in by `to_bytes`.

    Offsets given to `write` are from the start of the table, as the
    specification's field tables count them (the body starts at 36).
    """

    def __init__(self, signature: str, revision: int, oem: Oem | None = None) -> None:
        self.oem = Oem() if oem is None else oem
        self._header = SdtHeader(
            signature=signature,
            length=SdtHeader.SIZE,
            revision=revision,
            checksum=0,
            oem_id=self.oem.oem_id,
            oem_table_id=signature if self.oem.table_id is None else self.oem.table_id,
            oem_revision=self.oem.revision,
            creator_id=self.oem.creator_id,
            creator_revision=self.oem.creator_revision,
        )
        self._body = bytearray()

    @property
    def signature(self) -> str:
        return self._header.signature

    @property
    def revision(self) -> int:
        return self._header.revision

    def __len__(self) -> int:
        return SdtHeader.SIZE + len(self._body)

    def append(self, data: bytes) -> int:
        """Add `data` at the end; returns its offset in the table."""
        offset = len(self)
        self._body += data
        if len(self) >= 1 << 32:
            raise AcpiError(f"{self.signature} length", len(self), "a table is under 4 GiB")
        return offset

    def write(self, offset: int, data: bytes) -> None:
        """Overwrite bytes of the body that are already there."""
        start = offset - SdtHeader.SIZE
        if start < 0 or start + len(data) > len(self._body):
            raise AcpiError(
                f"{self.signature} offset",
                offset,
                f"{len(data)} bytes there are not in the body [36, {len(self)})",
            )
        self._body[start : start + len(data)] = data

    def to_bytes(self) -> bytes:
        """The whole table: header with its length and checksum, then the body."""
        table = bytearray(replace(self._header, length=len(self)).pack() + self._body)
        table[CHECKSUM_OFFSET] = checksum(table)
        return bytes(table)
