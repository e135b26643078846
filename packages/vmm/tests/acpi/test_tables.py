"""The VM's ACPI tables: placed where the guest looks, linked, checksummed, and clean for iasl."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from acpi_tables import SdtHeader, is_checksum_valid
from acpi_tables.testing import Iasl
from vmm.acpi import AcpiPlatform, NumaNode, build_acpi_tables
from vmm.arch import layout

PLATFORM = AcpiPlatform(
    vcpus=2, mmio32=(0xC000_0000, 0xE7FF_FFFF), mmio64=(1 << 32, (1 << 46) - 1), ged_irq=5
)
NUMA = [
    NumaNode(0, cpus=(0,), memory=((0, 64 << 20),), distances=((1, 30),)),
    NumaNode(1, cpus=(1,), memory=((64 << 20, 64 << 20),), distances=((0, 30),)),
]


@pytest.fixture(scope="module")
def iasl() -> Iasl:
    found = Iasl.find()
    if found is None:
        pytest.skip("iasl is not installed (acpica-tools; scripts/dev_cli.sh tests installs it)")
    return found


def tables(platform: AcpiPlatform) -> dict[str, tuple[int, bytes]]:
    placed = build_acpi_tables(platform)
    (rsdp_address, rsdp), *rest = placed
    assert rsdp_address == layout.RSDP_ADDRESS
    found = {"RSDP": (rsdp_address, rsdp)}
    found.update((SdtHeader.unpack(table).signature, (address, table)) for address, table in rest)
    return found


def test_the_tables_are_linked_from_the_rsdp_and_checksummed() -> None:
    found = tables(PLATFORM)
    rsdp = found["RSDP"][1]
    assert rsdp[:8] == b"RSD PTR "
    assert is_checksum_valid(rsdp[:20])
    assert is_checksum_valid(rsdp)
    (xsdt_address,) = struct.unpack_from("<Q", rsdp, 24)
    assert found["XSDT"][0] == xsdt_address
    xsdt = found["XSDT"][1]
    listed = set(struct.unpack_from(f"<{(len(xsdt) - 36) // 8}Q", xsdt, 36))
    assert listed == {found[name][0] for name in ("FACP", "APIC", "MCFG")}
    (dsdt_address,) = struct.unpack_from("<Q", found["FACP"][1], 140)  # X_DSDT
    assert dsdt_address == found["DSDT"][0]
    end = max(address + len(table) for address, table in found.values())
    assert end <= layout.ACPI_TABLES_END
    for _, table in found.values():
        assert is_checksum_valid(table)


def test_numa_adds_the_srat_and_slit() -> None:
    found = tables(replace(PLATFORM, numa=NUMA))
    assert {"SRAT", "SLIT"} <= found.keys()


def test_the_most_vcpus_still_fit_below_the_smbios_area() -> None:
    found = tables(replace(PLATFORM, vcpus=254))
    assert max(address + len(table) for address, table in found.values()) <= layout.ACPI_TABLES_END


def test_iasl_disassembles_every_table_cleanly_and_reads_back_what_was_meant(iasl: Iasl) -> None:
    found = tables(replace(PLATFORM, numa=NUMA))
    for name, (_, table) in found.items():
        if name != "RSDP":
            assert iasl.disassemble(table).problems == [], name
    fadt = iasl.disassemble(found["FACP"][1])
    assert fadt.value("Hardware Reduced (V5)") == "1"
    assert fadt.value("Reset Register Supported (V2)") == "1"
    assert fadt.values("Address")[:1] == ["0000000000000600"]  # the reset register
    madt = iasl.disassemble(found["APIC"][1])
    assert madt.values("Processor x2Apic ID") == ["00000000", "00000001"]
    assert madt.value("Address") == "FEC00000"
    mcfg = iasl.disassemble(found["MCFG"][1])
    assert mcfg.value("Base Address") == "00000000E8000000"
    assert mcfg.value("End Bus Number") == "00"
    slit = iasl.disassemble(found["SLIT"][1])
    assert slit.value("Localities") == "0000000000000002"
    dsdt = iasl.disassemble(found["DSDT"][1]).source
    for expected in ("PNP0A08", "PNP0C02", "PNP0501", "PNP0C0C", "ACPI0013", "Name (_S5,"):
        assert expected in dsdt
