"""The SDT header and builder: layout, length and checksum, and the checks on its fields."""

from __future__ import annotations

import pytest
from acpi_tables import AcpiError, Oem, Sdt, SdtHeader, checksum, is_checksum_valid


def test_checksum_is_the_byte_that_makes_the_sum_zero() -> None:
    data = bytes([0x10, 0x20, 0xF0])
    assert checksum(data) == 0xE0
    assert is_checksum_valid(data + bytes([checksum(data)]))


def test_the_header_is_36_bytes_in_the_specification_order() -> None:
    table = Sdt("TEST", 3, Oem("OEMID", "TABLEID", 7, "CRTR", 9)).to_bytes()
    assert len(table) == SdtHeader.SIZE == 36
    assert table[0:4] == b"TEST"
    assert int.from_bytes(table[4:8], "little") == 36
    assert table[8] == 3
    assert table[10:16] == b"OEMID "
    assert table[16:24] == b"TABLEID "
    assert int.from_bytes(table[24:28], "little") == 7
    assert table[28:32] == b"CRTR"
    assert int.from_bytes(table[32:36], "little") == 9


def test_the_length_and_checksum_cover_the_body() -> None:
    sdt = Sdt("TEST", 1)
    sdt.append(bytes(range(100)))
    table = sdt.to_bytes()
    assert SdtHeader.unpack(table).length == len(table) == 136
    assert is_checksum_valid(table)


def test_append_returns_the_offset_in_the_table() -> None:
    sdt = Sdt("TEST", 1)
    assert sdt.append(b"abcd") == 36
    assert sdt.append(b"ef") == 40
    assert len(sdt) == 42


def test_write_overwrites_the_body_at_a_table_offset() -> None:
    sdt = Sdt("TEST", 1)
    sdt.append(bytes(8))
    sdt.write(40, b"\xaa\xbb")
    table = sdt.to_bytes()
    assert table[36:44] == bytes.fromhex("00000000aabb0000")
    assert is_checksum_valid(table)


@pytest.mark.parametrize("offset", [0, 35, 43])
def test_write_outside_the_body_is_refused(offset: int) -> None:
    sdt = Sdt("TEST", 1)
    sdt.append(bytes(8))
    with pytest.raises(AcpiError, match="not in the body"):
        sdt.write(offset, b"\x01\x02")


def test_the_table_id_defaults_to_the_signature() -> None:
    assert SdtHeader.unpack(Sdt("MCFG", 1).to_bytes()).oem_table_id == "MCFG    "


def test_unpack_reads_back_every_field() -> None:
    sdt = Sdt("SSDT", 2, Oem("CLOUDH", "CHSSDT", 3, "PYAT", 4))
    header = SdtHeader.unpack(sdt.to_bytes())
    assert header == SdtHeader("SSDT", 36, 2, header.checksum, "CLOUDH", "CHSSDT  ", 3, "PYAT", 4)


@pytest.mark.parametrize(
    ("oem", "field"),
    [
        ({"oem_id": "SEVENCH"}, "oem_id"),
        ({"table_id": "NINECHARS"}, "table_id"),
        ({"creator_id": "FIVE5"}, "creator_id"),
        ({"oem_id": "caf\u00e9"}, "oem_id"),
        ({"revision": 1 << 32}, "revision"),
    ],
)
def test_oem_fields_that_do_not_fit_are_refused_by_name(oem: dict[str, object], field: str) -> None:
    with pytest.raises(AcpiError) as error:
        Oem(**oem)  # type: ignore[arg-type]
    assert error.value.field == f"Oem.{field}"


@pytest.mark.parametrize("signature", ["ABC", "ABCDE"])
def test_a_signature_is_four_characters(signature: str) -> None:
    with pytest.raises(AcpiError, match="4 characters"):
        Sdt(signature, 1)
