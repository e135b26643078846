"""Each table's layout at the specification's offsets, and the values each refuses."""

from __future__ import annotations

import struct

import pytest
from acpi_tables import (
    AccessSize,
    AcpiError,
    AddressSpaceId,
    Dsdt,
    EcamAllocation,
    Fadt,
    FadtFlags,
    GenericAddress,
    InterruptSourceOverride,
    IoApic,
    LocalApic,
    LocalApicFlags,
    LocalApicNmi,
    LocalX2Apic,
    LocalX2ApicNmi,
    Madt,
    MadtEntry,
    Mcfg,
    MemoryAffinity,
    MemoryAffinityFlags,
    MpsIntiFlags,
    Polarity,
    ProcessorApicAffinity,
    ProcessorX2ApicAffinity,
    Rsdp,
    SdtHeader,
    Slit,
    Srat,
    Ssdt,
    TriggerMode,
    Xsdt,
    aml,
    is_checksum_valid,
)


def u32(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value


def u64(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<Q", data, offset)[0]
    return value


def test_rsdp_is_36_bytes_pointing_at_the_xsdt_with_both_checksums() -> None:
    rsdp = Rsdp(xsdt_address=0x1234_5678_9000, oem_id="CLOUDH").to_bytes()
    assert len(rsdp) == 36
    assert rsdp[:8] == b"RSD PTR "
    assert rsdp[9:15] == b"CLOUDH"
    assert rsdp[15] == 2  # revision
    assert u32(rsdp, 20) == 36
    assert u64(rsdp, 24) == 0x1234_5678_9000
    assert is_checksum_valid(rsdp[:20])
    assert is_checksum_valid(rsdp)


def test_xsdt_lists_64_bit_addresses_after_the_header() -> None:
    xsdt = Xsdt([0x1000, 0x1_0000_0000]).to_bytes()
    assert SdtHeader.unpack(xsdt).signature == "XSDT"
    assert len(xsdt) == 36 + 16
    assert (u64(xsdt, 36), u64(xsdt, 44)) == (0x1000, 0x1_0000_0000)
    assert is_checksum_valid(xsdt)


def test_generic_address_is_12_bytes() -> None:
    gas = GenericAddress.io_port(0x3C0, 16)
    assert gas.to_bytes() == bytes([1, 16, 0, 2]) + (0x3C0).to_bytes(8, "little")
    assert GenericAddress.from_bytes(gas.to_bytes()) == gas


def test_generic_address_access_is_8_16_32_or_64_bits() -> None:
    with pytest.raises(AcpiError, match="8, 16, 32 or 64"):
        GenericAddress.mmio(0x1000, 12)


def test_fadt_revision_6_is_276_bytes_with_the_registers_at_their_offsets() -> None:
    fadt = Fadt(
        dsdt_address=0xABCD_0000,
        reset_register=GenericAddress.io_port(0x3C0),
        reset_value=1,
        sleep_control_register=GenericAddress.io_port(0x3C0),
        sleep_status_register=GenericAddress.io_port(0x3C1),
        hypervisor_vendor="CLOUDHYP",
    ).to_bytes()
    header = SdtHeader.unpack(fadt)
    assert (header.signature, header.revision, header.length) == ("FACP", 6, 276)
    assert u64(fadt, 140) == 0xABCD_0000  # X_DSDT
    assert u32(fadt, 40) == 0  # the 32-bit DSDT stays 0 when X_DSDT is set
    assert GenericAddress.from_bytes(fadt[116:128]) == GenericAddress.io_port(0x3C0)
    assert fadt[128] == 1  # RESET_VALUE
    assert GenericAddress.from_bytes(fadt[244:256]) == GenericAddress.io_port(0x3C0)
    assert GenericAddress.from_bytes(fadt[256:268]) == GenericAddress.io_port(0x3C1)
    assert fadt[268:276] == b"CLOUDHYP"
    assert is_checksum_valid(fadt)


def test_fadt_is_hardware_reduced_by_default() -> None:
    flags = FadtFlags(u32(Fadt(dsdt_address=0x1000).to_bytes(), 112))
    assert flags == FadtFlags.HW_REDUCED_ACPI


def test_fadt_with_a_reset_register_says_it_is_supported() -> None:
    fadt = Fadt(dsdt_address=0x1000, reset_register=GenericAddress.io_port(0xCF9))
    assert FadtFlags.RESET_REG_SUP in FadtFlags(u32(fadt.to_bytes(), 112))


def test_fadt_absent_registers_are_the_zero_structure() -> None:
    fadt = Fadt(dsdt_address=0x1000).to_bytes()
    assert fadt[116:128] == fadt[244:256] == fadt[256:268] == bytes(12)


def test_fadt_pm1a_blocks_fill_the_legacy_fields_too() -> None:
    event = GenericAddress(AddressSpaceId.SYSTEM_IO, 32, 0, AccessSize.WORD, 0x60C)
    control = GenericAddress.io_port(0x610, 16)
    fadt = Fadt(dsdt_address=0x1000, pm1a_event_block=event, pm1a_control_block=control)
    table = fadt.to_bytes()
    assert (u32(table, 56), table[88]) == (0x60C, 4)
    assert (u32(table, 64), table[89]) == (0x610, 2)
    assert GenericAddress.from_bytes(table[148:160]) == event
    assert GenericAddress.from_bytes(table[172:184]) == control


def test_fadt_pm1_blocks_are_io_ports() -> None:
    with pytest.raises(AcpiError, match="pm1a_event_block"):
        Fadt(dsdt_address=0, pm1a_event_block=GenericAddress.mmio(0x1000, 32))


def test_madt_header_fields_then_entries() -> None:
    madt = Madt([LocalX2Apic(3, 7)], pcat_compat=True).to_bytes()
    assert SdtHeader.unpack(madt).revision == 5
    assert (u32(madt, 36), u32(madt, 40)) == (0xFEE0_0000, 1)
    assert madt[44:60] == struct.pack("<BBHIII", 9, 16, 0, 7, 1, 3)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (LocalApic(1, 2), struct.pack("<BBBBI", 0, 8, 1, 2, 1)),
        (IoApic(0, 0xFEC0_0000, 24), struct.pack("<BBBBII", 1, 12, 0, 0, 0xFEC0_0000, 24)),
        (
            InterruptSourceOverride(9, 9, MpsIntiFlags(Polarity.ACTIVE_LOW, TriggerMode.LEVEL)),
            struct.pack("<BBBBIH", 2, 10, 0, 9, 9, 0b1111),
        ),
        (LocalApicNmi(0xFF, 1), struct.pack("<BBBHB", 4, 6, 0xFF, 0, 1)),
        (
            LocalX2Apic(5, 0x100, LocalApicFlags.ONLINE_CAPABLE),
            struct.pack("<BBHIII", 9, 16, 0, 0x100, 2, 5),
        ),
        (LocalX2ApicNmi(), struct.pack("<BBHIB3x", 10, 12, 0, 0xFFFF_FFFF, 1)),
    ],
)
def test_madt_entries_have_their_type_length_and_fields(entry: MadtEntry, expected: bytes) -> None:
    assert entry.to_bytes() == expected
    assert expected[1] == len(expected)


def test_local_apic_ids_past_255_need_x2apic_entries() -> None:
    with pytest.raises(AcpiError, match=r"LocalApic\.apic_id"):
        LocalApic(0, 256)


def test_mcfg_has_8_reserved_bytes_then_16_byte_allocations() -> None:
    mcfg = Mcfg([EcamAllocation(0xE000_0000, segment=1, start_bus=0, end_bus=0x7F)]).to_bytes()
    assert len(mcfg) == 36 + 8 + 16
    assert mcfg[36:44] == bytes(8)
    assert mcfg[44:60] == struct.pack("<QHBB4x", 0xE000_0000, 1, 0, 0x7F)


def test_ecam_windows_are_1_mib_aligned() -> None:
    with pytest.raises(AcpiError, match="1 MiB"):
        EcamAllocation(0xE000_1000)


def test_srat_has_its_reserved_dword_then_affinity_entries() -> None:
    srat = Srat(
        [
            ProcessorX2ApicAffinity(proximity_domain=1, x2apic_id=5),
            MemoryAffinity(1, 0x1_0000_0000, 0x4000_0000, MemoryAffinityFlags(3)),
        ]
    ).to_bytes()
    assert SdtHeader.unpack(srat).revision == 3
    assert srat[36:48] == struct.pack("<I8x", 1)
    assert srat[48:72] == struct.pack("<BBHIIII4x", 2, 24, 0, 1, 5, 1, 0)
    memory = srat[72:112]
    assert (memory[0], memory[1], u32(memory, 2)) == (1, 40, 1)
    assert (u64(memory, 8), u64(memory, 16), u32(memory, 28)) == (1 << 32, 1 << 30, 3)


def test_srat_apic_affinity_splits_the_proximity_domain() -> None:
    entry = ProcessorApicAffinity(proximity_domain=0x0102_0304, apic_id=2).to_bytes()
    assert (len(entry), entry[2], entry[3], entry[9:12]) == (16, 0x04, 2, b"\x03\x02\x01")


def test_slit_has_the_count_then_the_matrix_by_rows() -> None:
    slit = Slit([[10, 20, 30], [21, 10, 40], [31, 41, 10]]).to_bytes()
    assert u64(slit, 36) == 3
    assert slit[44:] == bytes([10, 20, 30, 21, 10, 40, 31, 41, 10])


@pytest.mark.parametrize(
    ("distances", "match"),
    [
        ([[10, 20]], "need 1 entries"),
        ([[11]], "itself is 10"),
        ([[10, 9], [9, 10]], "11 to 255"),
        ([[10, 256], [20, 10]], "8 bits"),
    ],
)
def test_slit_refuses_a_bad_matrix(distances: list[list[int]], match: str) -> None:
    with pytest.raises(AcpiError, match=match):
        Slit(distances)


def test_dsdt_is_a_header_and_the_aml_of_its_body() -> None:
    body = [aml.Name("_S5_", aml.Package([5]))]
    dsdt = Dsdt(body).to_bytes()
    assert SdtHeader.unpack(dsdt).signature == "DSDT"
    assert SdtHeader.unpack(dsdt).revision == 2
    assert dsdt[36:] == body[0].to_aml_bytes()
    assert is_checksum_valid(dsdt)


def test_ssdt_has_its_own_signature() -> None:
    assert Ssdt([]).to_bytes()[:4] == b"SSDT"
