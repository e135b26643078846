"""Resource templates (ACPI 6.5, 6.4): the buffers _CRS returns.

A :class:`ResourceTemplate` is an AML Buffer holding resource descriptors and
an end tag. The descriptors are not AML terms (they only live inside the
template), so they have ``to_descriptor_bytes()`` rather than
``to_aml_bytes()``, and cannot end up in a method body by mistake.

The address space descriptors default to what a VMM's _CRS mostly
describes: a fixed window (minimum and maximum fixed, length their span)
that a bridge produces, positively decoded.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from acpi_tables.aml.data import Buffer
from acpi_tables.errors import AcpiError, check_uint

__all__ = [
    "IO",
    "Cacheability",
    "DWordMemory",
    "Interrupt",
    "IsaRanges",
    "Memory32Fixed",
    "MemoryType",
    "QWordMemory",
    "ResourceDescriptor",
    "ResourceTemplate",
    "WordBusNumber",
    "WordIO",
]

END_TAG = 0x79  # small item 0x0F, one byte long
IO_PORT_TAG = 0x47  # small item 0x08, seven bytes long
MEMORY32_FIXED_TAG = 0x86
DWORD_ADDRESS_TAG = 0x87
WORD_ADDRESS_TAG = 0x88
EXTENDED_INTERRUPT_TAG = 0x89
QWORD_ADDRESS_TAG = 0x8A

MEMORY_RANGE = 0
IO_RANGE = 1
BUS_NUMBER_RANGE = 2


class ResourceDescriptor(Protocol):
    """One resource descriptor of a template."""

    def to_descriptor_bytes(self) -> bytes: ...


def _large(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + len(body).to_bytes(2, "little") + body


@dataclass(frozen=True)
class ResourceTemplate:
    """``ResourceTemplate() {descriptors}``: the descriptors, then an end tag.

    The end tag's checksum is 0 by default, which the specification defines
    as valid and is what iasl writes; ``checksum=True`` stores the real one
    (all the template's bytes then add up to 0).
    """

    descriptors: Sequence[ResourceDescriptor]
    checksum: bool = False

    def descriptor_bytes(self) -> bytes:
        """The buffer's contents: where a CreateDWordField finds a descriptor's field."""
        body = b"".join(d.to_descriptor_bytes() for d in self.descriptors) + bytes([END_TAG])
        return body + bytes([-sum(body) & 0xFF if self.checksum else 0])

    def to_aml_bytes(self) -> bytes:
        return Buffer(self.descriptor_bytes()).to_aml_bytes()


@dataclass(frozen=True)
class Memory32Fixed:
    """``Memory32Fixed(ReadWrite/ReadOnly, base, length)``: a fixed MMIO range."""

    base: int
    length: int
    writeable: bool = True

    def __post_init__(self) -> None:
        check_uint("Memory32Fixed.base", self.base, 32)
        check_uint("Memory32Fixed.length", self.length, 32)
        if self.length and self.base + self.length > 1 << 32:
            raise AcpiError("Memory32Fixed.length", self.length, "the range passes 4 GiB")

    def to_descriptor_bytes(self) -> bytes:
        body = bytes([int(self.writeable)])
        body += self.base.to_bytes(4, "little") + self.length.to_bytes(4, "little")
        return _large(MEMORY32_FIXED_TAG, body)


@dataclass(frozen=True)
class IO:
    """``IO(Decode16/Decode10, minimum, maximum, alignment, length)``: I/O ports."""

    minimum: int
    maximum: int
    alignment: int
    length: int
    decode16: bool = True

    def __post_init__(self) -> None:
        check_uint("IO.minimum", self.minimum, 16)
        check_uint("IO.maximum", self.maximum, 16)
        check_uint("IO.alignment", self.alignment, 8)
        check_uint("IO.length", self.length, 8)
        if self.maximum < self.minimum:
            raise AcpiError("IO.maximum", self.maximum, f"below the minimum {self.minimum:#x}")

    def to_descriptor_bytes(self) -> bytes:
        return (
            bytes([IO_PORT_TAG, int(self.decode16)])
            + self.minimum.to_bytes(2, "little")
            + self.maximum.to_bytes(2, "little")
            + bytes([self.alignment, self.length])
        )


@dataclass(frozen=True)
class Interrupt:
    """``Interrupt(usage, Edge/Level, ActiveHigh/ActiveLow, Shared/Exclusive) {numbers}``.

    An extended interrupt descriptor: global system interrupts (GSIs), level
    triggered and active high unless said otherwise.
    """

    numbers: Sequence[int]
    edge_triggered: bool = False
    active_low: bool = False
    shared: bool = False
    wake_capable: bool = False
    consumer: bool = True

    def __post_init__(self) -> None:
        if not 1 <= len(self.numbers) <= 255:
            raise AcpiError("Interrupt.numbers", self.numbers, "1 to 255 interrupts")
        for number in self.numbers:
            check_uint("Interrupt.numbers", number, 32)

    def to_descriptor_bytes(self) -> bytes:
        flags = (
            int(self.consumer)
            | int(self.edge_triggered) << 1
            | int(self.active_low) << 2
            | int(self.shared) << 3
            | int(self.wake_capable) << 4
        )
        numbers = b"".join(n.to_bytes(4, "little") for n in self.numbers)
        return _large(EXTENDED_INTERRUPT_TAG, bytes([flags, len(self.numbers)]) + numbers)


class Cacheability(enum.IntEnum):
    """A memory range's caching (_MEM)."""

    NOT_CACHEABLE = 0
    CACHEABLE = 1
    WRITE_COMBINING = 2
    PREFETCHABLE = 3


class MemoryType(enum.IntEnum):
    """What a memory range is to the OS (_MTP)."""

    ADDRESS_RANGE_MEMORY = 0
    ADDRESS_RANGE_RESERVED = 1
    ADDRESS_RANGE_ACPI = 2
    ADDRESS_RANGE_NVS = 3


class IsaRanges(enum.IntEnum):
    """Which ports of an I/O range are decoded (_RNG)."""

    NON_ISA_ONLY = 1
    ISA_ONLY = 2
    ENTIRE_RANGE = 3


@dataclass(frozen=True)
class _AddressSpace:
    """The fields every Word/DWord/QWord address space descriptor has."""

    minimum: int
    maximum: int
    length: int | None = None  # None: maximum - minimum + 1
    translation: int = 0
    granularity: int = 0
    consumer: bool = False
    subtractive: bool = False
    min_fixed: bool = True
    max_fixed: bool = True
    tag: ClassVar[int]
    width: ClassVar[int]  # bytes
    resource_type: ClassVar[int]

    def __post_init__(self) -> None:
        kind = type(self).__name__
        bits = 8 * self.width
        for name in ("minimum", "maximum", "translation", "granularity"):
            check_uint(f"{kind}.{name}", getattr(self, name), bits)
        if self.maximum < self.minimum:
            raise AcpiError(f"{kind}.maximum", self.maximum, f"below the minimum {self.minimum:#x}")
        span = self.maximum - self.minimum + 1
        if self.length is not None:
            check_uint(f"{kind}.length", self.length, bits)
            if self.min_fixed and self.max_fixed and self.length != span:
                raise AcpiError(
                    f"{kind}.length", self.length, f"a fixed window's length is its span {span:#x}"
                )
        elif span >> bits:
            raise AcpiError(f"{kind}.maximum", self.maximum, "the span does not fit the length")
        if self.granularity & (self.granularity + 1):
            raise AcpiError(f"{kind}.granularity", self.granularity, "not a power of two less 1")

    def type_flags(self) -> int:
        """The resource type specific flags byte."""
        return 0

    def to_descriptor_bytes(self) -> bytes:
        length = self.maximum - self.minimum + 1 if self.length is None else self.length
        general = (
            int(self.consumer)
            | int(self.subtractive) << 1
            | int(self.min_fixed) << 2
            | int(self.max_fixed) << 3
        )
        values = (self.granularity, self.minimum, self.maximum, self.translation, length)
        body = bytes([self.resource_type, general, self.type_flags()])
        body += b"".join(value.to_bytes(self.width, "little") for value in values)
        return _large(self.tag, body)


@dataclass(frozen=True)
class WordBusNumber(_AddressSpace):
    """``WordBusNumber(...)``: the PCI bus numbers behind a host bridge."""

    tag = WORD_ADDRESS_TAG
    width = 2
    resource_type = BUS_NUMBER_RANGE


@dataclass(frozen=True)
class WordIO(_AddressSpace):
    """``WordIO(...)``: an I/O port window."""

    ranges: IsaRanges = IsaRanges.ENTIRE_RANGE
    tag = WORD_ADDRESS_TAG
    width = 2
    resource_type = IO_RANGE

    def type_flags(self) -> int:
        return int(self.ranges)


@dataclass(frozen=True)
class _MemorySpace(_AddressSpace):
    cacheability: Cacheability = Cacheability.NOT_CACHEABLE
    writeable: bool = True
    memory_type: MemoryType = MemoryType.ADDRESS_RANGE_MEMORY
    resource_type = MEMORY_RANGE

    def type_flags(self) -> int:
        return int(self.writeable) | int(self.cacheability) << 1 | int(self.memory_type) << 3


@dataclass(frozen=True)
class DWordMemory(_MemorySpace):
    """``DWordMemory(...)``: a memory window below 4 GiB."""

    tag = DWORD_ADDRESS_TAG
    width = 4


@dataclass(frozen=True)
class QWordMemory(_MemorySpace):
    """``QWordMemory(...)``: a memory window anywhere (the 64-bit PCI window, hot-plug memory)."""

    tag = QWORD_ADDRESS_TAG
    width = 8
