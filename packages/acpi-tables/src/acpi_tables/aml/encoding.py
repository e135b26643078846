"""The grammar's building blocks (ACPI 6.5, 20.2): package lengths, names, integers, strings.

Every AML object is something with ``to_aml_bytes()`` (the :class:`Aml`
protocol). Where the grammar takes a TermArg, a plain Python ``int`` (encoded
in the fewest bytes, as iasl does) or ``str`` (a String literal) may stand
in for an object; a name that refers to an object is a :class:`Path`, never
a ``str``, so a string can never be taken for a name by mistake.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from acpi_tables.errors import AcpiError, check_uint

__all__ = [
    "Aml",
    "Term",
    "encode",
    "encode_all",
    "field_length",
    "integer",
    "name_string",
    "pkg_length",
    "string",
    "with_pkg_length",
]

ZERO_OP = 0x00
ONE_OP = 0x01
ONES_OP = 0xFF
BYTE_PREFIX = 0x0A
WORD_PREFIX = 0x0B
DWORD_PREFIX = 0x0C
STRING_PREFIX = 0x0D
QWORD_PREFIX = 0x0E
DUAL_NAME_PREFIX = 0x2E
MULTI_NAME_PREFIX = 0x2F
ROOT_CHAR = "\\"
PARENT_PREFIX_CHAR = "^"
NULL_NAME = b"\x00"

ONES_VALUE = (1 << 64) - 1
_PKG_LENGTH_LIMIT = 1 << 28
_LEAD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _LEAD_CHARS | frozenset("0123456789")


@runtime_checkable
class Aml(Protocol):
    """An AML object: it knows its own encoding."""

    def to_aml_bytes(self) -> bytes: ...


Term = Aml | int | str
"""A TermArg: an AML object, an integer (fewest bytes) or a string literal."""


def _pkg_length_bytes(value: int, extra: int) -> bytes:
    if extra == 0:
        return bytes([value])
    lead = (extra << 6) | (value & 0x0F)
    return bytes([lead]) + (value >> 4).to_bytes(extra, "little")


def pkg_length(body_length: int) -> bytes:
    """The PkgLength in front of a body of `body_length` bytes (it counts its own bytes).

    One byte up to 63 in all, then a lead byte whose top two bits say how many
    bytes follow: the lead holds the low 4 bits, the rest follow little-endian.
    """
    for extra in range(4):
        total = body_length + 1 + extra
        if total < (0x40 if extra == 0 else 1 << (4 + 8 * extra)):
            return _pkg_length_bytes(total, extra)
    raise AcpiError("package length", body_length, f"a body must be under {_PKG_LENGTH_LIMIT}")


def field_length(bits: int) -> bytes:
    """A field element's width in bits, in the PkgLength encoding (not counting itself)."""
    check_uint("field width", bits, 28)
    for extra in range(4):
        if bits < (0x40 if extra == 0 else 1 << (4 + 8 * extra)):
            return _pkg_length_bytes(bits, extra)
    raise AssertionError("unreachable: checked to 28 bits")


def with_pkg_length(opcode: bytes, body: bytes) -> bytes:
    """`opcode PkgLength body`: the shape of every object that contains others."""
    return opcode + pkg_length(len(body)) + body


def name_seg(segment: str) -> bytes:
    """One 4-character NameSeg; a shorter one is padded with ``_`` as iasl does."""
    if (
        not 1 <= len(segment) <= 4
        or segment[0] not in _LEAD_CHARS
        or not set(segment) <= _NAME_CHARS
    ):
        raise AcpiError(
            "name segment",
            segment,
            "must be 1 to 4 of A-Z, 0-9 and _ (upper case), not starting with a digit",
        )
    return segment.ljust(4, "_").encode("ascii")


def name_string(path: str) -> bytes:
    """A NameString: ``\\`` (root) or ``^``s (parents), then segments joined by dots.

    ``"_SB_.PCI0"`` is relative to the current scope, ``"\\_SB_.PCI0"``
    absolute, ``"^CPUS"`` in the parent scope; ``""`` is the NullName.
    """
    prefix = ""
    rest = path
    if rest.startswith(ROOT_CHAR):
        prefix, rest = ROOT_CHAR, rest[1:]
    else:
        while rest.startswith(PARENT_PREFIX_CHAR):
            prefix, rest = prefix + PARENT_PREFIX_CHAR, rest[1:]
    encoded_prefix = prefix.encode("ascii")
    if not rest:
        if prefix.startswith(PARENT_PREFIX_CHAR):
            raise AcpiError("name", path, "a parent prefix needs a name after it")
        return encoded_prefix + NULL_NAME
    segments = [name_seg(segment) for segment in rest.split(".")]
    if len(segments) == 1:
        return encoded_prefix + segments[0]
    if len(segments) == 2:
        return encoded_prefix + bytes([DUAL_NAME_PREFIX]) + b"".join(segments)
    if len(segments) > 255:
        raise AcpiError("name", path, "more than 255 segments")
    return encoded_prefix + bytes([MULTI_NAME_PREFIX, len(segments)]) + b"".join(segments)


def integer(value: int) -> bytes:
    """An integer in the fewest bytes: Zero, One, Ones, or a Byte/Word/DWord/QWord constant."""
    check_uint("integer", value, 64)
    if value == 0:
        return bytes([ZERO_OP])
    if value == 1:
        return bytes([ONE_OP])
    if value == ONES_VALUE:
        return bytes([ONES_OP])
    if value <= 0xFF:
        return bytes([BYTE_PREFIX, value])
    if value <= 0xFFFF:
        return bytes([WORD_PREFIX]) + value.to_bytes(2, "little")
    if value <= 0xFFFF_FFFF:
        return bytes([DWORD_PREFIX]) + value.to_bytes(4, "little")
    return bytes([QWORD_PREFIX]) + value.to_bytes(8, "little")


def string(value: str) -> bytes:
    """A String literal: ASCII without NUL, then a NUL."""
    if not value.isascii() or "\x00" in value:
        raise AcpiError("string", value, "an AML string is ASCII without NUL characters")
    return bytes([STRING_PREFIX]) + value.encode("ascii") + b"\x00"


def encode(term: Term) -> bytes:
    """The encoding of one TermArg: an object's own, an int's fewest bytes, a str's String."""
    if isinstance(term, bool):
        raise AcpiError("term", term, "use 1/0 (One/Zero) rather than a bool")
    if isinstance(term, int):
        return integer(term)
    if isinstance(term, str):
        return string(term)
    return term.to_aml_bytes()


def encode_all(terms: Iterable[Term]) -> bytes:
    """The terms one after the other: a TermList, a Package's elements, a call's arguments."""
    return b"".join(encode(term) for term in terms)
