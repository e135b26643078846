"""Build the RSDP, XSDT, FADT, DSDT, MADT, MCFG (and SRAT/SLIT for NUMA) and place them.

The RSDP goes at 0xE0000, where a guest booted without PVH finds it by
scanning the BIOS area, and the tables follow it up to the SMBIOS area.
PVH guests get its address in the start info, bzImage guests in the zero page.
"""

from __future__ import annotations

from acpi_tables import (
    Dsdt,
    EcamAllocation,
    Fadt,
    FadtFlags,
    GenericAddress,
    IapcBootArch,
    IoApic,
    LocalX2Apic,
    LocalX2ApicNmi,
    Madt,
    Mcfg,
    MemoryAffinity,
    Oem,
    ProcessorX2ApicAffinity,
    Rsdp,
    Slit,
    Srat,
    SratEntry,
    Xsdt,
)
from vm_devices.acpi import ACPI_SHUTDOWN_PORT, RESET_VALUE
from vm_memory import GuestMemoryMmap

from vmm.acpi.dsdt import dsdt_body
from vmm.acpi.platform import AcpiPlatform
from vmm.arch import layout
from vmm.errors import VmmError

OEM = Oem("CLOUDH")  # Cloud Hypervisor's OEM id: guests that look for it find it
_ALIGN = 8


def _oem(table_id: str) -> Oem:
    return Oem(OEM.oem_id, table_id, OEM.revision)


def build_acpi_tables(
    platform: AcpiPlatform, rsdp_address: int = layout.RSDP_ADDRESS
) -> list[tuple[int, bytes]]:
    """Every table as (guest address, bytes), the RSDP first."""
    placed: list[tuple[int, bytes]] = []
    cursor = rsdp_address + Rsdp.SIZE

    def place(table: bytes) -> int:
        nonlocal cursor
        address = (cursor + _ALIGN - 1) & ~(_ALIGN - 1)
        placed.append((address, table))
        cursor = address + len(table)
        return address

    dsdt = place(Dsdt(dsdt_body(platform), revision=6, oem=_oem("CHDSDT")).to_bytes())
    entries = [
        place(fadt(platform, dsdt).to_bytes()),
        place(madt(platform).to_bytes()),
        place(mcfg(platform).to_bytes()),
    ]
    if platform.numa:
        entries.append(place(srat(platform).to_bytes()))
        entries.append(place(slit(platform).to_bytes()))
    xsdt = place(Xsdt(entries, oem=_oem("CHXSDT")).to_bytes())
    if cursor > layout.ACPI_TABLES_END:
        raise VmmError(
            f"the ACPI tables take {cursor - rsdp_address} bytes, more than the "
            f"{layout.ACPI_TABLES_END - rsdp_address} bytes of the BIOS area they go in"
        )
    return [(rsdp_address, Rsdp(xsdt, oem_id=OEM.oem_id).to_bytes()), *placed]


def write_acpi_tables(memory: GuestMemoryMmap, platform: AcpiPlatform) -> int:
    """Write the tables into guest memory; returns the RSDP's address."""
    tables = build_acpi_tables(platform)
    for address, table in tables:
        memory.write(address, table)
    return tables[0][0]


def fadt(platform: AcpiPlatform, dsdt_address: int) -> Fadt:
    """Hardware-reduced: the sleep and reset registers are one port, as in CH."""
    register = GenericAddress.io_port(ACPI_SHUTDOWN_PORT)
    return Fadt(
        dsdt_address=dsdt_address,
        flags=FadtFlags.HW_REDUCED_ACPI | FadtFlags.TMR_VAL_EXT,
        reset_register=register,
        reset_value=RESET_VALUE,
        sleep_control_register=register,
        sleep_status_register=register,
        iapc_boot_arch=IapcBootArch.VGA_NOT_PRESENT,
        minor_version=3,
        hypervisor_vendor="CLOUDHYP",
        oem=_oem("CHFACP"),
    )


def madt(platform: AcpiPlatform) -> Madt:
    """One x2APIC entry per vCPU (APIC id = vCPU index), the I/O APIC, LINT1 as NMI."""
    cpus = [LocalX2Apic(processor_uid=cpu, x2apic_id=cpu) for cpu in range(platform.vcpus)]
    return Madt(
        [
            *cpus,
            IoApic(io_apic_id=0, address=layout.IOAPIC_START, gsi_base=0),
            LocalX2ApicNmi(),
        ],
        local_apic_address=layout.APIC_START,
        oem=_oem("CHMADT"),
    )


def mcfg(platform: AcpiPlatform) -> Mcfg:
    """Segment 0's ECAM, bus 0 only (what the host bridge's _CRS gives)."""
    return Mcfg([EcamAllocation(platform.ecam_address, end_bus=0)], oem=_oem("CHMCFG"))


def srat(platform: AcpiPlatform) -> Srat:
    entries: list[SratEntry] = []
    for node in platform.numa:
        entries += [ProcessorX2ApicAffinity(node.node_id, cpu) for cpu in node.cpus]
        entries += [MemoryAffinity(node.node_id, start, size) for start, size in node.memory]
    return Srat(entries, oem=_oem("CHSRAT"))


def slit(platform: AcpiPlatform) -> Slit:
    """Distances in node order: 10 to itself, the given distance, else 20 (CH's default)."""
    ids = [node.node_id for node in platform.numa]
    matrix = []
    for node in platform.numa:
        given = dict(node.distances)
        matrix.append([10 if other == node.node_id else given.get(other, 20) for other in ids])
    return Slit(matrix, oem=_oem("CHSLIT"))
