"""The DSDT's AML: the devices a guest cannot probe for, named as Cloud Hypervisor names them.

Kept short on purpose: the guest's AML interpreter runs in its kernel, and
here every kernel instruction is emulated, so each object costs boot time.
"""

from __future__ import annotations

from acpi_tables import aml
from vm_devices.acpi import GED_LENGTH, S5_SLEEP_TYPE, GedEvent
from vm_devices.legacy import CMOS_BASE, CMOS_LENGTH, SERIAL_COM1_BASE, SERIAL_COM1_IRQ

from vmm.acpi.platform import AcpiPlatform

_CONF1_PORT = 0xCF8


def dsdt_body(platform: AcpiPlatform) -> list[aml.Aml]:
    body: list[aml.Aml] = [
        pci_host_bridge(platform),
        motherboard_resources(platform),
    ]
    if platform.serial:
        body.append(com1())
    body += [
        rtc(),
        aml.Name("_S5_", aml.Package([S5_SLEEP_TYPE, S5_SLEEP_TYPE, 0, 0])),
        power_button(),
        *generic_event_device(platform),
    ]
    return body


def pci_host_bridge(platform: AcpiPlatform) -> aml.Device:
    """Segment 0's PCIe host bridge: bus 0, the CONF1 ports, the 32- and 64-bit BAR windows."""
    low_first, low_last = platform.mmio32
    high_first, high_last = platform.mmio64
    resources: list[aml.ResourceDescriptor] = [
        aml.WordBusNumber(0, 0),
        aml.IO(_CONF1_PORT, _CONF1_PORT, 1, 8),
        aml.DWordMemory(low_first, low_last),
        aml.QWordMemory(high_first, high_last),
        aml.WordIO(0, _CONF1_PORT - 1),
        aml.WordIO(0xD00, 0xFFFF),
    ]
    objects: list[aml.Aml] = [
        aml.Name("_HID", aml.EisaId("PNP0A08")),
        aml.Name("_CID", aml.EisaId("PNP0A03")),
        aml.Name("_ADR", 0),
        aml.Name("_SEG", 0),
        aml.Name("_UID", 0),
        aml.Name("_CRS", aml.ResourceTemplate(resources)),
    ]
    return aml.Device("\\_SB_.PC00", objects)


def motherboard_resources(platform: AcpiPlatform) -> aml.Device:
    """PNP0C02 claims the ECAM window, which Linux wants reserved before it uses MCFG."""
    ecam = aml.Memory32Fixed(platform.ecam_address, platform.ecam_size)
    return aml.Device(
        "\\_SB_.MBRD",
        [
            aml.Name("_HID", aml.EisaId("PNP0C02")),
            aml.Name("_UID", 0),
            aml.Name("_CRS", aml.ResourceTemplate([ecam])),
        ],
    )


def com1() -> aml.Device:
    return aml.Device(
        "\\_SB_.COM1",
        [
            aml.Name("_HID", aml.EisaId("PNP0501")),
            aml.Name("_UID", 0),
            aml.Name("_DDN", "COM1"),
            aml.Name(
                "_CRS",
                aml.ResourceTemplate(
                    [
                        aml.Interrupt([SERIAL_COM1_IRQ], edge_triggered=True),
                        aml.IO(SERIAL_COM1_BASE, SERIAL_COM1_BASE, 0, 8),
                    ]
                ),
            ),
        ],
    )


def rtc() -> aml.Device:
    """The CMOS RTC's ports (it has no interrupt here)."""
    return aml.Device(
        "\\_SB_.RTC_",
        [
            aml.Name("_HID", aml.EisaId("PNP0B00")),
            aml.Name("_CRS", aml.ResourceTemplate([aml.IO(CMOS_BASE, CMOS_BASE, 1, CMOS_LENGTH)])),
        ],
    )


def power_button() -> aml.Device:
    return aml.Device(
        "\\_SB_.PWRB",
        [aml.Name("_HID", aml.EisaId("PNP0C0C")), aml.Name("_UID", 0)],
    )


def generic_event_device(platform: AcpiPlatform) -> list[aml.Aml]:
    """The GED (ACPI0013) and the controller holding its status byte (CH's GEC_).

    On the GED's interrupt the guest runs `_EVT`, which reads the status
    byte (the read clears it) and notifies the power button. CPU, memory
    and PCI hot-plug add their bits here when they exist.
    """
    address = platform.ged_address
    power = int(GedEvent.POWER_BUTTON_CHANGED)
    controller = aml.Device(
        "\\_SB_.GEC_",
        [
            aml.Name("_HID", aml.EisaId("PNP0A06")),
            aml.Name("_UID", "Generic Event Controller"),
            aml.Name(
                "_CRS",
                aml.ResourceTemplate([aml.DWordMemory(address, address + GED_LENGTH - 1)]),
            ),
            aml.OperationRegion("GDST", aml.RegionSpace.SYSTEM_MEMORY, address, GED_LENGTH),
            aml.Field(
                "GDST",
                aml.FieldAccess.BYTE,
                [aml.NamedField("GDAT", 8)],
                update=aml.FieldUpdate.WRITE_AS_ZEROS,
            ),
            aml.Method(
                "ESCN",
                [
                    aml.Store(aml.Path("GDAT"), aml.Local(0)),
                    aml.If(
                        aml.LEqual(aml.And(aml.Local(0), power), power),
                        [aml.Notify(aml.Path("\\_SB_.PWRB"), 0x80)],
                    ),
                ],
                serialized=True,
            ),
        ],
    )
    ged = aml.Device(
        "\\_SB_.GED_",
        [
            aml.Name("_HID", "ACPI0013"),
            aml.Name("_UID", 0),
            aml.Name(
                "_CRS",
                aml.ResourceTemplate([aml.Interrupt([platform.ged_irq], edge_triggered=True)]),
            ),
            aml.Method("_EVT", [aml.MethodCall("\\_SB_.GEC_.ESCN")], args=1, serialized=True),
        ],
    )
    return [controller, ged]
