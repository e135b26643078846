"""Sized variants of the structs that end in a flexible array member."""

from __future__ import annotations

import ctypes

import pytest
from kvm_bindings import (
    kvm_cpuid2,
    kvm_cpuid_entry2,
    kvm_irq_routing,
    kvm_msr_entry,
    kvm_msrs,
    kvm_regs,
    with_entries,
)


def test_sized_variant_keeps_the_header_and_adds_room_for_the_entries() -> None:
    sized = with_entries(kvm_cpuid2, 3)
    assert ctypes.sizeof(sized) == ctypes.sizeof(kvm_cpuid2) + 3 * ctypes.sizeof(kvm_cpuid_entry2)
    assert sized.entries.offset == kvm_cpuid2.entries.offset


def test_sized_variant_entries_are_writable_structs() -> None:
    msrs = with_entries(kvm_msrs, 2)(nmsrs=2)
    msrs.entries[1].index = 0xC0000080
    msrs.entries[1].data = 0x500
    raw = bytes(msrs)
    second = kvm_msr_entry.from_buffer_copy(raw, 8 + ctypes.sizeof(kvm_msr_entry))
    assert (second.index, second.data) == (0xC0000080, 0x500)


def test_sized_variant_types_are_cached() -> None:
    assert with_entries(kvm_irq_routing, 24) is with_entries(kvm_irq_routing, 24)


def test_struct_without_flexible_array_is_refused() -> None:
    with pytest.raises(TypeError, match="flexible array"):
        with_entries(kvm_regs, 1)


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        with_entries(kvm_msrs, -1)
