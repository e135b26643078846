"""Data objects (ACPI 6.5, 20.2.3 and 20.2.6): constants, names, locals, args, buffers, packages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from acpi_tables.aml.encoding import (
    BYTE_PREFIX,
    DWORD_PREFIX,
    ONE_OP,
    ONES_OP,
    QWORD_PREFIX,
    WORD_PREFIX,
    ZERO_OP,
    Term,
    encode,
    encode_all,
    integer,
    name_string,
    string,
    with_pkg_length,
)
from acpi_tables.errors import AcpiError, check_uint

__all__ = [
    "ONE",
    "ONES",
    "ZERO",
    "Arg",
    "Buffer",
    "Byte",
    "DWord",
    "EisaId",
    "Local",
    "One",
    "Ones",
    "Package",
    "Path",
    "QWord",
    "RawAml",
    "String",
    "Word",
    "Zero",
]

BUFFER_OP = 0x11
PACKAGE_OP = 0x12
VAR_PACKAGE_OP = 0x13
LOCAL0_OP = 0x60
ARG0_OP = 0x68


@dataclass(frozen=True)
class Zero:
    """The constant 0 (ZeroOp)."""

    def to_aml_bytes(self) -> bytes:
        return bytes([ZERO_OP])


@dataclass(frozen=True)
class One:
    """The constant 1 (OneOp)."""

    def to_aml_bytes(self) -> bytes:
        return bytes([ONE_OP])


@dataclass(frozen=True)
class Ones:
    """All bits set (OnesOp): 2^64 - 1, or 2^32 - 1 in a revision 1 definition block."""

    def to_aml_bytes(self) -> bytes:
        return bytes([ONES_OP])


ZERO = Zero()
ONE = One()
ONES = Ones()


@dataclass(frozen=True)
class _FixedInteger:
    """An integer constant in exactly its own width, where a field's size must not shrink."""

    value: int
    prefix: ClassVar[int]
    width: ClassVar[int]

    def __post_init__(self) -> None:
        check_uint(type(self).__name__, self.value, 8 * self.width)

    def to_aml_bytes(self) -> bytes:
        return bytes([self.prefix]) + self.value.to_bytes(self.width, "little")


@dataclass(frozen=True)
class Byte(_FixedInteger):
    """A ByteConst: ``0x0A`` and one byte."""

    prefix = BYTE_PREFIX
    width = 1


@dataclass(frozen=True)
class Word(_FixedInteger):
    """A WordConst: ``0x0B`` and two bytes."""

    prefix = WORD_PREFIX
    width = 2


@dataclass(frozen=True)
class DWord(_FixedInteger):
    """A DWordConst: ``0x0C`` and four bytes."""

    prefix = DWORD_PREFIX
    width = 4


@dataclass(frozen=True)
class QWord(_FixedInteger):
    """A QWordConst: ``0x0E`` and eight bytes (a qword that a method patches in place)."""

    prefix = QWORD_PREFIX
    width = 8


@dataclass(frozen=True)
class String:
    """A String literal (what a bare ``str`` term is)."""

    value: str

    def __post_init__(self) -> None:
        string(self.value)

    def to_aml_bytes(self) -> bytes:
        return string(self.value)


@dataclass(frozen=True)
class Path:
    """A reference to a named object: ``Path("\\_SB_.PCI0")``, ``Path("GDAT")``.

    Also a method call without arguments, as in ASL: the interpreter knows
    from the namespace what the name is.
    """

    name: str

    def __post_init__(self) -> None:
        name_string(self.name)

    def to_aml_bytes(self) -> bytes:
        return name_string(self.name)


@dataclass(frozen=True)
class Local:
    """A method's local variable, Local0 to Local7."""

    index: int

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or self.index not in range(8):
            raise AcpiError("Local", self.index, "locals are Local0 to Local7")

    def to_aml_bytes(self) -> bytes:
        return bytes([LOCAL0_OP + self.index])


@dataclass(frozen=True)
class Arg:
    """A method's argument, Arg0 to Arg6."""

    index: int

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or self.index not in range(7):
            raise AcpiError("Arg", self.index, "arguments are Arg0 to Arg6")

    def to_aml_bytes(self) -> bytes:
        return bytes([ARG0_OP + self.index])


@dataclass(frozen=True)
class Buffer:
    """A Buffer initialised with `data`; its size is ``len(data)`` unless `size` is larger."""

    data: bytes
    size: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None and check_uint("Buffer.size", self.size, 32) < len(self.data):
            raise AcpiError("Buffer.size", self.size, f"smaller than its {len(self.data)} bytes")

    def to_aml_bytes(self) -> bytes:
        size = len(self.data) if self.size is None else self.size
        return with_pkg_length(bytes([BUFFER_OP]), integer(size) + bytes(self.data))


@dataclass(frozen=True)
class Package:
    """A Package of integers, strings, buffers, packages and references (:class:`Path`).

    Up to 255 elements it is a Package; beyond, a VarPackage, as iasl writes it.
    """

    elements: Sequence[Term]

    def to_aml_bytes(self) -> bytes:
        body = encode_all(self.elements)
        count = len(self.elements)
        if count <= 0xFF:
            return with_pkg_length(bytes([PACKAGE_OP]), bytes([count]) + body)
        return with_pkg_length(bytes([VAR_PACKAGE_OP]), encode(count) + body)


@dataclass(frozen=True)
class EisaId:
    """A compressed EISA id, ``EisaId("PNP0A03")``: three letters and four hex digits.

    Encoded as a DWordConst (as iasl's EISAID() is) whose bytes read, in memory,
    the 5-bit letters and the product number big-endian.
    """

    id: str

    def __post_init__(self) -> None:
        letters, digits = self.id[:3], self.id[3:]
        if (
            len(self.id) != 7
            or not all("A" <= c <= "Z" for c in letters)
            or not all(c in "0123456789ABCDEF" for c in digits)
        ):
            raise AcpiError("EisaId", self.id, "must be 3 upper-case letters and 4 hex digits")

    @property
    def value(self) -> int:
        """The id as the integer a guest reads from _HID."""
        compressed = 0
        for letter in self.id[:3]:
            compressed = (compressed << 5) | (ord(letter) - ord("@"))
        big_endian = (compressed << 16) | int(self.id[3:], 16)
        return int.from_bytes(big_endian.to_bytes(4, "big"), "little")

    def to_aml_bytes(self) -> bytes:
        return DWord(self.value).to_aml_bytes()


@dataclass(frozen=True)
class RawAml:
    """Bytes that are already AML (an object a device encoded itself), included as they are."""

    data: bytes

    def to_aml_bytes(self) -> bytes:
        return bytes(self.data)
