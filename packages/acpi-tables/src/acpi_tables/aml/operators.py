"""Expressions (ACPI 6.5, 20.2.5.4): Store, arithmetic, bitwise, logical and object operators.

Operands are in ASL's order: ``Store(source, target)``, ``Add(left, right,
target)``. A target is where a result goes (a :class:`Local`, :class:`Arg`,
:class:`Path`, an :class:`Index`); without one the result is only the
expression's value (the NullName target), as in ASL+ ``Local0 + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from acpi_tables.aml.encoding import NULL_NAME, Aml, Term, encode

__all__ = [
    "Add",
    "And",
    "Decrement",
    "DerefOf",
    "Divide",
    "Increment",
    "Index",
    "LAnd",
    "LEqual",
    "LGreater",
    "LGreaterEqual",
    "LLess",
    "LLessEqual",
    "LNot",
    "LNotEqual",
    "LOr",
    "Mod",
    "Multiply",
    "Nand",
    "Nor",
    "Not",
    "Or",
    "ShiftLeft",
    "ShiftRight",
    "SizeOf",
    "Store",
    "Subtract",
    "Xor",
]

STORE_OP = 0x70
INCREMENT_OP = 0x75
DECREMENT_OP = 0x76
DIVIDE_OP = 0x78
NOT_OP = 0x80
DEREF_OF_OP = 0x83
SIZE_OF_OP = 0x87
INDEX_OP = 0x88
LNOT_OP = 0x92


def _target(target: Aml | None) -> bytes:
    return NULL_NAME if target is None else target.to_aml_bytes()


@dataclass(frozen=True)
class Store:
    """``Store(source, target)``: ``target = source``."""

    source: Term
    target: Aml

    def to_aml_bytes(self) -> bytes:
        return bytes([STORE_OP]) + encode(self.source) + self.target.to_aml_bytes()


@dataclass(frozen=True)
class _Binary:
    """``Op(left, right, target)``: the arithmetic and bitwise operators."""

    left: Term
    right: Term
    target: Aml | None = None
    opcode: ClassVar[int]

    def to_aml_bytes(self) -> bytes:
        return bytes([self.opcode]) + encode(self.left) + encode(self.right) + _target(self.target)


@dataclass(frozen=True)
class Add(_Binary):
    """``left + right``."""

    opcode = 0x72


@dataclass(frozen=True)
class Subtract(_Binary):
    """``left - right``."""

    opcode = 0x74


@dataclass(frozen=True)
class Multiply(_Binary):
    """``left * right``."""

    opcode = 0x77


@dataclass(frozen=True)
class ShiftLeft(_Binary):
    """``left << right``."""

    opcode = 0x79


@dataclass(frozen=True)
class ShiftRight(_Binary):
    """``left >> right``."""

    opcode = 0x7A


@dataclass(frozen=True)
class And(_Binary):
    """``left & right``."""

    opcode = 0x7B


@dataclass(frozen=True)
class Nand(_Binary):
    """``~(left & right)``."""

    opcode = 0x7C


@dataclass(frozen=True)
class Or(_Binary):
    """``left | right``."""

    opcode = 0x7D


@dataclass(frozen=True)
class Nor(_Binary):
    """``~(left | right)``."""

    opcode = 0x7E


@dataclass(frozen=True)
class Xor(_Binary):
    """``left ^ right``."""

    opcode = 0x7F


@dataclass(frozen=True)
class Mod(_Binary):
    """``left % right``."""

    opcode = 0x85


@dataclass(frozen=True)
class Divide:
    """``Divide(dividend, divisor, remainder, quotient)``."""

    dividend: Term
    divisor: Term
    remainder: Aml | None = None
    quotient: Aml | None = None

    def to_aml_bytes(self) -> bytes:
        return (
            bytes([DIVIDE_OP])
            + encode(self.dividend)
            + encode(self.divisor)
            + _target(self.remainder)
            + _target(self.quotient)
        )


@dataclass(frozen=True)
class Not:
    """``Not(operand, target)``: ``~operand``."""

    operand: Term
    target: Aml | None = None

    def to_aml_bytes(self) -> bytes:
        return bytes([NOT_OP]) + encode(self.operand) + _target(self.target)


@dataclass(frozen=True)
class Increment:
    """``Increment(target)``: ``target++``."""

    target: Aml

    def to_aml_bytes(self) -> bytes:
        return bytes([INCREMENT_OP]) + self.target.to_aml_bytes()


@dataclass(frozen=True)
class Decrement:
    """``Decrement(target)``: ``target--``."""

    target: Aml

    def to_aml_bytes(self) -> bytes:
        return bytes([DECREMENT_OP]) + self.target.to_aml_bytes()


@dataclass(frozen=True)
class _Logical:
    """``Op(left, right)``: a comparison or a logical connective, One or Zero."""

    left: Term
    right: Term
    opcodes: ClassVar[bytes]

    def to_aml_bytes(self) -> bytes:
        return self.opcodes + encode(self.left) + encode(self.right)


@dataclass(frozen=True)
class LAnd(_Logical):
    """``left && right``."""

    opcodes = bytes([0x90])


@dataclass(frozen=True)
class LOr(_Logical):
    """``left || right``."""

    opcodes = bytes([0x91])


@dataclass(frozen=True)
class LEqual(_Logical):
    """``left == right``."""

    opcodes = bytes([0x93])


@dataclass(frozen=True)
class LGreater(_Logical):
    """``left > right``."""

    opcodes = bytes([0x94])


@dataclass(frozen=True)
class LLess(_Logical):
    """``left < right``."""

    opcodes = bytes([0x95])


@dataclass(frozen=True)
class LNotEqual(_Logical):
    """``left != right``: LNot(LEqual), as the grammar spells it."""

    opcodes = bytes([LNOT_OP, 0x93])


@dataclass(frozen=True)
class LLessEqual(_Logical):
    """``left <= right``: LNot(LGreater)."""

    opcodes = bytes([LNOT_OP, 0x94])


@dataclass(frozen=True)
class LGreaterEqual(_Logical):
    """``left >= right``: LNot(LLess)."""

    opcodes = bytes([LNOT_OP, 0x95])


@dataclass(frozen=True)
class LNot:
    """``!operand``."""

    operand: Term

    def to_aml_bytes(self) -> bytes:
        return bytes([LNOT_OP]) + encode(self.operand)


@dataclass(frozen=True)
class SizeOf:
    """``SizeOf(object)``: a buffer's or string's bytes, a package's elements."""

    object: Aml

    def to_aml_bytes(self) -> bytes:
        return bytes([SIZE_OF_OP]) + self.object.to_aml_bytes()


@dataclass(frozen=True)
class Index:
    """``Index(source, index, target)``: a reference to one element of a package or buffer."""

    source: Term
    index: Term
    target: Aml | None = None

    def to_aml_bytes(self) -> bytes:
        return bytes([INDEX_OP]) + encode(self.source) + encode(self.index) + _target(self.target)


@dataclass(frozen=True)
class DerefOf:
    """``DerefOf(reference)``: the value an :class:`Index` refers to."""

    reference: Term

    def to_aml_bytes(self) -> bytes:
        return bytes([DEREF_OF_OP]) + encode(self.reference)
