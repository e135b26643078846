"""The Generic Address Structure (ACPI 6.5, 5.2.3.2): where a fixed register lives."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar

from acpi_tables.errors import AcpiError, check_uint

__all__ = ["AccessSize", "AddressSpaceId", "GenericAddress"]

_GAS = struct.Struct("<BBBBQ")


class AddressSpaceId(enum.IntEnum):
    """The address space a register is in."""

    SYSTEM_MEMORY = 0x00
    SYSTEM_IO = 0x01
    PCI_CONFIG = 0x02
    EMBEDDED_CONTROLLER = 0x03
    SMBUS = 0x04
    SYSTEM_CMOS = 0x05
    PCI_BAR_TARGET = 0x06
    IPMI = 0x07
    GENERAL_PURPOSE_IO = 0x08
    GENERIC_SERIAL_BUS = 0x09
    PCC = 0x0A
    FUNCTIONAL_FIXED_HARDWARE = 0x7F


class AccessSize(enum.IntEnum):
    """The width of each access to the register."""

    UNDEFINED = 0
    BYTE = 1
    WORD = 2
    DWORD = 3
    QWORD = 4

    @classmethod
    def for_bits(cls, bits: int) -> AccessSize:
        """The access of exactly `bits` bits (8, 16, 32 or 64)."""
        sizes = {8: cls.BYTE, 16: cls.WORD, 32: cls.DWORD, 64: cls.QWORD}
        if bits not in sizes:
            raise AcpiError("register bit width", bits, "an access is 8, 16, 32 or 64 bits")
        return sizes[bits]


@dataclass(frozen=True)
class GenericAddress:
    """A register: address space, width and offset in bits, access size, address.

    The all-zero structure (``GenericAddress.NONE``) means "no register".
    """

    space: AddressSpaceId
    bit_width: int
    bit_offset: int
    access_size: AccessSize
    address: int

    SIZE: ClassVar[int] = _GAS.size
    NONE: ClassVar[GenericAddress]

    def __post_init__(self) -> None:
        check_uint("GenericAddress.bit_width", self.bit_width, 8)
        check_uint("GenericAddress.bit_offset", self.bit_offset, 8)
        check_uint("GenericAddress.address", self.address, 64)
        AddressSpaceId(self.space)
        AccessSize(self.access_size)

    @classmethod
    def io_port(cls, port: int, bit_width: int = 8) -> GenericAddress:
        """A register of `bit_width` bits at an I/O port, accessed whole."""
        check_uint("I/O port", port, 16)
        return cls(AddressSpaceId.SYSTEM_IO, bit_width, 0, AccessSize.for_bits(bit_width), port)

    @classmethod
    def mmio(cls, address: int, bit_width: int = 8) -> GenericAddress:
        """A register of `bit_width` bits in system memory, accessed whole."""
        return cls(
            AddressSpaceId.SYSTEM_MEMORY, bit_width, 0, AccessSize.for_bits(bit_width), address
        )

    def to_bytes(self) -> bytes:
        return _GAS.pack(
            self.space, self.bit_width, self.bit_offset, self.access_size, self.address
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> GenericAddress:
        space, width, offset, access, address = _GAS.unpack_from(data)
        return cls(AddressSpaceId(space), width, offset, AccessSize(access), address)


GenericAddress.NONE = GenericAddress(AddressSpaceId.SYSTEM_MEMORY, 0, 0, AccessSize.UNDEFINED, 0)
