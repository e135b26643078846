"""SMBIOS (DMI) tables: how `--platform` identity reaches a guest's /sys/class/dmi/id.

A guest without UEFI finds SMBIOS by scanning 0xF0000-0xFFFFF on 16-byte
boundaries for an entry point. Like Cloud Hypervisor this writes an SMBIOS 3
("_SM3_") 64-bit entry point and, 16-byte aligned after it, a table of BIOS
information (type 0), system information (type 1), a chassis (type 3) only
when an asset tag is given, OEM strings (type 11) only when some are given,
and the end-of-table marker (type 127).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

SMBIOS_START = 0xF0000  # the BIOS area Linux scans; the ACPI tables end here
SMBIOS_MAX_SIZE = 0x10000  # up to the end of the first megabyte

BIOS_VENDOR = "cloud-hypervisor"
BIOS_VERSION = "0"
DEFAULT_SYSTEM_MANUFACTURER = "Cloud Hypervisor"
DEFAULT_SYSTEM_PRODUCT_NAME = "cloud-hypervisor"

_ENTRY_POINT = struct.Struct("<5sBBBBBBBIQ")
_TABLE_OFFSET = 0x20  # the entry point (24 bytes) rounded up to 16
_BIOS_INFO = struct.Struct("<BBHBBHBBQBB")
_SYSTEM_INFO = struct.Struct("<BBHBBBB16sBBB")
_CHASSIS = struct.Struct("<BBHBBBBBBBBBIBBBB")
_OEM_STRINGS = struct.Struct("<BBHB")
_END_OF_TABLE = struct.Struct("<BBH")

_TYPE_BIOS, _TYPE_SYSTEM, _TYPE_CHASSIS, _TYPE_OEM, _TYPE_END = 0, 1, 3, 11, 127
_VERSION = (3, 2, 0)  # SMBIOS 3.2.0: UUIDs are read mixed-endian (2.6 and later)
_ENTRY_POINT_REVISION = 1
_PCI_SUPPORTED = 1 << 7
_IS_VIRTUAL_MACHINE = 1 << 4
_UNKNOWN = 0x02  # wake-up type, chassis type and chassis states alike
_SECURITY_NONE = 0x03
_MAX_STRINGS = 255  # string indexes are one byte, 0 meaning "none"
_UUID = re.compile(
    r"(?-i:urn:uuid:)?(\{)?[0-9a-f]{8}(-?)[0-9a-f]{4}\2[0-9a-f]{4}\2[0-9a-f]{4}\2[0-9a-f]{12}"
    r"(?(1)\})",
    re.IGNORECASE,
)


class SmbiosError(ValueError):
    """A `--platform` value SMBIOS cannot carry; `field` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"SMBIOS {field}: {reason}")
        self.field = field


@dataclass(frozen=True, slots=True)
class SmbiosInfo:
    """What the guest reads as its identity; None leaves a string out (or takes CH's default)."""

    system_manufacturer: str | None = None
    system_product_name: str | None = None
    system_version: str | None = None
    system_serial_number: str | None = None
    system_uuid: str | None = None
    system_sku_number: str | None = None
    system_family: str | None = None
    chassis_asset_tag: str | None = None
    oem_strings: tuple[str, ...] = ()

    @classmethod
    def of(cls, source: object) -> SmbiosInfo:
        """The identity in `source`'s attributes of the same names (a `PlatformConfig`)."""
        names = [name for name in cls.__slots__ if name != "oem_strings"]
        strings: dict[str, str | None] = {name: getattr(source, name, None) for name in names}
        return cls(**strings, oem_strings=tuple(getattr(source, "oem_strings", None) or ()))


def _encode(field: str, value: str) -> bytes:
    """One SMBIOS string: UTF-8 (non-UTF-8 arguments keep their bytes), never NUL."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as err:
        raise SmbiosError(field, f"{value!r} cannot be encoded as UTF-8") from err
    if b"\0" in raw:
        raise SmbiosError(field, "a string must not contain a NUL byte")
    return raw


def _encode_uuid(value: str | None) -> bytes:
    """The 16 UUID bytes, first three fields little-endian, as Linux reads them back."""
    if value is None:
        return bytes(16)  # all zeros: "not settable", Linux shows no product_uuid
    if not _UUID.fullmatch(value):
        raise SmbiosError("system_uuid", f"{value!r} is not a UUID")
    import uuid  # 11 ms (it loads `platform`), for the VMs that set one only

    return uuid.UUID(value).bytes_le


def _strings(values: Sequence[bytes | None]) -> tuple[list[int], list[bytes]]:
    """Index each present, non-empty string (from 1); an empty one reads as absent (index 0)."""
    indexes: list[int] = []
    present: list[bytes] = []
    for raw in values:
        if raw:
            present.append(raw)
        indexes.append(len(present) if raw else 0)
    return indexes, present


def _structure(formatted: bytes, strings: Sequence[bytes]) -> bytes:
    """A formatted area and its string set: each string NUL-ended, then one more NUL."""
    if not strings:
        return formatted + b"\0\0"
    return formatted + b"".join(s + b"\0" for s in strings) + b"\0"


def _optional(field: str, value: str | None) -> bytes | None:
    return None if value is None else _encode(field, value)


def _bios(handle: int) -> bytes:
    formatted = _BIOS_INFO.pack(
        _TYPE_BIOS, _BIOS_INFO.size, handle, 1, 2, 0, 0, 0, _PCI_SUPPORTED, 0, _IS_VIRTUAL_MACHINE
    )
    return _structure(formatted, [BIOS_VENDOR.encode(), BIOS_VERSION.encode()])


def _system(info: SmbiosInfo, handle: int) -> bytes:
    manufacturer = info.system_manufacturer
    product = info.system_product_name
    indexes, strings = _strings(
        [
            _optional(
                "system_manufacturer",
                DEFAULT_SYSTEM_MANUFACTURER if manufacturer is None else manufacturer,
            ),
            _optional(
                "system_product_name", DEFAULT_SYSTEM_PRODUCT_NAME if product is None else product
            ),
            _optional("system_version", info.system_version),
            _optional("system_serial_number", info.system_serial_number),
            _optional("system_sku_number", info.system_sku_number),
            _optional("system_family", info.system_family),
        ]
    )
    vendor, name, version, serial, sku, family = indexes
    formatted = _SYSTEM_INFO.pack(
        _TYPE_SYSTEM,
        _SYSTEM_INFO.size,
        handle,
        vendor,
        name,
        version,
        serial,
        _encode_uuid(info.system_uuid),
        _UNKNOWN,
        sku,
        family,
    )
    return _structure(formatted, strings)


def _chassis(asset_tag: str, handle: int) -> bytes:
    (tag,), strings = _strings([_optional("chassis_asset_tag", asset_tag)])
    formatted = _CHASSIS.pack(
        _TYPE_CHASSIS, _CHASSIS.size, handle, 0, _UNKNOWN, 0, 0, tag,
        _UNKNOWN, _UNKNOWN, _UNKNOWN, _SECURITY_NONE, 0, 0, 0, 0, 0,
    )  # fmt: skip
    return _structure(formatted, strings)


def _oem(oem_strings: Sequence[str], handle: int) -> bytes:
    if len(oem_strings) > _MAX_STRINGS:
        raise SmbiosError("oem_strings", f"{len(oem_strings)} strings, at most {_MAX_STRINGS}")
    strings = [_encode(f"oem_strings[{i}]", s) for i, s in enumerate(oem_strings)]
    for i, raw in enumerate(strings):
        if not raw:  # an empty string would end the string set early
            raise SmbiosError(f"oem_strings[{i}]", "an OEM string must not be empty")
    formatted = _OEM_STRINGS.pack(_TYPE_OEM, _OEM_STRINGS.size, handle, len(strings))
    return _structure(formatted, strings)


def _longest_field(info: SmbiosInfo) -> str:
    """The field most to blame when the tables do not fit."""
    named = [(f, getattr(info, f)) for f in SmbiosInfo.__slots__ if f != "oem_strings"]
    named += [(f"oem_strings[{i}]", s) for i, s in enumerate(info.oem_strings)]
    given = [(len(v), f) for f, v in named if v is not None]
    return max(given, default=(0, "oem_strings"))[1]


def smbios_bytes(info: SmbiosInfo, address: int = SMBIOS_START) -> bytes:
    """The entry point followed (at +0x20) by the structure table, to be written at `address`."""
    if address % 16 or not 0 <= address <= (1 << 64) - SMBIOS_MAX_SIZE:
        raise ValueError(f"SMBIOS needs a 16-byte aligned 64-bit address, not {address:#x}")
    builders: list[Callable[[int], bytes]] = [_bios, partial(_system, info)]
    if info.chassis_asset_tag is not None:
        builders.append(partial(_chassis, info.chassis_asset_tag))
    if info.oem_strings:
        builders.append(partial(_oem, info.oem_strings))
    table = b"".join(build(handle) for handle, build in enumerate(builders, start=1))
    table += _structure(_END_OF_TABLE.pack(_TYPE_END, _END_OF_TABLE.size, len(builders) + 1), [])
    size = _TABLE_OFFSET + len(table)
    if size > SMBIOS_MAX_SIZE:
        raise SmbiosError(
            _longest_field(info),
            f"too long: the tables would take {size} bytes, more than {SMBIOS_MAX_SIZE}, "
            "and this is the longest string",
        )
    major, minor, docrev = _VERSION
    entry = bytearray(
        _ENTRY_POINT.pack(
            b"_SM3_", 0, _ENTRY_POINT.size, major, minor, docrev, _ENTRY_POINT_REVISION, 0,
            len(table), address + _TABLE_OFFSET,
        )
    )  # fmt: skip
    entry[5] = (-sum(entry)) & 0xFF
    return bytes(entry).ljust(_TABLE_OFFSET, b"\0") + table
