"""GuestAddress: an immutable u64 whose arithmetic never wraps."""

from __future__ import annotations

import pickle

import pytest
from vm_memory import AlignmentError, GuestAddress, GuestAddressOverflow, VmMemoryError, as_int

TOP = (1 << 64) - 1


def test_holds_any_u64() -> None:
    assert GuestAddress(0).value == 0
    assert GuestAddress(TOP).value == TOP


@pytest.mark.parametrize("value", [-1, 1 << 64, 1 << 80])
def test_rejects_values_outside_u64(value: int) -> None:
    with pytest.raises(GuestAddressOverflow) as info:
        GuestAddress(value)
    assert info.value.value == value


def test_rejects_non_integers() -> None:
    with pytest.raises(TypeError):
        GuestAddress(1.5)  # type: ignore[arg-type]


def test_is_immutable() -> None:
    addr = GuestAddress(0x1000)
    with pytest.raises(AttributeError):
        addr.value = 0
    with pytest.raises(AttributeError):
        del addr.value


def test_adding_an_int_gives_an_address() -> None:
    assert GuestAddress(0x1000) + 0x234 == GuestAddress(0x1234)
    assert 0x234 + GuestAddress(0x1000) == GuestAddress(0x1234)
    assert GuestAddress(0x1000).checked_add(0x1000) == GuestAddress(0x2000)


def test_adding_past_the_top_raises_with_the_exact_result() -> None:
    with pytest.raises(GuestAddressOverflow) as info:
        GuestAddress(TOP) + 1
    assert info.value.value == 1 << 64
    assert isinstance(info.value, VmMemoryError)
    assert isinstance(info.value, OverflowError)
    assert "0xffffffffffffffff + 0x1" in str(info.value)


def test_subtracting_below_zero_raises() -> None:
    assert GuestAddress(0x1000) - 0x1000 == GuestAddress(0)
    with pytest.raises(GuestAddressOverflow) as info:
        GuestAddress(0x1000).checked_sub(0x1001)
    assert info.value.value == -1


def test_adding_a_negative_offset_is_checked_too() -> None:
    with pytest.raises(GuestAddressOverflow):
        GuestAddress(5) + -6


def test_two_addresses_do_not_add_or_subtract() -> None:
    with pytest.raises(TypeError):
        GuestAddress(1) + GuestAddress(2)  # type: ignore[operator]
    with pytest.raises(TypeError):
        GuestAddress(3) - GuestAddress(2)  # type: ignore[operator]


def test_offset_from_is_the_distance_up_from_a_base() -> None:
    assert GuestAddress(0x3000).offset_from(GuestAddress(0x1000)) == 0x2000
    assert GuestAddress(0x3000).offset_from(0x3000) == 0
    with pytest.raises(GuestAddressOverflow):
        GuestAddress(0x1000).offset_from(0x1001)


def test_align_up_rounds_to_the_next_multiple() -> None:
    assert GuestAddress(0x1001).align_up(0x1000) == GuestAddress(0x2000)
    assert GuestAddress(0x2000).align_up(0x1000) == GuestAddress(0x2000)
    assert GuestAddress(0).align_up(1 << 63) == GuestAddress(0)


def test_align_up_past_the_top_raises() -> None:
    with pytest.raises(GuestAddressOverflow):
        GuestAddress(TOP).align_up(0x1000)


def test_align_down_and_is_aligned() -> None:
    assert GuestAddress(0x1FFF).align_down(0x1000) == GuestAddress(0x1000)
    assert GuestAddress(0x2000).is_aligned(0x1000)
    assert not GuestAddress(0x2008).is_aligned(0x10)


@pytest.mark.parametrize("alignment", [0, -8, 3, 0x1800])
def test_alignment_must_be_a_power_of_two(alignment: int) -> None:
    with pytest.raises(AlignmentError) as info:
        GuestAddress(0).align_up(alignment)
    assert info.value.alignment == alignment


def test_orders_and_hashes_by_value() -> None:
    low, high = GuestAddress(1), GuestAddress(2)
    assert low < high <= GuestAddress(2)
    assert high > low >= GuestAddress(1)
    assert sorted([high, low]) == [low, high]
    assert {GuestAddress(7): "x"}[GuestAddress(7)] == "x"


def test_does_not_compare_with_ints() -> None:
    assert GuestAddress(7) != 7
    with pytest.raises(TypeError):
        assert GuestAddress(7) < 8  # type: ignore[operator]


def test_converts_to_int_and_works_as_an_index() -> None:
    addr = GuestAddress(0x2A)
    assert int(addr) == 0x2A
    assert hex(addr) == "0x2a"
    assert len(bytes(100)[:addr]) == 0x2A
    assert as_int(addr) == 0x2A
    assert as_int(0x2A) == 0x2A


def test_repr_and_format_are_hex() -> None:
    addr = GuestAddress(0xFEE0_0000)
    assert repr(addr) == "GuestAddress(0xfee00000)"
    assert f"{addr}" == "GuestAddress(0xfee00000)"
    assert f"{addr:#x}" == "0xfee00000"


def test_pickles() -> None:
    assert pickle.loads(pickle.dumps(GuestAddress(0x1234))) == GuestAddress(0x1234)
