"""The Root System Description Pointer (ACPI 6.5, 5.2.5.3): where the guest starts looking."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from acpi_tables.errors import check_ascii, check_uint
from acpi_tables.sdt import checksum

__all__ = ["Rsdp"]

_RSDP = struct.Struct("<8sB6sBIIQB3x")
_V1_LENGTH = 20  # the part the first checksum covers
_EXTENDED_CHECKSUM_OFFSET = 32


@dataclass(frozen=True)
class Rsdp:
    """A revision 2 RSDP: 36 bytes pointing at the XSDT (and, optionally, an RSDT).

    Both checksums are filled in: the first over the ACPI 1.0 part (20
    bytes), the extended one over all 36. The guest finds it through the boot
    protocol (PVH's ``rsdp_paddr``) or by scanning the EBDA and 0xE0000-0xFFFFF
    on 16-byte boundaries.
    """

    xsdt_address: int
    oem_id: str = "PYVMM"
    rsdt_address: int = 0

    SIGNATURE: ClassVar[bytes] = b"RSD PTR "
    SIZE: ClassVar[int] = _RSDP.size
    REVISION: ClassVar[int] = 2

    def __post_init__(self) -> None:
        check_uint("Rsdp.xsdt_address", self.xsdt_address, 64)
        check_uint("Rsdp.rsdt_address", self.rsdt_address, 32)
        check_ascii("Rsdp.oem_id", self.oem_id, 6)

    def to_bytes(self) -> bytes:
        table = bytearray(
            _RSDP.pack(
                self.SIGNATURE,
                0,
                check_ascii("Rsdp.oem_id", self.oem_id, 6),
                self.REVISION,
                self.rsdt_address,
                self.SIZE,
                self.xsdt_address,
                0,
            )
        )
        table[8] = checksum(table[:_V1_LENGTH])
        table[_EXTENDED_CHECKSUM_OFFSET] = checksum(table)
        return bytes(table)
