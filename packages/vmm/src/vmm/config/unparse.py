"""VmConfig back to command-line options: the inverse of `parse_vm_config`.

Used to show a configuration as the command line that builds it, and by the
property tests that check parse(unparse(config)) == config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from vmm.config.devices import (
    BalloonConfig,
    DeviceConfig,
    DiskConfig,
    FsConfig,
    GenericVhostUserConfig,
    NetConfig,
    PciDeviceCommon,
    PmemConfig,
    RateLimiterConfig,
    RateLimiterGroupConfig,
    RngConfig,
    RtcConfig,
    UserDeviceConfig,
    VdpaConfig,
    VsockConfig,
)
from vmm.config.model import (
    ConsoleConfig,
    ConsoleOutputMode,
    CpusConfig,
    DebugConsoleConfig,
    LandlockConfig,
    MemoryConfig,
    MemoryZoneConfig,
    NumaConfig,
    PayloadConfig,
    PciSegmentConfig,
    PlatformConfig,
    SerialConfig,
    TpmConfig,
    VmConfig,
)
from vmm.config.parse import VmParams
from vmm.config.values import format_integer_list, format_size, format_toggle, quote

__all__ = ["to_vm_params"]

T = TypeVar("T")
_Pairs = list[tuple[str, str | None]]


# key=value pairs that every option having the key parses to when the key is
# left out: written back they would only add noise. Defaults that differ
# between options (num_queues, queue_size) or depend on other keys (max,
# mergeable of a zone, iommufd) are passed to _join by the option that has them.
_DEFAULTS = frozenset(
    {
        ("iommu", "off"), ("pci_segment", "0"), ("readonly", "off"), ("direct", "off"),
        ("vhost_user", "off"), ("_disable_io_uring", "off"), ("_disable_aio", "off"),
        ("backing_files", "off"), ("sparse", "on"), ("kvm_hyperv", "off"), ("nested", "on"),
        ("core_scheduling", "vm"), ("profile", "host"), ("max_phys_bits", "46"),
        ("hotplug_method", "acpi"), ("shared", "off"), ("hugepages", "off"),
        ("prefault", "off"), ("reserve", "off"), ("thp", "on"), ("vhost_mode", "client"),
        ("offload_tso", "on"), ("offload_ufo", "on"), ("offload_csum", "on"),
        ("deflate_on_oom", "off"), ("free_page_reporting", "off"), ("discard_writes", "off"),
        ("vfio_p2p_dma", "on"), ("iommu_address_width", "64"), ("num_pci_segments", "1"),
        ("mmio32_aperture_weight", "1"), ("mmio64_aperture_weight", "1"),
    }
)  # fmt: skip


def _join(pairs: _Pairs, *defaults: tuple[str, str]) -> str:
    """`key=value,...` without the keys that are None or at their default."""
    return ",".join(
        f"{key}={value}"
        for key, value in pairs
        if value is not None and (key, value) not in _DEFAULTS and (key, value) not in defaults
    )


def _str(value: str | None) -> str | None:
    return None if value is None else quote(value)


def _int(value: int | None) -> str | None:
    return None if value is None else str(value)


def _size(value: int | None) -> str | None:
    return None if value is None else format_size(value)


def _ints(values: Iterable[int] | None) -> str | None:
    return None if values is None else format_integer_list(tuple(values))


def _strings(values: Iterable[str] | None) -> str | None:
    return None if values is None else "[" + ",".join(quote(v) for v in values) + "]"


def _pci(device: PciDeviceCommon, *, iommu: bool = True) -> _Pairs:
    pairs: _Pairs = [
        ("id", _str(device.id)),
        ("pci_segment", str(device.pci_segment)),
        ("pci_device_id", _int(device.pci_device_id)),
    ]
    if iommu:
        pairs.append(("iommu", format_toggle(device.iommu)))
    return pairs


def _limiter(limiter: RateLimiterConfig | None) -> _Pairs:
    pairs: _Pairs = []
    for prefix, bucket in (("bw", limiter and limiter.bandwidth), ("ops", limiter and limiter.ops)):
        if bucket:
            pairs += [
                (f"{prefix}_size", str(bucket.size)),
                (f"{prefix}_one_time_burst", _int(bucket.one_time_burst)),
                (f"{prefix}_refill_time", str(bucket.refill_time)),
            ]
    return pairs


def cpus_option(cpus: CpusConfig) -> str:
    topology = cpus.topology
    affinity = None
    if cpus.affinity is not None:
        affinity = (
            "["
            + ",".join(f"{a.vcpu}@{format_integer_list(a.host_cpus)}" for a in cpus.affinity)
            + "]"
        )
    return _join(
        [
            ("boot", str(cpus.boot_vcpus)),
            ("max", str(cpus.max_vcpus)),
            (
                "topology",
                None
                if topology is None
                else f"{topology.threads_per_core}:{topology.cores_per_die}:"
                f"{topology.dies_per_package}:{topology.packages}",
            ),
            ("kvm_hyperv", format_toggle(cpus.kvm_hyperv)),
            ("max_phys_bits", str(cpus.max_phys_bits)),
            ("affinity", affinity),
            ("features", "[amx]" if cpus.features.amx else None),
            ("nested", format_toggle(cpus.nested)),
            ("core_scheduling", cpus.core_scheduling.value.lower()),
            ("profile", cpus.profile.value.lower()),
        ]
    )


def memory_option(memory: MemoryConfig) -> str:
    return _join(
        [
            ("size", format_size(memory.size)),
            ("mergeable", format_toggle(memory.mergeable)),
            ("hotplug_method", "acpi" if memory.hotplug_method.value == "Acpi" else "virtio-mem"),
            ("hotplug_size", _size(memory.hotplug_size)),
            ("hotplugged_size", _size(memory.hotplugged_size)),
            ("shared", format_toggle(memory.shared)),
            ("hugepages", format_toggle(memory.hugepages)),
            ("hugepage_size", _size(memory.hugepage_size)),
            ("prefault", format_toggle(memory.prefault)),
            ("reserve", format_toggle(memory.reserve)),
            ("thp", format_toggle(memory.thp)),
        ],
        ("mergeable", "off"),
    )


def memory_zone_option(zone: MemoryZoneConfig) -> str:
    return _join(
        [
            ("id", quote(zone.id)),
            ("size", format_size(zone.size)),
            ("file", _str(zone.file)),
            ("shared", format_toggle(zone.shared)),
            ("hugepages", format_toggle(zone.hugepages)),
            ("hugepage_size", _size(zone.hugepage_size)),
            ("host_numa_node", _int(zone.host_numa_node)),
            ("hotplug_size", _size(zone.hotplug_size)),
            ("hotplugged_size", _size(zone.hotplugged_size)),
            ("prefault", format_toggle(zone.prefault)),
            ("reserve", format_toggle(zone.reserve)),
            ("mergeable", format_toggle(zone.mergeable)),
        ]
    )


def console_option(console: SerialConfig | ConsoleConfig | DebugConsoleConfig) -> str:
    mode = console.mode
    if mode is ConsoleOutputMode.FILE:
        head = f"file={quote(console.file or '')}"
    elif mode is ConsoleOutputMode.SOCKET:
        head = f"socket={quote(getattr(console, 'socket', None) or '')}"
    else:
        head = mode.value.lower()
    pairs: _Pairs = []
    if isinstance(console, ConsoleConfig):
        pairs = _pci(console)
    elif isinstance(console, DebugConsoleConfig) and console.iobase is not None:
        pairs = [("iobase", f"{console.iobase:#x}")]
    rest = _join(pairs)
    return f"{head},{rest}" if rest else head


def disk_option(disk: DiskConfig) -> str:
    affinity = None
    if disk.queue_affinity is not None:
        affinity = (
            "["
            + ",".join(
                f"{a.queue_index}@{format_integer_list(a.host_cpus)}" for a in disk.queue_affinity
            )
            + "]"
        )
    image = {
        "FlatVmdk": "vmdk",
        "FixedVhd": "vhd",
        "Qcow2": "qcow2",
        "Raw": "raw",
        "Vhdx": "vhdx",
    }.get(disk.image_type.value)
    return _join(
        [
            *_pci(disk),
            ("path", _str(disk.path)),
            ("readonly", format_toggle(disk.readonly)),
            ("direct", format_toggle(disk.direct)),
            ("num_queues", str(disk.num_queues)),
            ("queue_size", str(disk.queue_size)),
            ("vhost_user", format_toggle(disk.vhost_user)),
            ("socket", _str(disk.vhost_socket)),
            ("rate_limit_group", _str(disk.rate_limit_group)),
            *_limiter(disk.rate_limiter_config),
            ("_disable_io_uring", format_toggle(disk.disable_io_uring)),
            ("_disable_aio", format_toggle(disk.disable_aio)),
            ("serial", _str(disk.serial)),
            ("queue_affinity", affinity),
            ("backing_files", format_toggle(disk.backing_files)),
            ("sparse", format_toggle(disk.sparse)),
            ("image_type", image),
            ("lock_granularity", "full" if disk.lock_granularity.value == "Full" else None),
        ],
        ("num_queues", "1"),
        ("queue_size", "128"),
    )


def net_option(net: NetConfig) -> str:
    return _join(
        [
            *_pci(net),
            ("tap", _str(net.tap)),
            ("ip", net.ip),
            ("mask", net.mask),
            ("mac", net.mac),
            ("host_mac", net.host_mac),
            ("mtu", _int(net.mtu)),
            ("num_queues", str(net.num_queues)),
            ("queue_size", str(net.queue_size)),
            ("vhost_user", format_toggle(net.vhost_user)),
            ("socket", _str(net.vhost_socket)),
            ("vhost_mode", net.vhost_mode.value.lower()),
            ("fd", _ints(net.fds)),
            *_limiter(net.rate_limiter_config),
            ("offload_tso", format_toggle(net.offload_tso)),
            ("offload_ufo", format_toggle(net.offload_ufo)),
            ("offload_csum", format_toggle(net.offload_csum)),
        ],
        ("num_queues", "2"),
        ("queue_size", "256"),
    )


def rng_option(rng: RngConfig) -> str:
    return _join([*_pci(rng), ("src", quote(rng.src))])


def rtc_option(rtc: RtcConfig) -> str:
    return _join(_pci(rtc))


def balloon_option(balloon: BalloonConfig) -> str:
    return _join(
        [
            *_pci(balloon),
            ("size", str(balloon.size)),
            ("deflate_on_oom", format_toggle(balloon.deflate_on_oom)),
            ("free_page_reporting", format_toggle(balloon.free_page_reporting)),
        ]
    )


def fs_option(fs: FsConfig) -> str:
    return _join(
        [
            *_pci(fs, iommu=False),
            ("tag", quote(fs.tag)),
            ("socket", quote(fs.socket)),
            ("num_queues", str(fs.num_queues)),
            ("queue_size", str(fs.queue_size)),
        ],
        ("num_queues", "1"),
        ("queue_size", "1024"),
    )


def generic_vhost_user_option(device: GenericVhostUserConfig) -> str:
    return _join(
        [
            *_pci(device, iommu=False),
            ("socket", quote(device.socket)),
            ("queue_sizes", format_integer_list(device.queue_sizes)),
            ("device_type", str(device.device_type)),
        ]
    )


def pmem_option(pmem: PmemConfig) -> str:
    return _join(
        [
            *_pci(pmem),
            ("file", quote(pmem.file)),
            ("size", _size(pmem.size)),
            ("discard_writes", format_toggle(pmem.discard_writes)),
        ]
    )


def device_option(device: DeviceConfig) -> str:
    return _join(
        [
            *_pci(device),
            ("path", _str(device.path)),
            ("fd", _int(device.fd)),
            ("x_nv_gpudirect_clique", _int(device.x_nv_gpudirect_clique)),
            (
                "x_exclude_mmap_bars",
                _ints(device.x_exclude_mmap_bars) if device.x_exclude_mmap_bars else None,
            ),
        ]
    )


def user_device_option(device: UserDeviceConfig) -> str:
    return _join([*_pci(device, iommu=False), ("socket", quote(device.socket))])


def vdpa_option(vdpa: VdpaConfig) -> str:
    pairs: _Pairs = [*_pci(vdpa), ("path", quote(vdpa.path)), ("num_queues", str(vdpa.num_queues))]
    return _join(pairs, ("num_queues", "1"))


def vsock_option(vsock: VsockConfig) -> str:
    return _join([*_pci(vsock), ("cid", str(vsock.cid)), ("socket", quote(vsock.socket))])


def rate_limit_group_option(group: RateLimiterGroupConfig) -> str:
    return _join([("id", _str(group.id or None)), *_limiter(group.rate_limiter_config)])


def numa_option(node: NumaConfig) -> str:
    distances = None
    if node.distances is not None:
        distances = "[" + ",".join(f"{d.destination}@{d.distance}" for d in node.distances) + "]"
    return _join(
        [
            ("guest_numa_id", str(node.guest_numa_id)),
            ("cpus", _ints(node.cpus)),
            ("distances", distances),
            ("memory_zones", _strings(node.memory_zones)),
            ("pci_segments", _ints(node.pci_segments)),
            ("device_id", _str(node.device_id)),
        ]
    )


def pci_segment_option(segment: PciSegmentConfig) -> str:
    return _join(
        [
            ("pci_segment", str(segment.pci_segment)),
            ("mmio32_aperture_weight", str(segment.mmio32_aperture_weight)),
            ("mmio64_aperture_weight", str(segment.mmio64_aperture_weight)),
        ]
    )


def platform_option(platform: PlatformConfig) -> str:
    return _join(
        [
            ("num_pci_segments", str(platform.num_pci_segments)),
            ("iommu_segments", _ints(platform.iommu_segments)),
            ("iommu_address_width", str(platform.iommu_address_width_bits)),
            ("system_serial_number", _str(platform.system_serial_number)),
            ("system_uuid", _str(platform.system_uuid)),
            ("oem_strings", _strings(platform.oem_strings)),
            ("system_manufacturer", _str(platform.system_manufacturer)),
            ("system_product_name", _str(platform.system_product_name)),
            ("system_version", _str(platform.system_version)),
            ("system_family", _str(platform.system_family)),
            ("system_sku_number", _str(platform.system_sku_number)),
            ("chassis_asset_tag", _str(platform.chassis_asset_tag)),
            ("iommufd", format_toggle(platform.iommufd)),
            ("iommufd_fd", _int(platform.iommufd_fd)),
            ("vfio_p2p_dma", format_toggle(platform.vfio_p2p_dma)),
        ]
    )


def tpm_option(tpm: TpmConfig) -> str:
    return f"socket={quote(tpm.socket)}"


def landlock_option(rule: LandlockConfig) -> str:
    return f"path={quote(rule.path)},access={quote(rule.access)}"


def _many(items: tuple[T, ...] | None, unparse: Callable[[T], str]) -> tuple[str, ...]:
    return tuple(unparse(item) for item in items or ())


def _one(item: T | None, unparse: Callable[[T], str]) -> str | None:
    return None if item is None else unparse(item)


def to_vm_params(config: VmConfig) -> VmParams:
    """The option strings that `parse_vm_config` turns back into `config`."""
    payload = config.payload or PayloadConfig()
    return VmParams(
        cpus=cpus_option(config.cpus),
        memory=memory_option(config.memory),
        memory_zones=_many(config.memory.zones, memory_zone_option),
        firmware=payload.firmware,
        kernel=payload.kernel,
        initramfs=payload.initramfs,
        cmdline=payload.cmdline,
        rate_limit_groups=_many(config.rate_limit_groups, rate_limit_group_option),
        disks=_many(config.disks, disk_option),
        net=_many(config.net, net_option),
        rng=rng_option(config.rng),
        balloon=_one(config.balloon, balloon_option),
        fs=_many(config.fs, fs_option),
        generic_vhost_user=_many(config.generic_vhost_user, generic_vhost_user_option),
        pmem=_many(config.pmem, pmem_option),
        serial=console_option(config.serial),
        console=console_option(config.console),
        debug_console=console_option(config.debug_console),
        devices=_many(config.devices, device_option),
        user_devices=_many(config.user_devices, user_device_option),
        vdpa=_many(config.vdpa, vdpa_option),
        vsock=_one(config.vsock, vsock_option),
        pvpanic=config.pvpanic,
        numa=_many(config.numa, numa_option),
        watchdog=config.watchdog,
        rtc=_one(config.rtc, rtc_option),
        pci_segments=_many(config.pci_segments, pci_segment_option),
        platform=_one(config.platform, platform_option),
        tpm=_one(config.tpm, tpm_option),
        landlock_enable=config.landlock_enable,
        landlock_rules=_many(config.landlock_rules, landlock_option),
    )
