"""Statements (ACPI 6.5, 20.2.5.3): If/Else, While, Return, Notify, Acquire/Release, calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from acpi_tables.aml.encoding import (
    Aml,
    Term,
    encode,
    encode_all,
    name_string,
    with_pkg_length,
)
from acpi_tables.errors import check_uint

__all__ = [
    "Acquire",
    "Break",
    "If",
    "MethodCall",
    "Notify",
    "Release",
    "Return",
    "Sleep",
    "Stall",
    "While",
]

IF_OP = 0xA0
ELSE_OP = 0xA1
WHILE_OP = 0xA2
RETURN_OP = 0xA4
BREAK_OP = 0xA5
NOTIFY_OP = 0x86
EXT_OP_PREFIX = 0x5B
STALL_OP = 0x21
SLEEP_OP = 0x22
ACQUIRE_OP = 0x23
RELEASE_OP = 0x27


@dataclass(frozen=True)
class If:
    """``If(predicate) {body} Else {else_body}``; an ElseIf is an If alone in `else_body`.

    The Else, when there is one, is encoded right after the If, as the
    grammar requires, so the two cannot be separated.
    """

    predicate: Term
    body: Sequence[Aml]
    else_body: Sequence[Aml] = ()

    def to_aml_bytes(self) -> bytes:
        encoded = with_pkg_length(bytes([IF_OP]), encode(self.predicate) + encode_all(self.body))
        if self.else_body:
            encoded += with_pkg_length(bytes([ELSE_OP]), encode_all(self.else_body))
        return encoded


@dataclass(frozen=True)
class While:
    """``While(predicate) {body}``."""

    predicate: Term
    body: Sequence[Aml]

    def to_aml_bytes(self) -> bytes:
        return with_pkg_length(bytes([WHILE_OP]), encode(self.predicate) + encode_all(self.body))


@dataclass(frozen=True)
class Break:
    """``Break``: leave the innermost While."""

    def to_aml_bytes(self) -> bytes:
        return bytes([BREAK_OP])


@dataclass(frozen=True)
class Return:
    """``Return(value)``."""

    value: Term

    def to_aml_bytes(self) -> bytes:
        return bytes([RETURN_OP]) + encode(self.value)


@dataclass(frozen=True)
class Notify:
    """``Notify(target, value)``: tell the OS about a device (0x80 on a power button: pressed;
    0x00 bus check, 0x01 device check, 0x03 eject request on a hot-plug slot)."""

    target: Aml
    value: Term

    def to_aml_bytes(self) -> bytes:
        return bytes([NOTIFY_OP]) + encode(self.target) + encode(self.value)


@dataclass(frozen=True)
class Acquire:
    """``Acquire(mutex, timeout)`` in milliseconds; 0xFFFF waits for ever."""

    mutex: str
    timeout: int = 0xFFFF

    def __post_init__(self) -> None:
        name_string(self.mutex)
        check_uint("Acquire.timeout", self.timeout, 16)

    def to_aml_bytes(self) -> bytes:
        return (
            bytes([EXT_OP_PREFIX, ACQUIRE_OP])
            + name_string(self.mutex)
            + self.timeout.to_bytes(2, "little")
        )


@dataclass(frozen=True)
class Release:
    """``Release(mutex)``."""

    mutex: str

    def __post_init__(self) -> None:
        name_string(self.mutex)

    def to_aml_bytes(self) -> bytes:
        return bytes([EXT_OP_PREFIX, RELEASE_OP]) + name_string(self.mutex)


@dataclass(frozen=True)
class Sleep:
    """``Sleep(milliseconds)``: yield the CPU."""

    milliseconds: Term

    def to_aml_bytes(self) -> bytes:
        return bytes([EXT_OP_PREFIX, SLEEP_OP]) + encode(self.milliseconds)


@dataclass(frozen=True)
class Stall:
    """``Stall(microseconds)``: busy-wait."""

    microseconds: Term

    def to_aml_bytes(self) -> bytes:
        return bytes([EXT_OP_PREFIX, STALL_OP]) + encode(self.microseconds)


@dataclass(frozen=True, init=False)
class MethodCall:
    """A call, ``MethodCall("\\_SB_.CPUS.CSCN")`` or ``MethodCall("CSTA", Local(0))``.

    The encoding is the name and the arguments: the interpreter takes the
    argument count from the method's definition, so it must match it.
    """

    name: str
    args: tuple[Term, ...]

    def __init__(self, name: str, *args: Term) -> None:
        name_string(name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", args)

    def to_aml_bytes(self) -> bytes:
        return name_string(self.name) + encode_all(self.args)
