"""VmConfig: the whole description of a VM, shaped and named like Cloud Hypervisor's.

Field names, nesting and defaults follow CH's `vm_config.rs` and the JSON of
its OpenAPI spec, so that `VmConfig.from_json` takes what `ch-remote create`
sends. The one difference of shape: CH nests common PCI fields and console
fields in structs that serde flattens; here they are plain fields of each
device, which is what the JSON shows anyway.

A dataclass field's default is the default CH applies when the JSON leaves the
field out; a field without a default is required in the JSON. Integers carry
their Rust width (`U16`, `U32`, ...) so that JSON decoding can range-check them.
All dataclasses are frozen: use `dataclasses.replace` to derive a new config.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from vmm.config.devices import (
    DEFAULT_RNG_SOURCE,
    BalloonConfig,
    DeviceConfig,
    DiskConfig,
    FsConfig,
    GenericVhostUserConfig,
    NetConfig,
    PciDeviceCommon,
    PmemConfig,
    RateLimiterGroupConfig,
    RngConfig,
    RtcConfig,
    UserDeviceConfig,
    VdpaConfig,
    VsockConfig,
)
from vmm.config.kinds import U8, U16, U32, U64, USIZE, Fd

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = [
    "DEBUG_CONSOLE_AVAILABLE",
    "DEFAULT_CONSOLE_MODE",
    "DEFAULT_MAX_PHYS_BITS",
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_RNG_SOURCE",
    "DEFAULT_VCPUS",
    "SERIAL_MODES_AVAILABLE",
    "VIRTIO_CONSOLE_AVAILABLE",
    "ConsoleConfig",
    "ConsoleOutputMode",
    "CoreScheduling",
    "CpuAffinity",
    "CpuFeatures",
    "CpuProfile",
    "CpuTopology",
    "CpusConfig",
    "DebugConsoleConfig",
    "HotplugMethod",
    "LandlockConfig",
    "MemoryConfig",
    "MemoryZoneConfig",
    "NumaConfig",
    "NumaDistance",
    "PayloadConfig",
    "PciSegmentConfig",
    "PlatformConfig",
    "SerialConfig",
    "TpmConfig",
    "VmConfig",
]


class ConsoleOutputMode(enum.Enum):
    """Where a console's output goes (the JSON spelling is the value)."""

    OFF = "Off"
    PTY = "Pty"
    TTY = "Tty"
    FILE = "File"
    SOCKET = "Socket"
    NULL = "Null"


# What this VMM can run today, in one place (validate.py rejects the rest with
# a "not available yet" error instead of silently ignoring it). CH's default is
# `--console tty`: the virtio-console on the terminal.
VIRTIO_CONSOLE_AVAILABLE = True
DEFAULT_CONSOLE_MODE = ConsoleOutputMode.TTY if VIRTIO_CONSOLE_AVAILABLE else ConsoleOutputMode.OFF
SERIAL_MODES_AVAILABLE = frozenset(
    {ConsoleOutputMode.OFF, ConsoleOutputMode.NULL, ConsoleOutputMode.TTY, ConsoleOutputMode.FILE}
)
CONSOLE_MODES_AVAILABLE = SERIAL_MODES_AVAILABLE
DEBUG_CONSOLE_AVAILABLE = False


class HotplugMethod(enum.Enum):
    ACPI = "Acpi"
    VIRTIO_MEM = "VirtioMem"


class CoreScheduling(enum.Enum):
    """Core scheduling cookies: all vCPUs share one (Vm), one per vCPU, or none."""

    VM = "Vm"
    VCPU = "Vcpu"
    OFF = "Off"


class CpuProfile(enum.Enum):
    HOST = "Host"


DEFAULT_VCPUS = 1
# PVH boot limits guest physical addresses to 46 bits even on 5-level hosts.
DEFAULT_MAX_PHYS_BITS = 46
DEFAULT_MEMORY_SIZE = 512 << 20


@dataclass(frozen=True, kw_only=True)
class CpuAffinity:
    vcpu: U32
    host_cpus: tuple[USIZE, ...]


@dataclass(frozen=True, kw_only=True)
class CpuFeatures:
    amx: bool = False


@dataclass(frozen=True, kw_only=True)
class CpuTopology:
    threads_per_core: U16
    cores_per_die: U16
    dies_per_package: U16
    packages: U16


@dataclass(frozen=True, kw_only=True)
class CpusConfig:
    boot_vcpus: U32
    max_vcpus: U32
    topology: CpuTopology | None = None
    kvm_hyperv: bool = False
    max_phys_bits: U8 = DEFAULT_MAX_PHYS_BITS
    affinity: tuple[CpuAffinity, ...] | None = None
    features: CpuFeatures = CpuFeatures()
    nested: bool = True
    core_scheduling: CoreScheduling = CoreScheduling.VM
    profile: CpuProfile = CpuProfile.HOST


@dataclass(frozen=True, kw_only=True)
class PlatformConfig:
    JSON_ALIASES: ClassVar[Mapping[str, str]] = {
        "serial_number": "system_serial_number",
        "uuid": "system_uuid",
    }

    num_pci_segments: U16 = 1
    iommu_segments: tuple[U16, ...] | None = None
    iommu_address_width_bits: U8 = 64
    system_serial_number: str | None = None
    system_uuid: str | None = None
    oem_strings: tuple[str, ...] | None = None
    system_manufacturer: str | None = None
    system_product_name: str | None = None
    system_version: str | None = None
    system_family: str | None = None
    system_sku_number: str | None = None
    chassis_asset_tag: str | None = None
    iommufd: bool = False
    iommufd_fd: Fd | None = None
    vfio_p2p_dma: bool = True


@dataclass(frozen=True, kw_only=True)
class PciSegmentConfig:
    pci_segment: U16 = 0
    mmio32_aperture_weight: U32 = 1
    mmio64_aperture_weight: U32 = 1


@dataclass(frozen=True, kw_only=True)
class MemoryZoneConfig:
    id: str
    size: U64
    file: str | None = None
    shared: bool = False
    hugepages: bool = False
    hugepage_size: U64 | None = None
    host_numa_node: U32 | None = None
    hotplug_size: U64 | None = None
    hotplugged_size: U64 | None = None
    prefault: bool = False
    reserve: bool = False
    mergeable: bool = False


@dataclass(frozen=True, kw_only=True)
class MemoryConfig:
    size: U64
    mergeable: bool = False
    hotplug_method: HotplugMethod = HotplugMethod.ACPI
    hotplug_size: U64 | None = None
    hotplugged_size: U64 | None = None
    shared: bool = False
    hugepages: bool = False
    hugepage_size: U64 | None = None
    prefault: bool = False
    reserve: bool = False
    zones: tuple[MemoryZoneConfig, ...] | None = None
    thp: bool = True

    def total_size(self) -> int:
        """Boot RAM plus every zone plus what was hotplugged: what the guest has in all."""
        zones = self.zones or ()
        return (
            self.size
            + sum(zone.size for zone in zones)
            + (self.hotplugged_size or 0)
            + sum(zone.hotplugged_size or 0 for zone in zones)
        )


@dataclass(frozen=True, kw_only=True)
class PayloadConfig:
    """What to boot: a kernel (with optional initramfs and command line) or a firmware."""

    firmware: str | None = None
    kernel: str | None = None
    cmdline: str | None = None
    initramfs: str | None = None


@dataclass(frozen=True, kw_only=True)
class SerialConfig:
    """The legacy 16550 serial port on 0x3f8."""

    mode: ConsoleOutputMode
    file: str | None = None
    socket: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConsoleConfig(PciDeviceCommon):
    """The virtio-console device."""

    mode: ConsoleOutputMode
    file: str | None = None
    socket: str | None = None


@dataclass(frozen=True, kw_only=True)
class DebugConsoleConfig:
    """The debug port (Bochs/QEMU style, port 0xe9 by default)."""

    mode: ConsoleOutputMode
    file: str | None = None
    iobase: U16 | None = None


@dataclass(frozen=True, kw_only=True)
class NumaDistance:
    destination: U32 = 0
    distance: U8 = 0


@dataclass(frozen=True, kw_only=True)
class NumaConfig:
    guest_numa_id: U32
    cpus: tuple[U32, ...] | None = None
    distances: tuple[NumaDistance, ...] | None = None
    memory_zones: tuple[str, ...] | None = None
    pci_segments: tuple[U16, ...] | None = None
    device_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TpmConfig:
    socket: str


@dataclass(frozen=True, kw_only=True)
class LandlockConfig:
    path: str
    access: str


DEBUG_CONSOLE_PORT = 0xE9


@dataclass(frozen=True, kw_only=True)
class VmConfig:
    """A whole VM. Build it from the command line (`vmm.config.parse_vm_config`) or JSON."""

    cpus: CpusConfig = CpusConfig(boot_vcpus=DEFAULT_VCPUS, max_vcpus=DEFAULT_VCPUS)
    memory: MemoryConfig = MemoryConfig(size=DEFAULT_MEMORY_SIZE)
    payload: PayloadConfig | None = None
    rate_limit_groups: tuple[RateLimiterGroupConfig, ...] | None = None
    disks: tuple[DiskConfig, ...] | None = None
    net: tuple[NetConfig, ...] | None = None
    rng: RngConfig = RngConfig(src=DEFAULT_RNG_SOURCE)
    balloon: BalloonConfig | None = None
    generic_vhost_user: tuple[GenericVhostUserConfig, ...] | None = None
    fs: tuple[FsConfig, ...] | None = None
    pmem: tuple[PmemConfig, ...] | None = None
    serial: SerialConfig = SerialConfig(mode=ConsoleOutputMode.NULL)
    console: ConsoleConfig = ConsoleConfig(mode=DEFAULT_CONSOLE_MODE)
    debug_console: DebugConsoleConfig = DebugConsoleConfig(
        mode=ConsoleOutputMode.OFF, iobase=DEBUG_CONSOLE_PORT
    )
    devices: tuple[DeviceConfig, ...] | None = None
    user_devices: tuple[UserDeviceConfig, ...] | None = None
    vdpa: tuple[VdpaConfig, ...] | None = None
    vsock: VsockConfig | None = None
    pvpanic: bool = False
    iommu: bool = False
    numa: tuple[NumaConfig, ...] | None = None
    watchdog: bool = False
    rtc: RtcConfig | None = None
    pci_segments: tuple[PciSegmentConfig, ...] | None = None
    platform: PlatformConfig | None = None
    tpm: TpmConfig | None = None
    landlock_enable: bool = False
    landlock_rules: tuple[LandlockConfig, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """CH's JSON form as plain dicts and lists (fields that are None are left out)."""
        from vmm.config.json import to_json

        return to_json(self)

    @classmethod
    def from_json(cls, document: object) -> VmConfig:
        """Decode CH's JSON form; raises JsonError naming the path of an unknown or bad field."""
        from vmm.config.json import from_json

        return from_json(cls, document)
