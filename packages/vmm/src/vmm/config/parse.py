"""VM options (`--cpus`, `--memory`, `--serial`, ...) from CH's `key=value` syntax to a VmConfig.

`VmParams` holds each option's raw text, as CH's `VmParams` does, with CH's
command-line defaults; `parse_vm_config` turns it into a VmConfig. Parsing
checks syntax and types only; `vmm.config.validate` checks that the whole
configuration can boot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from vmm.config.errors import OptionError
from vmm.config.model import (
    DEFAULT_CONSOLE_MODE,
    DEFAULT_MAX_PHYS_BITS,
    DEFAULT_MEMORY_SIZE,
    DEFAULT_VCPUS,
    CoreScheduling,
    CpuAffinity,
    CpuFeatures,
    CpuProfile,
    CpusConfig,
    CpuTopology,
    HotplugMethod,
    MemoryConfig,
    MemoryZoneConfig,
    PayloadConfig,
    VmConfig,
)
from vmm.config.options import OptionParser
from vmm.config.parse_consoles import parse_console, parse_debug_console, parse_serial
from vmm.config.parse_devices import (
    parse_balloon,
    parse_device,
    parse_disk,
    parse_fs,
    parse_generic_vhost_user,
    parse_net,
    parse_pmem,
    parse_rate_limit_group,
    parse_rng,
    parse_rtc,
    parse_user_device,
    parse_vdpa,
    parse_vsock,
)
from vmm.config.parse_platform import (
    parse_landlock_rule,
    parse_numa,
    parse_pci_segment,
    parse_platform,
    parse_tpm,
)
from vmm.config.values import (
    U16_MAX,
    U32_MAX,
    choice,
    parse_int,
    parse_integer_list,
    parse_string_list,
    parse_tuple_list,
)

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = ["VmParams", "parse_cpus", "parse_memory", "parse_memory_zone", "parse_vm_config"]

T = TypeVar("T")
_HOTPLUG_METHODS = {"acpi": HotplugMethod.ACPI, "virtio-mem": HotplugMethod.VIRTIO_MEM}
_CORE_SCHEDULING = {"vm": CoreScheduling.VM, "vcpu": CoreScheduling.VCPU, "off": CoreScheduling.OFF}


@dataclass(frozen=True, kw_only=True)
class VmParams:
    """Each VM option's raw text, defaults as on CH's command line; repeated options as tuples."""

    cpus: str = f"boot={DEFAULT_VCPUS},max_phys_bits={DEFAULT_MAX_PHYS_BITS}"
    memory: str = f"size={DEFAULT_MEMORY_SIZE >> 20}M"
    memory_zones: tuple[str, ...] = ()
    firmware: str | None = None
    kernel: str | None = None
    initramfs: str | None = None
    cmdline: str | None = None
    rate_limit_groups: tuple[str, ...] = ()
    disks: tuple[str, ...] = ()
    net: tuple[str, ...] = ()
    rng: str = "src=/dev/urandom"
    balloon: str | None = None
    fs: tuple[str, ...] = ()
    generic_vhost_user: tuple[str, ...] = ()
    pmem: tuple[str, ...] = ()
    serial: str = "null"
    console: str = DEFAULT_CONSOLE_MODE.value.lower()
    debug_console: str = "off,iobase=0xe9"
    devices: tuple[str, ...] = ()
    user_devices: tuple[str, ...] = ()
    vdpa: tuple[str, ...] = ()
    vsock: str | None = None
    pvpanic: bool = False
    numa: tuple[str, ...] = ()
    watchdog: bool = False
    rtc: str | None = None
    pci_segments: tuple[str, ...] = ()
    platform: str | None = None
    tpm: str | None = None
    landlock_enable: bool = False
    landlock_rules: tuple[str, ...] = ()


def _topology(text: str) -> CpuTopology:
    parts = text.split(":")
    if len(parts) != 4:
        raise ValueError("expected threads_per_core:cores_per_die:dies_per_package:packages")
    threads, cores, dies, packages = (parse_int(part, 0, U16_MAX) for part in parts)
    return CpuTopology(
        threads_per_core=threads, cores_per_die=cores, dies_per_package=dies, packages=packages
    )


def _u32(text: str) -> int:
    return parse_int(text, 0, U32_MAX)


def _u64_list(text: str) -> tuple[int, ...]:
    return parse_integer_list(text)


def parse_cpus(text: str) -> CpusConfig:
    """`--cpus boot=,max=,topology=t:c:d:p,kvm_hyperv=,max_phys_bits=,affinity=,...`."""
    parser = OptionParser(
        "--cpus",
        (
            "boot", "max", "topology", "kvm_hyperv", "max_phys_bits", "affinity", "features",
            "nested", "core_scheduling", "profile",
        ),
    ).parse(text)  # fmt: skip
    boot = _or(parser.u32("boot"), DEFAULT_VCPUS)
    affinity = parser.convert_raw("affinity", lambda raw: parse_tuple_list(raw, _u32, _u64_list))
    features = CpuFeatures()
    for feature in parser.convert_raw("features", parse_string_list) or ():
        if feature != "amx":
            raise OptionError(
                "--cpus", f"invalid feature in features list: {feature}", key="features"
            )
        features = CpuFeatures(amx=True)
    scheduling = parser.convert("core_scheduling", choice(_CORE_SCHEDULING))
    profile = parser.convert("profile", choice({"host": CpuProfile.HOST}))
    return CpusConfig(
        boot_vcpus=boot,
        max_vcpus=_or(parser.u32("max"), boot),
        topology=parser.convert("topology", _topology),
        kvm_hyperv=parser.toggle("kvm_hyperv", False),
        max_phys_bits=_or(parser.u8("max_phys_bits"), DEFAULT_MAX_PHYS_BITS),
        affinity=None
        if affinity is None
        else tuple(CpuAffinity(vcpu=vcpu, host_cpus=cpus) for vcpu, cpus in affinity),
        features=features,
        nested=parser.toggle("nested", True),
        core_scheduling=CoreScheduling.VM if scheduling is None else scheduling,
        profile=CpuProfile.HOST if profile is None else profile,
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def parse_memory(text: str, zones: tuple[str, ...] = ()) -> MemoryConfig:
    """`--memory size=,mergeable=,shared=,hugepages=,hugepage_size=,hotplug_*=,...`."""
    parser = OptionParser(
        "--memory",
        (
            "size", "mergeable", "hotplug_method", "hotplug_size", "hotplugged_size", "shared",
            "hugepages", "hugepage_size", "prefault", "reserve", "thp",
        ),
    ).parse(text)  # fmt: skip
    mergeable = parser.toggle("mergeable", False)
    method = parser.convert("hotplug_method", choice(_HOTPLUG_METHODS))
    return MemoryConfig(
        size=_or(parser.size("size"), DEFAULT_MEMORY_SIZE),
        mergeable=mergeable,
        hotplug_method=HotplugMethod.ACPI if method is None else method,
        hotplug_size=parser.size("hotplug_size"),
        hotplugged_size=parser.size("hotplugged_size"),
        shared=parser.toggle("shared", False),
        hugepages=parser.toggle("hugepages", False),
        hugepage_size=parser.size("hugepage_size"),
        prefault=parser.toggle("prefault", False),
        reserve=parser.toggle("reserve", False),
        zones=tuple(parse_memory_zone(zone, mergeable) for zone in zones) or None,
        thp=parser.toggle("thp", True),
    )


def parse_memory_zone(text: str, mergeable: bool = False) -> MemoryZoneConfig:
    """`--memory-zone id=,size=,file=,shared=,hugepages=,host_numa_node=,...`."""
    parser = OptionParser(
        "--memory-zone",
        (
            "id", "size", "file", "shared", "hugepages", "hugepage_size", "host_numa_node",
            "hotplug_size", "hotplugged_size", "prefault", "reserve", "mergeable",
        ),
    ).parse(text)  # fmt: skip
    zone_id = parser.get("id")
    if zone_id is None:
        raise parser.missing("id")
    return MemoryZoneConfig(
        id=zone_id,
        size=_or(parser.size("size"), DEFAULT_MEMORY_SIZE),
        file=parser.get("file"),
        shared=parser.toggle("shared", False),
        hugepages=parser.toggle("hugepages", False),
        hugepage_size=parser.size("hugepage_size"),
        host_numa_node=parser.u32("host_numa_node"),
        hotplug_size=parser.size("hotplug_size"),
        hotplugged_size=parser.size("hotplugged_size"),
        prefault=parser.toggle("prefault", False),
        reserve=parser.toggle("reserve", False),
        mergeable=parser.toggle("mergeable", mergeable),
    )


def _many(items: tuple[str, ...], parse: Callable[[str], T]) -> tuple[T, ...] | None:
    return tuple(parse(item) for item in items) or None


def parse_vm_config(params: VmParams) -> VmConfig:
    """Every option of `params` parsed into a VmConfig (not yet validated)."""
    payload = None
    if params.kernel is not None or params.firmware is not None:
        payload = PayloadConfig(
            kernel=params.kernel,
            firmware=params.firmware,
            initramfs=params.initramfs,
            cmdline=params.cmdline,
        )
    return VmConfig(
        cpus=parse_cpus(params.cpus),
        memory=parse_memory(params.memory, params.memory_zones),
        payload=payload,
        rate_limit_groups=_many(params.rate_limit_groups, parse_rate_limit_group),
        disks=_many(params.disks, parse_disk),
        net=_many(params.net, parse_net),
        rng=parse_rng(params.rng),
        balloon=None if params.balloon is None else parse_balloon(params.balloon),
        generic_vhost_user=_many(params.generic_vhost_user, parse_generic_vhost_user),
        fs=_many(params.fs, parse_fs),
        pmem=_many(params.pmem, parse_pmem),
        serial=parse_serial(params.serial),
        console=parse_console(params.console),
        debug_console=parse_debug_console(params.debug_console),
        devices=_many(params.devices, parse_device),
        user_devices=_many(params.user_devices, parse_user_device),
        vdpa=_many(params.vdpa, parse_vdpa),
        vsock=None if params.vsock is None else parse_vsock(params.vsock),
        pvpanic=params.pvpanic,
        numa=_many(params.numa, parse_numa),
        watchdog=params.watchdog,
        rtc=None if params.rtc is None else parse_rtc(params.rtc),
        pci_segments=_many(params.pci_segments, parse_pci_segment),
        platform=None if params.platform is None else parse_platform(params.platform),
        tpm=None if params.tpm is None else parse_tpm(params.tpm),
        landlock_enable=params.landlock_enable,
        landlock_rules=_many(params.landlock_rules, parse_landlock_rule),
    )
