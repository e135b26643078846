"""Objects that create names (ACPI 6.5, 20.2.5.1-2): Name, Scope, Device, Method, Mutex,
operation regions and their fields, buffer fields."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from acpi_tables.aml.encoding import (
    Aml,
    Term,
    encode,
    encode_all,
    field_length,
    name_seg,
    name_string,
    with_pkg_length,
)
from acpi_tables.errors import AcpiError, check_uint

__all__ = [
    "AccessAs",
    "CreateBitField",
    "CreateByteField",
    "CreateDWordField",
    "CreateQWordField",
    "CreateWordField",
    "Device",
    "Field",
    "FieldAccess",
    "FieldElement",
    "FieldLock",
    "FieldUpdate",
    "Method",
    "Mutex",
    "Name",
    "NamedField",
    "Offset",
    "OperationRegion",
    "RegionSpace",
    "ReservedField",
    "Scope",
]

NAME_OP = 0x08
SCOPE_OP = 0x10
METHOD_OP = 0x14
EXT_OP_PREFIX = 0x5B
MUTEX_OP = 0x01
OP_REGION_OP = 0x80
FIELD_OP = 0x81
DEVICE_OP = 0x82
RESERVED_FIELD = 0x00
ACCESS_FIELD = 0x01


@dataclass(frozen=True)
class Name:
    """``Name(name, value)``: a named data object (an integer, string, buffer, package...)."""

    name: str
    value: Term

    def __post_init__(self) -> None:
        name_string(self.name)

    def to_aml_bytes(self) -> bytes:
        return bytes([NAME_OP]) + name_string(self.name) + encode(self.value)


@dataclass(frozen=True)
class Scope:
    """``Scope(name) {body}``: adds the body's objects to an existing scope (``\\_SB_``)."""

    name: str
    body: Sequence[Aml]

    def __post_init__(self) -> None:
        name_string(self.name)

    def to_aml_bytes(self) -> bytes:
        return with_pkg_length(bytes([SCOPE_OP]), name_string(self.name) + encode_all(self.body))


@dataclass(frozen=True)
class Device:
    """``Device(name) {body}``: a device, its _HID/_UID/_CRS names and its methods."""

    name: str
    body: Sequence[Aml]

    def __post_init__(self) -> None:
        name_string(self.name)

    def to_aml_bytes(self) -> bytes:
        return with_pkg_length(
            bytes([EXT_OP_PREFIX, DEVICE_OP]), name_string(self.name) + encode_all(self.body)
        )


@dataclass(frozen=True)
class Method:
    """``Method(name, args, Serialized/NotSerialized, sync_level) {body}``.

    A serialized method runs one caller at a time (its own implicit mutex),
    which is what a method reading a device's registers in several steps needs.
    """

    name: str
    body: Sequence[Aml]
    args: int = 0
    serialized: bool = False
    sync_level: int = 0

    def __post_init__(self) -> None:
        name_string(self.name)
        if isinstance(self.args, bool) or self.args not in range(8):
            raise AcpiError("Method.args", self.args, "a method takes 0 to 7 arguments")
        check_uint("Method.sync_level", self.sync_level, 4)

    def to_aml_bytes(self) -> bytes:
        flags = self.args | (int(self.serialized) << 3) | (self.sync_level << 4)
        body = name_string(self.name) + bytes([flags]) + encode_all(self.body)
        return with_pkg_length(bytes([METHOD_OP]), body)


@dataclass(frozen=True)
class Mutex:
    """``Mutex(name, sync_level)``: for :class:`Acquire`/:class:`Release` around register
    sequences that several methods share."""

    name: str
    sync_level: int = 0

    def __post_init__(self) -> None:
        name_string(self.name)
        check_uint("Mutex.sync_level", self.sync_level, 4)

    def to_aml_bytes(self) -> bytes:
        return bytes([EXT_OP_PREFIX, MUTEX_OP]) + name_string(self.name) + bytes([self.sync_level])


class RegionSpace(enum.IntEnum):
    """An operation region's address space (RegionSpace)."""

    SYSTEM_MEMORY = 0x00
    SYSTEM_IO = 0x01
    PCI_CONFIG = 0x02
    EMBEDDED_CONTROL = 0x03
    SMBUS = 0x04
    SYSTEM_CMOS = 0x05
    PCI_BAR_TARGET = 0x06
    IPMI = 0x07
    GENERAL_PURPOSE_IO = 0x08
    GENERIC_SERIAL_BUS = 0x09
    PCC = 0x0A


@dataclass(frozen=True)
class OperationRegion:
    """``OperationRegion(name, space, offset, length)``: device registers the AML reads
    and writes through a :class:`Field`."""

    name: str
    space: RegionSpace
    offset: Term
    length: Term

    def __post_init__(self) -> None:
        name_string(self.name)

    def to_aml_bytes(self) -> bytes:
        return (
            bytes([EXT_OP_PREFIX, OP_REGION_OP])
            + name_string(self.name)
            + bytes([RegionSpace(self.space)])
            + encode(self.offset)
            + encode(self.length)
        )


class FieldAccess(enum.IntEnum):
    """How the interpreter accesses the region for a field (AccessType)."""

    ANY = 0
    BYTE = 1
    WORD = 2
    DWORD = 3
    QWORD = 4
    BUFFER = 5


class FieldLock(enum.IntEnum):
    """Whether the global lock is taken around accesses (LockRule)."""

    NO_LOCK = 0
    LOCK = 1


class FieldUpdate(enum.IntEnum):
    """What the bits of an access that are not the field's become on a write (UpdateRule)."""

    PRESERVE = 0
    WRITE_AS_ONES = 1
    WRITE_AS_ZEROS = 2


@dataclass(frozen=True)
class NamedField:
    """A field unit: `bits` bits named `name`, at the current position."""

    name: str
    bits: int

    def __post_init__(self) -> None:
        name_seg(self.name)
        check_uint("NamedField.bits", self.bits, 28)


@dataclass(frozen=True)
class ReservedField:
    """`bits` unnamed bits (ASL's ``, bits`` entry)."""

    bits: int

    def __post_init__(self) -> None:
        check_uint("ReservedField.bits", self.bits, 28)


@dataclass(frozen=True)
class Offset:
    """``Offset(byte)``: skip to a byte offset in the region (encoded as reserved bits)."""

    byte: int

    def __post_init__(self) -> None:
        check_uint("Offset.byte", self.byte, 25)


@dataclass(frozen=True)
class AccessAs:
    """``AccessAs(access, attributes)``: change the access type for the fields after it."""

    access: FieldAccess
    attributes: int = 0

    def __post_init__(self) -> None:
        check_uint("AccessAs.attributes", self.attributes, 8)


FieldElement = NamedField | ReservedField | Offset | AccessAs


@dataclass(frozen=True)
class Field:
    """``Field(region, access, lock, update) {elements}``: named bit ranges of a region."""

    region: str
    access: FieldAccess
    elements: Sequence[FieldElement]
    lock: FieldLock = FieldLock.NO_LOCK
    update: FieldUpdate = FieldUpdate.PRESERVE

    def __post_init__(self) -> None:
        name_string(self.region)
        self._element_bytes()  # an Offset that goes backwards fails here, not at encoding

    def _element_bytes(self) -> bytes:
        out = bytearray()
        position = 0  # in bits
        for element in self.elements:
            match element:
                case NamedField(name=name, bits=bits):
                    out += name_seg(name) + field_length(bits)
                    position += bits
                case ReservedField(bits=bits):
                    out += bytes([RESERVED_FIELD]) + field_length(bits)
                    position += bits
                case Offset(byte=byte):
                    if byte * 8 < position:
                        raise AcpiError("Offset", byte, f"behind the current bit {position}")
                    if byte * 8 > position:
                        out += bytes([RESERVED_FIELD]) + field_length(byte * 8 - position)
                        position = byte * 8
                case AccessAs(access=access, attributes=attributes):
                    out += bytes([ACCESS_FIELD, FieldAccess(access), attributes])
        return bytes(out)

    def to_aml_bytes(self) -> bytes:
        flags = FieldAccess(self.access) | (FieldLock(self.lock) << 4)
        flags |= FieldUpdate(self.update) << 5
        body = name_string(self.region) + bytes([flags]) + self._element_bytes()
        return with_pkg_length(bytes([EXT_OP_PREFIX, FIELD_OP]), body)


@dataclass(frozen=True)
class _CreateBufferField:
    """``CreateXField(buffer, index, name)``: a name for part of a buffer (a _CRS to patch)."""

    buffer: Term
    index: Term
    name: str
    opcode: ClassVar[int]

    def __post_init__(self) -> None:
        name_string(self.name)

    def to_aml_bytes(self) -> bytes:
        return (
            bytes([self.opcode]) + encode(self.buffer) + encode(self.index) + name_string(self.name)
        )


@dataclass(frozen=True)
class CreateBitField(_CreateBufferField):
    """One bit of a buffer; `index` counts bits."""

    opcode = 0x8D


@dataclass(frozen=True)
class CreateByteField(_CreateBufferField):
    """One byte of a buffer at byte `index`."""

    opcode = 0x8C


@dataclass(frozen=True)
class CreateWordField(_CreateBufferField):
    """Two bytes of a buffer at byte `index`."""

    opcode = 0x8B


@dataclass(frozen=True)
class CreateDWordField(_CreateBufferField):
    """Four bytes of a buffer at byte `index`."""

    opcode = 0x8A


@dataclass(frozen=True)
class CreateQWordField(_CreateBufferField):
    """Eight bytes of a buffer at byte `index`."""

    opcode = 0x8F
