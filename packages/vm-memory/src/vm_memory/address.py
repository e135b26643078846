"""Guest physical addresses.

:class:`GuestAddress` is an immutable 64-bit guest physical address whose
arithmetic is checked: leaving ``[0, 2**64)`` raises
:class:`~vm_memory.errors.GuestAddressOverflow` instead of wrapping, so an
address computed from guest-supplied numbers can never silently alias another
one. Every API of this package also takes a plain ``int`` wherever it takes a
``GuestAddress`` (see :data:`AddressLike`); hot paths such as virtio rings
should pass ints.
"""

from __future__ import annotations

import operator
from typing import Final, TypeAlias

from vm_memory.errors import AlignmentError, GuestAddressOverflow

__all__ = ["ADDRESS_LIMIT", "AddressLike", "GuestAddress", "as_int"]

ADDRESS_LIMIT: Final = 1 << 64
"""One past the highest guest physical address."""


class GuestAddress:
    """An address in guest physical memory, an int in ``[0, 2**64)``.

    ``GuestAddress(a) + n`` and ``- n`` take ints and raise
    :class:`GuestAddressOverflow` when the result leaves the address space;
    the distance between two addresses is :meth:`offset_from`. Addresses
    order, hash and compare among themselves, convert with ``int()``, and are
    accepted wherever Python wants an index (``hex(addr)``, slicing).
    """

    __slots__ = ("value",)
    value: int

    def __init__(self, value: int) -> None:
        value = operator.index(value)
        if not 0 <= value < ADDRESS_LIMIT:
            raise GuestAddressOverflow(value, f"GuestAddress({value:#x})")
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"GuestAddress is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"GuestAddress is immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple[type[GuestAddress], tuple[int]]:
        return (GuestAddress, (self.value,))

    # Checked arithmetic -------------------------------------------------

    def checked_add(self, offset: int) -> GuestAddress:
        """``self + offset``; raises :class:`GuestAddressOverflow` past ``2**64 - 1``."""
        result = self.value + operator.index(offset)
        if not 0 <= result < ADDRESS_LIMIT:
            raise GuestAddressOverflow(result, f"{self.value:#x} + {offset:#x}")
        return GuestAddress(result)

    def checked_sub(self, offset: int) -> GuestAddress:
        """``self - offset``; raises :class:`GuestAddressOverflow` below zero."""
        result = self.value - operator.index(offset)
        if not 0 <= result < ADDRESS_LIMIT:
            raise GuestAddressOverflow(result, f"{self.value:#x} - {offset:#x}")
        return GuestAddress(result)

    def offset_from(self, base: AddressLike) -> int:
        """Bytes from ``base`` up to ``self``; raises :class:`GuestAddressOverflow`
        when ``base`` lies above ``self``."""
        base_value = as_int(base)
        if base_value > self.value:
            raise GuestAddressOverflow(
                self.value - base_value, f"{self.value:#x} - {base_value:#x}"
            )
        return self.value - base_value

    def __add__(self, offset: int) -> GuestAddress:
        if not isinstance(offset, int):
            return NotImplemented
        return self.checked_add(offset)

    __radd__ = __add__

    def __sub__(self, offset: int) -> GuestAddress:
        if not isinstance(offset, int):
            return NotImplemented
        return self.checked_sub(offset)

    # Alignment ----------------------------------------------------------

    def align_up(self, alignment: int) -> GuestAddress:
        """The lowest address ``>= self`` that is a multiple of ``alignment``
        (a power of two); raises :class:`GuestAddressOverflow` past the top."""
        mask = _alignment_mask(alignment)
        return self.checked_add(-self.value & mask)

    def align_down(self, alignment: int) -> GuestAddress:
        """The highest address ``<= self`` that is a multiple of ``alignment``."""
        return GuestAddress(self.value & ~_alignment_mask(alignment))

    def is_aligned(self, alignment: int) -> bool:
        """Whether ``self`` is a multiple of ``alignment`` (a power of two)."""
        return self.value & _alignment_mask(alignment) == 0

    # Conversions and comparisons -----------------------------------------

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"GuestAddress({self.value:#x})"

    def __format__(self, spec: str) -> str:
        return format(self.value, spec) if spec else repr(self)

    def __hash__(self) -> int:
        return hash((GuestAddress, self.value))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GuestAddress):
            return self.value == other.value
        return NotImplemented

    def __lt__(self, other: GuestAddress) -> bool:
        if isinstance(other, GuestAddress):
            return self.value < other.value
        return NotImplemented

    def __le__(self, other: GuestAddress) -> bool:
        if isinstance(other, GuestAddress):
            return self.value <= other.value
        return NotImplemented

    def __gt__(self, other: GuestAddress) -> bool:
        if isinstance(other, GuestAddress):
            return self.value > other.value
        return NotImplemented

    def __ge__(self, other: GuestAddress) -> bool:
        if isinstance(other, GuestAddress):
            return self.value >= other.value
        return NotImplemented


AddressLike: TypeAlias = GuestAddress | int
"""What every vm-memory API accepts as a guest address."""


def as_int(addr: AddressLike) -> int:
    """The integer value of a :class:`GuestAddress` or int (not range-checked)."""
    if type(addr) is int:
        return addr
    return operator.index(addr)


def _alignment_mask(alignment: int) -> int:
    alignment = operator.index(alignment)
    if alignment <= 0 or alignment & (alignment - 1):
        raise AlignmentError(alignment)
    return alignment - 1
