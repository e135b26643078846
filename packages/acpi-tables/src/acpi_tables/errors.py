"""The one error of the acpi-tables package.

Every structure checks its values when it is made, so a bad value fails at
the edge (where the VMM builds its tables from a configuration) rather than
as a corrupt byte the guest's ACPI interpreter trips over at boot.
"""

from __future__ import annotations

__all__ = ["AcpiError"]


class AcpiError(ValueError):
    """A value an ACPI table or AML object cannot hold.

    ``field`` names what was being set (``"Memory32Fixed.base"``,
    ``"name segment"``), ``value`` is the value given.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field} = {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


def check_uint(field: str, value: int, bits: int) -> int:
    """`value` if it is an unsigned integer of at most `bits` bits, else AcpiError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AcpiError(field, value, "not an integer")
    if not 0 <= value < 1 << bits:
        raise AcpiError(field, value, f"outside 0..{(1 << bits) - 1:#x} ({bits} bits)")
    return value


def check_ascii(field: str, value: str, width: int) -> bytes:
    """`value` as printable ASCII padded with spaces to `width` bytes, else AcpiError."""
    if not value.isascii() or not value.isprintable():
        raise AcpiError(field, value, "not printable ASCII")
    if len(value) > width:
        raise AcpiError(field, value, f"longer than {width} characters")
    return value.encode("ascii").ljust(width, b" ")
