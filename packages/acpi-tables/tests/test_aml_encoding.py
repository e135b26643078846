"""The grammar's building blocks: package lengths, name strings, integers, strings."""

from __future__ import annotations

import pytest
from acpi_tables import AcpiError, aml
from hypothesis import given
from hypothesis import strategies as st


def decode_pkg_length(data: bytes) -> tuple[int, int]:
    """(value, bytes used) of a PkgLength, as an AML interpreter reads it."""
    lead = data[0]
    follow = lead >> 6
    if follow == 0:
        return lead & 0x3F, 1
    value = lead & 0x0F
    for i in range(follow):
        value |= data[1 + i] << (4 + 8 * i)
    return value, 1 + follow


@pytest.mark.parametrize(
    ("body", "encoded"),
    [
        (0, b"\x01"),
        (62, b"\x3f"),  # 63 in all: the largest one-byte length
        (63, b"\x41\x04"),  # 65 in all
        (0xFFD, b"\x4f\xff"),  # 4095 in all: the largest two-byte length
        (0xFFE, b"\x81\x00\x01"),
    ],
)
def test_pkg_length_counts_itself_and_grows_at_the_boundaries(body: int, encoded: bytes) -> None:
    assert aml.pkg_length(body) == encoded


@given(st.integers(min_value=0, max_value=(1 << 28) - 5))
def test_pkg_length_decodes_to_the_body_plus_its_own_bytes(body: int) -> None:
    encoded = aml.pkg_length(body)
    value, used = decode_pkg_length(encoded + bytes(4))
    assert used == len(encoded)
    assert value == body + used


def test_pkg_length_stops_at_2_to_the_28() -> None:
    with pytest.raises(AcpiError, match="package length"):
        aml.pkg_length(1 << 28)


def test_field_length_is_the_raw_bit_count() -> None:
    assert aml.field_length(8) == b"\x08"
    assert aml.field_length(64) == b"\x40\x04"


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("PCI0", b"PCI0"),
        ("GEC", b"GEC_"),
        ("\\", b"\\\x00"),
        ("", b"\x00"),
        ("\\_SB_", b"\\_SB_"),
        ("^CPUS", b"^CPUS"),
        ("^^C000", b"^^C000"),
        ("_SB_.PCI0", b"\x2e_SB_PCI0"),
        ("\\_SB_.CPUS.CSCN", b"\\\x2f\x03_SB_CPUSCSCN"),
    ],
)
def test_name_strings(path: str, encoded: bytes) -> None:
    assert aml.name_string(path) == encoded


@pytest.mark.parametrize("path", ["pci0", "TOOLONG", "0ABC", "A-B", "_SB_..X", "^", "^\\_SB_"])
def test_bad_names_are_refused(path: str) -> None:
    with pytest.raises(AcpiError):
        aml.name_string(path)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (1, "01"),
        (2, "0a02"),
        (0xFF, "0aff"),
        (0x100, "0b0001"),
        (0xFFFF, "0bffff"),
        (0x1_0000, "0c00000100"),
        (0xFFFF_FFFF, "0cffffffff"),
        (0x1_0000_0000, "0e0000000001000000"),
        ((1 << 64) - 2, "0efeffffffffffffff"),
        ((1 << 64) - 1, "ff"),
    ],
)
def test_integers_take_the_fewest_bytes(value: int, encoded: str) -> None:
    assert aml.encode(value) == bytes.fromhex(encoded)


@pytest.mark.parametrize("value", [-1, 1 << 64])
def test_integers_are_unsigned_64_bits(value: int) -> None:
    with pytest.raises(AcpiError, match="integer"):
        aml.encode(value)


def test_a_bool_is_not_taken_for_an_integer() -> None:
    with pytest.raises(AcpiError, match="bool"):
        aml.encode(True)


def test_fixed_width_integers_keep_their_width() -> None:
    assert aml.Byte(0).to_aml_bytes() == b"\x0a\x00"
    assert aml.Word(1).to_aml_bytes() == b"\x0b\x01\x00"
    assert aml.DWord(2).to_aml_bytes() == b"\x0c\x02\x00\x00\x00"
    assert aml.QWord(3).to_aml_bytes() == b"\x0e\x03" + bytes(7)


def test_fixed_width_integers_refuse_what_does_not_fit() -> None:
    with pytest.raises(AcpiError, match="Word"):
        aml.Word(0x1_0000)


def test_a_str_term_is_a_string_literal() -> None:
    assert aml.encode("ACPI0013") == b"\x0dACPI0013\x00"


def test_strings_are_ascii_without_nul() -> None:
    with pytest.raises(AcpiError, match="ASCII"):
        aml.encode("a\x00b")
