"""The SMBIOS tables a guest reads its DMI identity from, checked against dmidecode."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from vmm.arch.smbios import (
    BIOS_VENDOR,
    BIOS_VERSION,
    DEFAULT_SYSTEM_MANUFACTURER,
    DEFAULT_SYSTEM_PRODUCT_NAME,
    SMBIOS_MAX_SIZE,
    SMBIOS_START,
    SmbiosError,
    SmbiosInfo,
    smbios_bytes,
)

DMIDECODE = shutil.which("dmidecode", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
needs_dmidecode = pytest.mark.skipif(
    DMIDECODE is None,
    reason="dmidecode is not installed (apt-get install dmidecode): the SMBIOS oracle is skipped",
)

UUID = "4e8e7f2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
FULL = SmbiosInfo(
    system_manufacturer="ACME Corp",
    system_product_name="Rack Box 9000",
    system_version="v1.2",
    system_serial_number="SER-0042",
    system_uuid=UUID,
    system_sku_number="SKU-77",
    system_family="Boxes",
    chassis_asset_tag="AssetTag-1",
    oem_strings=("io.systemd.credential:x=y", "second string", "3"),
)
_TABLE = 0x20


def _entry_point(raw: bytes) -> tuple[bytes, int, int, int, int, int, int]:
    fields = struct.unpack_from("<5sBBBBBBBIQ", raw)
    signature, _checksum, length, major, minor, _doc, revision, _res, size, table = fields
    return signature, length, major, minor, revision, size, table


def _structures(raw: bytes) -> list[tuple[int, int, list[bytes]]]:
    """(type, handle, strings) of each structure, walking the table to its end."""
    *_, size, _address = _entry_point(raw)
    table = raw[_TABLE : _TABLE + size]
    found, offset = [], 0
    while offset < len(table):
        kind, length, handle = struct.unpack_from("<BBH", table, offset)
        end = table.index(b"\0\0", offset + length)
        found.append((kind, handle, [s for s in table[offset + length : end].split(b"\0") if s]))
        offset = end + 2
    assert offset == len(table)
    return found


def _system_uuid_bytes(raw: bytes) -> bytes:
    bios_length = raw[_TABLE + 1]
    system = raw.index(b"\0\0", _TABLE + bios_length) + 2
    assert raw[system] == 1
    return raw[system + 8 : system + 24]


def _dump(raw: bytes) -> bytes:
    """dmidecode's --dump-bin layout: the entry point pointing at the table at offset 0x20."""
    entry = bytearray(raw[:24])
    entry[16:24] = struct.pack("<Q", _TABLE)
    entry[5] = 0
    entry[5] = -sum(entry) & 0xFF
    return bytes(entry).ljust(_TABLE, b"\0") + raw[_TABLE:]


def _dmidecode(tmp_path: Path, info: SmbiosInfo, *args: str) -> subprocess.CompletedProcess[str]:
    dump = tmp_path / "smbios.bin"
    dump.write_bytes(_dump(smbios_bytes(info)))
    assert DMIDECODE is not None
    return subprocess.run(
        [DMIDECODE, "--from-dump", str(dump), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )


def _dmi_string(tmp_path: Path, info: SmbiosInfo, keyword: str) -> str:
    return _dmidecode(tmp_path, info, "-s", keyword).stdout.rstrip("\n")


def test_entry_point_is_smbios_3_with_a_zero_checksum() -> None:
    raw = smbios_bytes(FULL)
    signature, length, major, minor, revision, _size, _table = _entry_point(raw)
    assert (signature, length, major, minor, revision) == (b"_SM3_", 24, 3, 2, 1)
    assert sum(raw[:length]) % 256 == 0


@pytest.mark.parametrize("address", [SMBIOS_START, 0xF8000])
def test_entry_point_points_at_the_16_byte_aligned_table_inside_the_buffer(address: int) -> None:
    raw = smbios_bytes(FULL, address)
    *_, size, table = _entry_point(raw)
    assert table == address + _TABLE
    assert size == len(raw) - _TABLE  # the structure table's exact length
    assert len(raw) <= SMBIOS_MAX_SIZE


def test_tables_without_options_are_bios_system_and_end_of_table() -> None:
    assert [(kind, handle) for kind, handle, _ in _structures(smbios_bytes(SmbiosInfo()))] == [
        (0, 1),
        (1, 2),
        (127, 3),
    ]


def test_chassis_and_oem_strings_appear_only_when_given() -> None:
    kinds = [kind for kind, _, _ in _structures(smbios_bytes(FULL))]
    assert kinds == [0, 1, 3, 11, 127]


def test_defaults_are_cloud_hypervisors_bios_and_system_strings() -> None:
    bios, system, _end = _structures(smbios_bytes(SmbiosInfo()))
    assert bios[2] == [BIOS_VENDOR.encode(), BIOS_VERSION.encode()]
    assert system[2] == [DEFAULT_SYSTEM_MANUFACTURER.encode(), DEFAULT_SYSTEM_PRODUCT_NAME.encode()]
    assert (BIOS_VENDOR, BIOS_VERSION) == ("cloud-hypervisor", "0")
    assert DEFAULT_SYSTEM_MANUFACTURER == "Cloud Hypervisor"
    assert DEFAULT_SYSTEM_PRODUCT_NAME == "cloud-hypervisor"


def test_uuid_is_stored_with_its_first_three_fields_little_endian() -> None:
    raw = smbios_bytes(SmbiosInfo(system_uuid="00112233-4455-6677-8899-aabbccddeeff"))
    assert _system_uuid_bytes(raw) == bytes.fromhex("33221100554477668899aabbccddeeff")


def test_no_uuid_is_all_zero_bytes() -> None:
    assert _system_uuid_bytes(smbios_bytes(SmbiosInfo())) == bytes(16)


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-uuid",
        "",
        "4e8e7f2a-1b2c-4d5e-8f90-a1b2c3d4e5f",  # one digit short
        "4e8e7f2a1b2c-4d5e-8f90-a1b2c3d4e5f6-",  # hyphens out of place
        "4e8e7f2a-1b2c-4d5e-8f90-a1b2c3d4e5fg",
        "{4e8e7f2a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    ],
)
def test_a_malformed_uuid_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(SmbiosError, match="system_uuid") as caught:
        smbios_bytes(SmbiosInfo(system_uuid=bad))
    assert caught.value.field == "system_uuid"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("info", "field"),
    [
        (SmbiosInfo(system_serial_number="a\0b"), "system_serial_number"),
        (SmbiosInfo(system_manufacturer="\0"), "system_manufacturer"),
        (SmbiosInfo(chassis_asset_tag="tag\0"), "chassis_asset_tag"),
        (SmbiosInfo(oem_strings=("fine", "x\0y")), "oem_strings[1]"),
    ],
)
def test_a_nul_byte_is_refused_naming_the_field(info: SmbiosInfo, field: str) -> None:
    with pytest.raises(SmbiosError, match=re.escape(field) + ": .*NUL") as caught:
        smbios_bytes(info)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("info", "field"),
    [
        (SmbiosInfo(system_family="f" * SMBIOS_MAX_SIZE), "system_family"),
        (SmbiosInfo(oem_strings=("short", "o" * 40000, "p" * 30000)), "oem_strings[1]"),
    ],
)
def test_strings_too_long_for_the_smbios_area_are_refused_naming_the_field(
    info: SmbiosInfo, field: str
) -> None:
    with pytest.raises(SmbiosError, match="more than 65536") as caught:
        smbios_bytes(info)
    assert caught.value.field == field


def test_more_than_255_oem_strings_are_refused() -> None:
    assert len(_structures(smbios_bytes(SmbiosInfo(oem_strings=("s",) * 255)))[2][2]) == 255
    with pytest.raises(SmbiosError, match="oem_strings"):
        smbios_bytes(SmbiosInfo(oem_strings=("s",) * 256))


def test_an_empty_oem_string_is_refused_as_it_would_end_the_string_set() -> None:
    with pytest.raises(SmbiosError, match=r"oem_strings\[0\]"):
        smbios_bytes(SmbiosInfo(oem_strings=("",)))


def test_an_empty_system_string_is_left_out_rather_than_ending_the_string_set() -> None:
    _bios, system, _end = _structures(smbios_bytes(SmbiosInfo(system_serial_number="")))
    assert system[2] == [DEFAULT_SYSTEM_MANUFACTURER.encode(), DEFAULT_SYSTEM_PRODUCT_NAME.encode()]


def test_a_non_utf8_argument_keeps_its_bytes() -> None:
    serial = b"caf\xe9".decode("utf-8", "surrogateescape")
    _bios, system, _end = _structures(smbios_bytes(SmbiosInfo(system_serial_number=serial)))
    assert system[2][2] == b"caf\xe9"


def test_a_misaligned_address_is_refused() -> None:
    with pytest.raises(ValueError, match="16-byte aligned"):
        smbios_bytes(SmbiosInfo(), SMBIOS_START + 8)


@needs_dmidecode
def test_dmidecode_reads_the_tables_without_complaint(tmp_path: Path) -> None:
    result = _dmidecode(tmp_path, FULL)
    assert result.stderr == ""
    assert "SMBIOS 3.2.0 present." in result.stdout
    assert "End Of Table" in result.stdout
    for complaint in ("invalid", "checksum", "wrong", "bad index", "truncated", "out of spec"):
        assert complaint not in result.stdout.lower()


@needs_dmidecode
@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("bios-vendor", "cloud-hypervisor"),
        ("bios-version", "0"),
        ("system-manufacturer", "ACME Corp"),
        ("system-product-name", "Rack Box 9000"),
        ("system-version", "v1.2"),
        ("system-serial-number", "SER-0042"),
        ("system-uuid", UUID),
        ("system-sku-number", "SKU-77"),
        ("system-family", "Boxes"),
        ("chassis-asset-tag", "AssetTag-1"),
    ],
)
def test_dmidecode_reads_back_each_platform_string(
    tmp_path: Path, keyword: str, expected: str
) -> None:
    assert _dmi_string(tmp_path, FULL, keyword) == expected


@needs_dmidecode
def test_dmidecode_reads_back_each_oem_string(tmp_path: Path) -> None:
    for number, expected in enumerate(FULL.oem_strings, start=1):
        assert _dmidecode(tmp_path, FULL, "--oem-string", str(number)).stdout == f"{expected}\n"


@needs_dmidecode
def test_dmidecode_prints_an_uppercase_uuid_in_linuxs_lowercase_form(tmp_path: Path) -> None:
    info = SmbiosInfo(system_uuid=UUID.upper())
    assert _dmi_string(tmp_path, info, "system-uuid") == UUID


@needs_dmidecode
@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("bios-vendor", "cloud-hypervisor"),
        ("bios-version", "0"),
        ("system-manufacturer", "Cloud Hypervisor"),
        ("system-product-name", "cloud-hypervisor"),
        ("system-serial-number", "Not Specified"),
        ("system-uuid", "Not Settable"),
    ],
)
def test_dmidecode_reads_cloud_hypervisors_defaults_when_nothing_is_given(
    tmp_path: Path, keyword: str, expected: str
) -> None:
    assert _dmi_string(tmp_path, SmbiosInfo(), keyword) == expected
