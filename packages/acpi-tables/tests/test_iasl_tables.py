"""Every table as ACPICA's own tools read it: iasl's disassembler and data table compiler,
acpidump's text format and acpixtract."""

from __future__ import annotations

import pytest
from acpi_tables import (
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
    Mcfg,
    MemoryAffinity,
    MemoryAffinityFlags,
    MpsIntiFlags,
    Oem,
    Polarity,
    ProcessorApicAffinity,
    ProcessorX2ApicAffinity,
    Rsdp,
    Slit,
    Srat,
    Table,
    TriggerMode,
    Xsdt,
    aml,
)
from acpi_tables.testing import AcpiDump, Iasl

OEM = Oem("CLOUDH", "CHTABLE", 2)

TABLES: dict[str, Table] = {
    "FACP": Fadt(
        dsdt_address=0x000A_1000,
        flags=FadtFlags.HW_REDUCED_ACPI | FadtFlags.PWR_BUTTON,
        reset_register=GenericAddress.io_port(0x3C0),
        reset_value=0x42,
        sleep_control_register=GenericAddress.io_port(0x3C0),
        sleep_status_register=GenericAddress.io_port(0x3C1),
        pm_timer_block=GenericAddress.io_port(0x608, 32),
        hypervisor_vendor="CLOUDHYP",
        oem=OEM,
    ),
    "APIC": Madt(
        [
            LocalX2Apic(0, 0),
            LocalX2Apic(1, 1),
            LocalX2Apic(2, 0x1234, LocalApicFlags(0)),
            LocalApic(3, 3, LocalApicFlags.ONLINE_CAPABLE),
            IoApic(0, 0xFEC0_0000, 0),
            InterruptSourceOverride(0, 2),
            InterruptSourceOverride(9, 9, MpsIntiFlags(Polarity.ACTIVE_LOW, TriggerMode.LEVEL)),
            LocalApicNmi(),
            LocalX2ApicNmi(),
        ],
        oem=OEM,
    ),
    "MCFG": Mcfg([EcamAllocation(0xE000_0000), EcamAllocation(0x1_0000_0000, 1)], oem=OEM),
    "SRAT": Srat(
        [
            ProcessorX2ApicAffinity(0, 0),
            ProcessorX2ApicAffinity(1, 1),
            ProcessorApicAffinity(1, 2),
            MemoryAffinity(0, 0, 0x8000_0000),
            MemoryAffinity(
                1,
                0x1_0000_0000,
                0x4000_0000,
                MemoryAffinityFlags.ENABLED | MemoryAffinityFlags.HOT_PLUGGABLE,
            ),
        ],
        oem=OEM,
    ),
    "SLIT": Slit([[10, 20, 30], [20, 10, 25], [30, 25, 10]], oem=OEM),
    "XSDT": Xsdt([0x000A_2000, 0x000A_3000, 0x1_0000_0000], oem=OEM),
    "DSDT": Dsdt(
        [
            aml.Device(
                "\\_SB_.PWRB", [aml.Name("_HID", aml.EisaId("PNP0C0C")), aml.Name("_UID", 0)]
            ),
            aml.Name("_S5_", aml.Package([5, 0])),
        ],
        oem=OEM,
    ),
}

# The header fields iasl fills in itself when it compiles: the checksum and the creator.
IASL_OWN = (slice(9, 10), slice(28, 36))


def without_iasl_own(table: bytes) -> bytes:
    data = bytearray(table)
    for part in IASL_OWN:
        data[part] = bytes(part.stop - part.start)
    return bytes(data)


@pytest.mark.parametrize("signature", TABLES)
def test_iasl_disassembles_the_table_without_errors_or_warnings(iasl: Iasl, signature: str) -> None:
    disassembly = iasl.disassemble(TABLES[signature].to_bytes())
    assert disassembly.returncode == 0, disassembly.messages
    assert disassembly.problems == []


def test_iasl_reports_a_bad_checksum(iasl: Iasl) -> None:
    table = bytearray(TABLES["MCFG"].to_bytes())
    table[9] ^= 0xFF
    assert any("checksum" in line for line in iasl.disassemble(bytes(table)).problems)


@pytest.mark.parametrize("signature", [s for s in TABLES if s != "DSDT"])
def test_iasl_compiles_the_disassembled_table_back_to_the_same_bytes(
    iasl: Iasl, signature: str
) -> None:
    table = TABLES[signature].to_bytes()
    recompiled = iasl.compile(iasl.disassemble(table).source)
    assert without_iasl_own(recompiled) == without_iasl_own(table)


def test_iasl_reads_the_fadt_registers(iasl: Iasl) -> None:
    fadt = iasl.disassemble(TABLES["FACP"].to_bytes())
    assert fadt.value("Revision") == "06"
    assert fadt.value("Table Length") == "00000114"
    assert fadt.values("DSDT Address") == ["00000000", "00000000000A1000"]
    assert fadt.value("Hardware Reduced (V5)") == "1"
    assert fadt.value("Reset Register Supported (V2)") == "1"
    assert fadt.value("Control Method Power Button (V1)") == "1"
    assert fadt.value("Value to cause reset") == "42"
    addresses = fadt.values("Address")
    assert addresses[0] == "00000000000003C0"  # reset register
    assert addresses[-2:] == ["00000000000003C0", "00000000000003C1"]  # sleep control, status
    assert "0000000000000608" in addresses  # PM timer


def test_iasl_reads_the_madt_entries(iasl: Iasl) -> None:
    madt = iasl.disassemble(TABLES["APIC"].to_bytes())
    assert madt.value("Local Apic Address") == "FEE00000"
    assert madt.values("Processor x2Apic ID") == ["00000000", "00000001", "00001234"]
    assert madt.values("Processor Enabled")[:4] == ["1", "1", "0", "0"]
    assert madt.value("Runtime Online Capable") == "1"
    assert madt.value("I/O Apic ID") == "00"
    assert madt.values("Source") == ["00", "09"]
    assert madt.values("Polarity")[:2] == ["0", "3"]
    assert madt.values("Trigger Mode")[:2] == ["0", "3"]


def test_iasl_shows_an_online_capable_x2apic(iasl: Iasl) -> None:
    # This iasl (20200925) decodes only the enabled bit of an x2APIC's flags, and its
    # compiler drops the other: the MADT above has no online-capable x2APIC to recompile.
    madt = Madt([LocalX2Apic(0, 0), LocalX2Apic(1, 1, LocalApicFlags.ONLINE_CAPABLE)])
    disassembly = iasl.disassemble(madt.to_bytes())
    assert disassembly.problems == []
    assert disassembly.values("Flags (decoded below)")[1:] == ["00000001", "00000002"]


def test_iasl_reads_the_mcfg_allocations(iasl: Iasl) -> None:
    mcfg = iasl.disassemble(TABLES["MCFG"].to_bytes())
    assert mcfg.values("Base Address") == ["00000000E0000000", "0000000100000000"]
    assert mcfg.values("Segment Group Number") == ["0000", "0001"]
    assert mcfg.values("End Bus Number") == ["FF", "FF"]


def test_iasl_reads_the_srat_affinities(iasl: Iasl) -> None:
    srat = iasl.disassemble(TABLES["SRAT"].to_bytes())
    assert srat.value("Table Revision") == "00000001"
    assert srat.values("Proximity Domain") == ["00000000", "00000001", "00000000", "00000001"]
    assert srat.value("Proximity Domain Low(8)") == "01"
    assert srat.values("Base Address") == ["0000000000000000", "0000000100000000"]
    assert srat.values("Address Length") == ["0000000080000000", "0000000040000000"]
    assert srat.values("Hot Pluggable") == ["0", "1"]


def test_iasl_reads_the_slit_matrix(iasl: Iasl) -> None:
    slit = iasl.disassemble(TABLES["SLIT"].to_bytes())
    assert slit.value("Localities") == "0000000000000003"
    assert slit.value("Locality   1") == "14 0A 19"


def test_iasl_reads_the_xsdt_entries(iasl: Iasl) -> None:
    xsdt = iasl.disassemble(TABLES["XSDT"].to_bytes())
    assert xsdt.value("ACPI Table Address   2") == "0000000100000000"


def test_iasl_disassembles_the_dsdt_to_the_asl_it_was_built_from(iasl: Iasl) -> None:
    source = iasl.disassemble(TABLES["DSDT"].to_bytes()).source
    assert 'DefinitionBlock ("", "DSDT", 2, "CLOUDH", "CHTABLE ", 0x00000002)' in source
    assert 'Name (_HID, EisaId ("PNP0C0C")' in source
    assert "Name (_S5, Package (0x02)" in source


def test_rsdp_equals_what_iasl_compiles_from_the_same_fields(iasl: Iasl) -> None:
    ours = Rsdp(xsdt_address=0x1234_5678_9ABC, oem_id="CLOUDH").to_bytes()
    theirs = iasl.compile(
        '[0008]  Signature : "RSD PTR "\n'
        "[0001]  Checksum : 00\n"
        '[0006]  Oem ID : "CLOUDH"\n'
        "[0001]  Revision : 02\n"
        "[0004]  RSDT Address : 00000000\n"
        "[0004]  Length : 00000024\n"
        "[0008]  XSDT Address : 0000123456789ABC\n"
        "[0001]  Extended Checksum : 00\n"
        "[0003]  Reserved : 000000\n"
    )
    assert ours == theirs


def test_tables_survive_acpidump_text_and_acpixtract(acpidump: AcpiDump) -> None:
    tables = [table.to_bytes() for table in TABLES.values()]
    extracted = acpidump.extract(acpidump.dump(tables))
    assert sorted(extracted.values()) == sorted(tables)
