"""The Fixed ACPI Description Table (ACPI 6.5, 5.2.9), revision 6: 276 bytes.

A VMM without the PC's fixed ACPI hardware (PM1 blocks, GPE blocks, SCI)
sets HW_REDUCED_ACPI and describes only what it has: the DSDT's address, a
reset register, and the sleep control and status registers through which
the guest powers off (S5) and which it polls.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from acpi_tables.errors import AcpiError, check_ascii, check_uint
from acpi_tables.gas import AddressSpaceId, GenericAddress
from acpi_tables.sdt import Oem, Sdt

__all__ = ["Fadt", "FadtFlags", "IapcBootArch", "PmProfile"]

LENGTH = 276

# Offsets from the start of the table (ACPI 6.5, Table 5.9).
FIRMWARE_CTRL = 36
PREFERRED_PM_PROFILE = 45
SCI_INT = 46
PM1A_EVT_BLK = 56
PM1A_CNT_BLK = 64
PM1_EVT_LEN = 88
PM1_CNT_LEN = 89
IAPC_BOOT_ARCH = 109
FLAGS = 112
RESET_REG = 116
RESET_VALUE = 128
FADT_MINOR_VERSION = 131
X_FIRMWARE_CTRL = 132
X_DSDT = 140
X_PM1A_EVT_BLK = 148
X_PM1A_CNT_BLK = 172
X_PM_TMR_BLK = 208
SLEEP_CONTROL_REG = 244
SLEEP_STATUS_REG = 256
HYPERVISOR_VENDOR_IDENTITY = 268


class FadtFlags(enum.IntFlag):
    """The FADT's Flags field (Table 5.10)."""

    WBINVD = 1 << 0
    WBINVD_FLUSH = 1 << 1
    PROC_C1 = 1 << 2
    P_LVL2_UP = 1 << 3
    PWR_BUTTON = 1 << 4  # 1: the power button is a control method device, not fixed hardware
    SLP_BUTTON = 1 << 5
    FIX_RTC = 1 << 6
    RTC_S4 = 1 << 7
    TMR_VAL_EXT = 1 << 8
    DCK_CAP = 1 << 9
    RESET_REG_SUP = 1 << 10
    SEALED_CASE = 1 << 11
    HEADLESS = 1 << 12
    CPU_SW_SLP = 1 << 13
    PCI_EXP_WAK = 1 << 14
    USE_PLATFORM_CLOCK = 1 << 15
    S4_RTC_STS_VALID = 1 << 16
    REMOTE_POWER_ON_CAPABLE = 1 << 17
    FORCE_APIC_CLUSTER_MODEL = 1 << 18
    FORCE_APIC_PHYSICAL_DESTINATION_MODE = 1 << 19
    HW_REDUCED_ACPI = 1 << 20
    LOW_POWER_S0_IDLE_CAPABLE = 1 << 21


class IapcBootArch(enum.IntFlag):
    """IA-PC boot architecture flags (Table 5.11): legacy hardware the guest may not probe."""

    LEGACY_DEVICES = 1 << 0
    I8042 = 1 << 1  # an 8042 keyboard controller is present
    VGA_NOT_PRESENT = 1 << 2
    MSI_NOT_SUPPORTED = 1 << 3
    PCIE_ASPM_CONTROLS = 1 << 4
    CMOS_RTC_NOT_PRESENT = 1 << 5


NO_BOOT_ARCH_FLAGS = IapcBootArch(0)


class PmProfile(enum.IntEnum):
    """The preferred power management profile."""

    UNSPECIFIED = 0
    DESKTOP = 1
    MOBILE = 2
    WORKSTATION = 3
    ENTERPRISE_SERVER = 4
    SOHO_SERVER = 5
    APPLIANCE_PC = 6
    PERFORMANCE_SERVER = 7
    TABLET = 8


@dataclass(frozen=True)
class Fadt:
    """A revision 6 FADT; the fields a VMM sets, every other one zero.

    A register left None is the zero GAS (absent). Giving `reset_register`
    sets RESET_REG_SUP, since that flag means exactly that the register is
    there. `pm1a_event_block` and `pm1a_control_block` (for guests that
    insist on them even when hardware-reduced) also fill the 32-bit port
    fields and their lengths.
    """

    dsdt_address: int
    flags: FadtFlags = FadtFlags.HW_REDUCED_ACPI
    reset_register: GenericAddress | None = None
    reset_value: int = 0
    sleep_control_register: GenericAddress | None = None
    sleep_status_register: GenericAddress | None = None
    pm_timer_block: GenericAddress | None = None
    pm1a_event_block: GenericAddress | None = None
    pm1a_control_block: GenericAddress | None = None
    facs_address: int = 0
    sci_interrupt: int = 0
    pm_profile: PmProfile = PmProfile.UNSPECIFIED
    iapc_boot_arch: IapcBootArch = NO_BOOT_ARCH_FLAGS
    minor_version: int = 5
    hypervisor_vendor: str = ""
    oem: Oem = field(default_factory=Oem)

    SIGNATURE = "FACP"
    REVISION = 6

    def __post_init__(self) -> None:
        check_uint("Fadt.dsdt_address", self.dsdt_address, 64)
        check_uint("Fadt.flags", self.flags, 32)
        check_uint("Fadt.reset_value", self.reset_value, 8)
        check_uint("Fadt.facs_address", self.facs_address, 64)
        check_uint("Fadt.sci_interrupt", self.sci_interrupt, 16)
        check_uint("Fadt.minor_version", self.minor_version, 4)
        check_ascii("Fadt.hypervisor_vendor", self.hypervisor_vendor, 8)
        for name in ("pm1a_event_block", "pm1a_control_block"):
            block = getattr(self, name)
            if block is not None and (
                block.space != AddressSpaceId.SYSTEM_IO or block.bit_width % 8
            ):
                raise AcpiError(f"Fadt.{name}", block, "a PM1 block is whole bytes of I/O ports")

    @property
    def effective_flags(self) -> FadtFlags:
        """The flags written: `flags`, with RESET_REG_SUP when there is a reset register."""
        if self.reset_register is None:
            return self.flags
        return self.flags | FadtFlags.RESET_REG_SUP

    def to_sdt(self) -> Sdt:
        sdt = Sdt(self.SIGNATURE, self.REVISION, self.oem)
        sdt.append(bytes(LENGTH - len(sdt)))

        def put(offset: int, fmt: str, value: int) -> None:
            sdt.write(offset, struct.pack(fmt, value))

        def put_gas(offset: int, register: GenericAddress | None) -> None:
            sdt.write(offset, (register or GenericAddress.NONE).to_bytes())

        put(PREFERRED_PM_PROFILE, "<B", self.pm_profile)
        put(SCI_INT, "<H", self.sci_interrupt)
        put(IAPC_BOOT_ARCH, "<H", self.iapc_boot_arch)
        put(FLAGS, "<I", self.effective_flags)
        put_gas(RESET_REG, self.reset_register)
        put(RESET_VALUE, "<B", self.reset_value)
        put(FADT_MINOR_VERSION, "<B", self.minor_version)
        put(X_FIRMWARE_CTRL, "<Q", self.facs_address)
        put(X_DSDT, "<Q", self.dsdt_address)
        put_gas(X_PM_TMR_BLK, self.pm_timer_block)
        put_gas(SLEEP_CONTROL_REG, self.sleep_control_register)
        put_gas(SLEEP_STATUS_REG, self.sleep_status_register)
        for legacy, length, extended, block in (
            (PM1A_EVT_BLK, PM1_EVT_LEN, X_PM1A_EVT_BLK, self.pm1a_event_block),
            (PM1A_CNT_BLK, PM1_CNT_LEN, X_PM1A_CNT_BLK, self.pm1a_control_block),
        ):
            if block is not None:
                put(legacy, "<I", block.address)
                put(length, "<B", block.bit_width // 8)
                put_gas(extended, block)
        sdt.write(HYPERVISOR_VENDOR_IDENTITY, self.hypervisor_vendor.encode().ljust(8, b"\0"))
        return sdt

    def to_bytes(self) -> bytes:
        return self.to_sdt().to_bytes()
