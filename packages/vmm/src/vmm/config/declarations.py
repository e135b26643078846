"""Every VM option of `cloud-hypervisor`, declared once.

Each `Option` names its command-line flag, the `VmParams` field holding its
text, its arity, help summary and CH's default; each `Key` its syntax (codec),
the config field it fills and the test that proves this VMM builds it. From
this table come the parser (`parse_option`), the unparser (`format_option`),
`--help` (cli.options), the command-line defaults (`VmParams`) and the
capability gate (`vmm.config.capabilities`: a key without a proof is refused
unless left at its default). The JSON field, its type and its default are the
config dataclass field the key names (`vmm.config.model`, `devices`), which
also give the API's decoder and the OpenAPI schema. To add a key: add its field
to the dataclass and a `Key` here; a test fails until both exist and the key
is proven or refused.
"""

from __future__ import annotations

from typing import Any

from vmm.config.codecs import (
    FLAG,
    IP,
    MAC,
    SIZE,
    TOGGLE,
    Codec,
    enum_choice,
    hex_port,
    integer,
    integer_list,
    pair_list,
    string_list,
    text,
)
from vmm.config.devices import (
    DEFAULT_RNG_SOURCE,
    BalloonConfig,
    DeviceConfig,
    DiskConfig,
    FsConfig,
    GenericVhostUserConfig,
    ImageType,
    LockGranularity,
    NetConfig,
    PmemConfig,
    RateLimiterConfig,
    RateLimiterGroupConfig,
    RngConfig,
    RtcConfig,
    TokenBucketConfig,
    UserDeviceConfig,
    VdpaConfig,
    VhostMode,
    VirtQueueAffinity,
    VsockConfig,
)
from vmm.config.errors import OptionError
from vmm.config.model import (
    DEFAULT_CONSOLE_MODE,
    DEFAULT_MAX_PHYS_BITS,
    DEFAULT_MEMORY_SIZE,
    DEFAULT_VCPUS,
    ConsoleConfig,
    ConsoleOutputMode,
    CoreScheduling,
    CpuAffinity,
    CpuFeatures,
    CpuProfile,
    CpusConfig,
    CpuTopology,
    DebugConsoleConfig,
    HotplugMethod,
    LandlockConfig,
    MemoryConfig,
    MemoryZoneConfig,
    NumaConfig,
    NumaDistance,
    PciSegmentConfig,
    PlatformConfig,
    SerialConfig,
    TpmConfig,
)
from vmm.config.schema import Arity, Key, Option, Values
from vmm.config.values import U16_MAX, parse_int, quote

__all__ = ["OPTIONS", "PAYLOAD_FIELDS", "VIRTIO_FS_TAG_LEN", "VIRTIO_IDS", "by_field"]

# The options that fill VmConfig.payload rather than a field of their own name.
PAYLOAD_FIELDS = ("kernel", "firmware", "initramfs", "cmdline")

# The tests that prove a key is built (checked to exist by test_capabilities).
BOOT = "tests/test_boot.py"
DEVICES = "tests/test_guest_devices.py"
API = "tests/test_api.py"
IDS = "packages/vmm/tests/test_virtio_devices.py"
MEMORY = "packages/vm-memory/tests/test_region.py"
VCPU = "tests/test_vcpu_affinity.py"
CPUID = "packages/vmm/tests/arch/test_cpuid.py"
RUNNER = "packages/vmm/tests/test_runner.py"  # the spec carries them to vm-memory's options
BLOCK = "packages/vm-devices/tests/virtio/devices/test_block.py"
NET = "packages/vm-devices/tests/virtio/devices/test_net.py"
FIRMWARE = "tests/test_serial_console.py"
ZONES = "packages/vmm/tests/test_memory_zones.py"
ACPI_GUEST = "tests/test_acpi_guest.py"
SMBIOS = "packages/vmm/tests/arch/test_smbios.py"
TRIVIAL = "nothing to build"
DEBUG_CONSOLE_OFF = f"{TRIVIAL}: any mode but off is refused (validate)"

# virtio-fs tags are at most 36 bytes (VIRTIO_FS_TAG_LEN).
VIRTIO_FS_TAG_LEN = 36

# Device types of --generic-vhost-user by name (the virtio spec's device IDs).
VIRTIO_IDS = {
    "net": 1, "block": 2, "console": 3, "rng": 4, "balloon": 5, "iomem": 6, "rpmsg": 7,
    "scsi": 8, "9p": 9, "mac80211_wlan": 10, "rproc_serial": 11, "caif": 12,
    "memory_balloon": 13, "gpu": 16, "clock": 17, "input": 18, "vsock": 19, "crypto": 20,
    "signal_dist": 21, "pstore": 22, "iommu": 23, "mem": 24, "sound": 25, "fs": 26,
    "pmem": 27, "rpmb": 28, "mac80211_hwsim": 29, "video_encoder": 30, "video_decoder": 31,
    "scmi": 32, "nitro_sec_mod": 33, "i2c": 34, "watchdog": 35, "can": 36, "dmabuf": 37,
    "param_serv": 38, "audio_policy": 39, "bt": 40, "gpio": 41, "rdma": 42, "camera": 43,
    "ism": 44, "spi": 45, "tee": 46, "cpu_balloon": 47, "media": 48, "usb": 49,
}  # fmt: skip
_VHOST_USER_IMPOSSIBLE = {VIRTIO_IDS["watchdog"], VIRTIO_IDS["iommu"]}

U8 = integer("<u8>", 8)
U16 = integer("<u16>", 16)
U32 = integer("<u32>", 32)
PATH = text("<path>")


# --- keys shared by several options ------------------------------------------------------


def _pci(
    *, iommu: bool = True, id_proof: str | None = None, slot: str | None = None
) -> tuple[Key, ...]:
    """CH's common PCI keys; `slot` proves pci_device_id, `id_proof` proves id."""
    keys = (
        Key("id", text("<device_id>"), proof=id_proof),
        Key("pci_segment", integer("<segment_id>", 16)),
        Key("pci_device_id", integer("<pci_slot>", 8), proof=slot),
    )
    return (Key("iommu", TOGGLE), *keys) if iommu else keys


_RATE_KEYS = tuple(
    Key(f"{prefix}_{part}", integer(f"<{unit}>"), field="rate_limiter_config", hook=True)
    for prefix, amount in (("bw", "bytes"), ("ops", "io_ops"))
    for part, unit in (("size", amount), ("one_time_burst", amount), ("refill_time", "ms"))
)


def _rate_limiter(values: Values) -> RateLimiterConfig | None:
    """The bw_*/ops_* keys as a rate limiter; a bucket needs both a size and a refill time."""
    buckets: dict[str, TokenBucketConfig | None] = {}
    for prefix, name in (("bw", "bandwidth"), ("ops", "ops")):
        size = values.get(f"{prefix}_size") or 0
        refill = values.get(f"{prefix}_refill_time") or 0
        burst = values.get(f"{prefix}_one_time_burst") or 0
        buckets[name] = (
            TokenBucketConfig(size=size, one_time_burst=burst, refill_time=refill)
            if size and refill
            else None
        )
    if buckets["bandwidth"] is None and buckets["ops"] is None:
        return None
    return RateLimiterConfig(bandwidth=buckets["bandwidth"], ops=buckets["ops"])


def _rate_values(limiter: RateLimiterConfig | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for prefix, bucket in (("bw", limiter and limiter.bandwidth), ("ops", limiter and limiter.ops)):
        if bucket:
            values[f"{prefix}_size"] = bucket.size
            values[f"{prefix}_one_time_burst"] = bucket.one_time_burst
            values[f"{prefix}_refill_time"] = bucket.refill_time
    return values


def _with_rate_limiter(values: Values, _option: str) -> dict[str, Any]:
    return {"rate_limiter_config": _rate_limiter(values)}


def _split_rate_limiter(record: Any) -> dict[str, Any]:
    return _rate_values(record.rate_limiter_config)


# --- consoles -----------------------------------------------------------------------------

_MODE_FLAGS = {
    "off": ConsoleOutputMode.OFF,
    "pty": ConsoleOutputMode.PTY,
    "tty": ConsoleOutputMode.TTY,
    "null": ConsoleOutputMode.NULL,
}
_MODE_KEYS = (
    *(
        Key(flag, FLAG, field="mode", hook=True, proof=BOOT, alternative=True)
        for flag in _MODE_FLAGS
    ),
    Key("file", PATH, hook=True, proof=API, alternative=True),
)
_SOCKET_KEY = Key(
    "socket",
    PATH,
    hook=True,
    proof=f"{TRIVIAL}: the socket mode is refused (validate)",
    alternative=True,
)


def _console_mode(values: Values, option: str) -> dict[str, Any]:
    """The one mode among off|pty|tty|null|file=|socket=, with its path."""
    given = [key for key in (*_MODE_FLAGS, "file", "socket") if key in values.given]
    if not given:
        raise OptionError(option, "invalid console mode given (off|null|pty|tty|file=)")
    if len(given) > 1:
        raise OptionError(option, f"more than one console mode given: {', '.join(given)}")
    (mode,) = given
    if mode in _MODE_FLAGS:
        return {"mode": _MODE_FLAGS[mode]}
    path = values.get(mode)
    if path is None:
        raise OptionError(option, f"Path missing when using {mode} console mode", key=mode)
    if mode == "file":
        return {"mode": ConsoleOutputMode.FILE, "file": path}
    return {"mode": ConsoleOutputMode.SOCKET, "socket": path}


def _split_console_mode(console: Any) -> dict[str, Any]:
    mode = console.mode
    if mode is ConsoleOutputMode.FILE:
        return {"file": console.file or ""}
    if mode is ConsoleOutputMode.SOCKET:
        return {"socket": console.socket or ""}
    return {mode.value.lower(): True}


# --- cpus ---------------------------------------------------------------------------------


def _topology(value: str) -> CpuTopology:
    parts = value.split(":")
    if len(parts) != 4:
        raise ValueError("expected threads_per_core:cores_per_die:dies_per_package:packages")
    threads, cores, dies, packages = (parse_int(part, 0, U16_MAX) for part in parts)
    return CpuTopology(
        threads_per_core=threads, cores_per_die=cores, dies_per_package=dies, packages=packages
    )


def _format_topology(t: CpuTopology) -> str:
    return f"{t.threads_per_core}:{t.cores_per_die}:{t.dies_per_package}:{t.packages}"


def _cpus(values: Values, option: str) -> dict[str, Any]:
    features = CpuFeatures()
    for feature in values.get("features", ()):
        if feature != "amx":
            raise OptionError(
                option, f"invalid feature in features list: {feature}", key="features"
            )
        features = CpuFeatures(amx=True)
    boot = values.get("boot", DEFAULT_VCPUS)
    return {"max_vcpus": values.get("max", boot), "features": features}


def _split_cpus(cpus: CpusConfig) -> dict[str, Any]:
    return {"max": cpus.max_vcpus, "features": ("amx",) if cpus.features.amx else None}


_HOST_CPUS = integer_list("<host_cpus>")

CPUS = Option(
    "cpus", "cpus", Arity.ONE, "", record=CpusConfig, proof=BOOT,
    default=f"boot={DEFAULT_VCPUS},max_phys_bits={DEFAULT_MAX_PHYS_BITS}",
    keys=(
        Key("boot", integer("<boot_vcpus>", 32), field="boot_vcpus", default=DEFAULT_VCPUS,
            proof=BOOT),
        # max defaults to boot (build); capabilities refuses max > boot (no CPU hot-plug yet).
        Key("max", integer("<max_vcpus>", 32), field="max_vcpus", hook=True),
        Key("topology", Codec(_topology, _format_topology,
                              "<threads_per_core>:<cores_per_die>:<dies_per_package>:<packages>"),
            proof=CPUID),
        Key("kvm_hyperv", TOGGLE),
        Key("max_phys_bits", integer("<maximum_number_of_physical_bits>", 8), proof=CPUID),
        Key("affinity", pair_list("<list_of_vcpus_with_their_associated_cpuset>",
                                  lambda k: parse_int(k, 0, (1 << 32) - 1), _HOST_CPUS,
                                  lambda vcpu, cpus: CpuAffinity(vcpu=vcpu, host_cpus=cpus),
                                  lambda a: (a.vcpu, a.host_cpus)),
            proof=VCPU),
        Key("features", string_list("<list_of_features_to_enable>"), hook=True),
        Key("nested", TOGGLE),
        Key("core_scheduling", enum_choice(
            {"vm": CoreScheduling.VM, "vcpu": CoreScheduling.VCPU, "off": CoreScheduling.OFF})),
        Key("profile", enum_choice({"host": CpuProfile.HOST}),
            proof=f"{TRIVIAL}: Host is the only profile"),
    ),
    build=_cpus, split=_split_cpus,
)  # fmt: skip


# --- memory -------------------------------------------------------------------------------

_MEMORY_COMMON = (
    Key("shared", TOGGLE, proof=MEMORY),
    Key("hugepages", TOGGLE, proof=MEMORY),
    Key("hugepage_size", SIZE, proof=RUNNER),
)

MEMORY_OPTION = Option(
    "memory", "memory", Arity.ONE, "Memory parameters", record=MemoryConfig, proof=BOOT,
    default=f"size={DEFAULT_MEMORY_SIZE >> 20}M",
    keys=(
        Key("size", SIZE, default=DEFAULT_MEMORY_SIZE, proof=BOOT),
        Key("mergeable", TOGGLE, proof=RUNNER),
        *_MEMORY_COMMON,
        Key("hotplug_method", enum_choice(
            {"acpi": HotplugMethod.ACPI, "virtio-mem": HotplugMethod.VIRTIO_MEM})),
        Key("hotplug_size", SIZE),
        Key("hotplugged_size", SIZE),
        Key("prefault", TOGGLE, proof=RUNNER),
        Key("reserve", TOGGLE),
        Key("thp", TOGGLE, proof=MEMORY),
    ),
)  # fmt: skip

MEMORY_ZONE = Option(
    "memory-zone", "memory_zones", Arity.MANY, "User defined memory zone parameters",
    record=MemoryZoneConfig,
    proof=ZONES,
    keys=(
        Key("size", SIZE, default=DEFAULT_MEMORY_SIZE, proof=ZONES),
        Key("file", PATH, proof=ZONES),
        *_MEMORY_COMMON,
        Key("host_numa_node", integer("<node_id>", 32)),
        Key("id", text("<zone_identifier>"), proof=ZONES),
        Key("hotplug_size", SIZE),
        Key("hotplugged_size", SIZE),
        Key("prefault", TOGGLE, proof=ZONES),
        Key("reserve", TOGGLE),
        Key("mergeable", TOGGLE, proof=ZONES),
    ),
)  # fmt: skip


# --- devices ------------------------------------------------------------------------------


def _disk(values: Values, option: str) -> dict[str, Any]:
    kwargs = _with_rate_limiter(values, option)
    if "socket" in values:
        kwargs["image_type"] = ImageType.UNKNOWN  # a vhost-user backend owns the format
    return kwargs


DISK = Option(
    "disk", "disks", Arity.MANY, "Disk parameters", record=DiskConfig, proof=DEVICES,
    keys=(
        Key("path", text("<disk_image_path>"), proof=DEVICES),
        Key("readonly", TOGGLE, proof=DEVICES),
        Key("direct", TOGGLE, proof=BLOCK),
        Key("iommu", TOGGLE),
        Key("num_queues", integer("<number_of_queues>"), proof=BLOCK),
        Key("queue_size", integer("<size_of_each_queue>", 16), proof=BLOCK),
        Key("vhost_user", TOGGLE),
        Key("socket", text("<vhost_user_socket_path>"), field="vhost_socket"),
        *_RATE_KEYS,
        *_pci(iommu=False, id_proof=IDS, slot=DEVICES),
        Key("rate_limit_group", text("<group_id>")),
        Key("queue_affinity", pair_list(
            "<list_of_queue_indices_with_their_associated_cpuset>",
            lambda k: parse_int(k, 0, U16_MAX), _HOST_CPUS,
            lambda index, cpus: VirtQueueAffinity(queue_index=index, host_cpus=cpus),
            lambda a: (a.queue_index, a.host_cpus))),
        Key("serial", text("<serial_number>"), proof=BLOCK),
        Key("backing_files", TOGGLE),
        Key("sparse", TOGGLE, proof=IDS),
        Key("image_type", enum_choice({
            "raw": ImageType.RAW, "qcow2": ImageType.QCOW2, "vhd": ImageType.FIXED_VHD,
            "vhdx": ImageType.VHDX, "vmdk": ImageType.FLAT_VMDK})),
        Key("lock_granularity", enum_choice(
            {"byte-range": LockGranularity.BYTE_RANGE, "full": LockGranularity.FULL})),
        Key("_disable_io_uring", TOGGLE, field="disable_io_uring",
            proof=f"{TRIVIAL}: this VMM uses no io_uring"),
        Key("_disable_aio", TOGGLE, field="disable_aio",
            proof=f"{TRIVIAL}: this VMM uses no Linux AIO"),
    ),
    build=_disk, split=_split_rate_limiter,
)  # fmt: skip

NET_OPTION = Option(
    "net", "net", Arity.MANY, "Network parameters", record=NetConfig, proof=DEVICES,
    keys=(
        Key("tap", text("<if_name>"), proof=DEVICES),
        Key("ip", IP, proof=DEVICES),
        Key("mask", Codec(IP.parse, str, "<net_mask>"), proof=DEVICES),
        Key("mac", MAC, proof=DEVICES),
        Key("fd", integer_list("<[fd1,fd2,...]>", 31), field="fds", proof=NET),
        Key("iommu", TOGGLE),
        Key("num_queues", integer("<number_of_queues>"), proof=NET),
        Key("queue_size", integer("<size_of_each_queue>", 16), proof=NET),
        *_pci(iommu=False, id_proof=IDS, slot=DEVICES),
        Key("vhost_user", TOGGLE),
        Key("socket", text("<vhost_user_socket_path>"), field="vhost_socket"),
        Key("vhost_mode", enum_choice({"client": VhostMode.CLIENT, "server": VhostMode.SERVER})),
        *_RATE_KEYS,
        Key("host_mac", Codec(MAC.parse, str, "<host_mac_addr>"), proof=DEVICES),
        Key("mtu", integer("<mtu>", 16), proof=DEVICES),
        Key("offload_tso", TOGGLE, proof=DEVICES),
        Key("offload_ufo", TOGGLE, proof=NET),
        Key("offload_csum", TOGGLE, proof=NET),
    ),
    build=_with_rate_limiter, split=_split_rate_limiter,
)  # fmt: skip

RNG = Option(
    "rng", "rng", Arity.OPTIONAL,
    "Random number generator parameters. Passing --rng with no arguments uses src=/dev/urandom.",
    record=RngConfig, proof=DEVICES, default=f"src={DEFAULT_RNG_SOURCE}",
    keys=(
        Key("src", text("<entropy_source_path>"), default=DEFAULT_RNG_SOURCE, proof=DEVICES),
        *_pci(id_proof=IDS, slot=DEVICES),
    ),
)  # fmt: skip

RTC = Option(
    "rtc",
    "rtc",
    Arity.OPTIONAL,
    "Virtio RTC parameters. Passing --rtc with no arguments enables the device.",
    record=RtcConfig,
    keys=_pci(),
)

BALLOON = Option(
    "balloon", "balloon", Arity.ONE, "Balloon parameters", record=BalloonConfig,
    keys=(
        Key("size", Codec(SIZE.parse, str, "<balloon_size>"), default=0),
        Key("deflate_on_oom", TOGGLE),
        Key("free_page_reporting", TOGGLE),
        *_pci(),
    ),
)  # fmt: skip


def _fs_tag(value: str) -> str:
    if len(value.encode()) > VIRTIO_FS_TAG_LEN:
        raise ValueError(f"max tag length is {VIRTIO_FS_TAG_LEN}")
    return value


FS = Option(
    "fs", "fs", Arity.MANY, "virtio-fs parameters", record=FsConfig,
    keys=(
        Key("tag", Codec(_fs_tag, quote, "<tag_name>")),
        Key("socket", text("<socket_path>")),
        Key("num_queues", integer("<number_of_queues>")),
        Key("queue_size", integer("<size_of_each_queue>", 16)),
        *_pci(iommu=False),
    ),
)  # fmt: skip


def _device_type(values: Values, option: str) -> dict[str, Any]:
    name = values.get("device_type", values.get("virtio_id"))
    if name is None:
        raise OptionError(option, "device_type missing", key="device_type")
    if name in VIRTIO_IDS:
        device_type = VIRTIO_IDS[name]
    elif name[:1] in "123456789" and name.isascii() and name.isdigit() and int(name) < 1 << 32:
        device_type = int(name)
    else:
        raise OptionError(
            option, f"device_type {name!r} invalid (leading zeros or unknown string)", value=name
        )
    if device_type in _VHOST_USER_IMPOSSIBLE:
        raise OptionError(
            option, f"device with device_type {name!r} cannot be implemented via vhost-user"
        )
    return {"device_type": device_type}


GENERIC_VHOST_USER = Option(
    "generic-vhost-user", "generic_vhost_user", Arity.MANY, "generic vhost-user parameters",
    record=GenericVhostUserConfig,
    keys=(
        Key("device_type", text("<ID number or symbolic name>"), hook=True),
        Key("socket", text("<socket_path>")),
        Key("queue_sizes", integer_list("<list of queue sizes>", 16),
            missing="queue_sizes missing (queue size missing)"),
        *_pci(iommu=False),
        # CH's older name of device_type.
        Key("virtio_id", text("<ID number or symbolic name>"), field="device_type", hook=True),
    ),
    build=_device_type, split=lambda device: {"device_type": str(device.device_type)},
)  # fmt: skip

PMEM = Option(
    "pmem", "pmem", Arity.MANY, "Persistent memory parameters", record=PmemConfig,
    keys=(
        Key("file", text("<backing_file_path>")),
        Key("size", Codec(SIZE.parse, SIZE.format, "<persistent_memory_size>")),
        Key("iommu", TOGGLE),
        Key("discard_writes", TOGGLE),
        *_pci(iommu=False),
    ),
)  # fmt: skip

DEVICE = Option(
    "device", "devices", Arity.MANY, "Direct device assignment parameters", record=DeviceConfig,
    keys=(
        Key("path", text("<device_path>")),
        Key("fd", integer("<vfio_cdev_fd>", signed=True)),
        *_pci(),
        Key("x_nv_gpudirect_clique", integer("<clique_id>", 8)),
        Key("x_exclude_mmap_bars", integer_list("[<bar>...]")),
    ),
)  # fmt: skip

USER_DEVICE = Option(
    "user-device",
    "user_devices",
    Arity.MANY,
    "Userspace device",
    record=UserDeviceConfig,
    keys=(Key("socket", text("<socket_path>")), *_pci(iommu=False)),
)

VDPA = Option(
    "vdpa", "vdpa", Arity.MANY, "vDPA device", record=VdpaConfig,
    keys=(Key("path", text("<device_path>")), Key("num_queues", integer("<number_of_queues>")),
          *_pci()),
)  # fmt: skip

VSOCK = Option(
    "vsock",
    "vsock",
    Arity.ONE,
    "Virtio VSOCK parameters",
    record=VsockConfig,
    keys=(Key("cid", integer("<context_id>", 32)), Key("socket", text("<socket_path>")), *_pci()),
)

RATE_LIMIT_GROUP = Option(
    "rate-limit-group", "rate_limit_groups", Arity.MANY, "Rate Limit Group parameters",
    record=RateLimiterGroupConfig,
    keys=(*_RATE_KEYS, Key("id", text("<device_id>"))),
    build=lambda values, _option: {
        "rate_limiter_config": _rate_limiter(values) or RateLimiterConfig()
    },
    split=_split_rate_limiter,
)  # fmt: skip

SERIAL = Option(
    "serial", "serial", Arity.ONE, "Control serial port", record=SerialConfig, proof=BOOT,
    default="null", keys=(*_MODE_KEYS, _SOCKET_KEY),
    build=_console_mode, split=_split_console_mode,
)  # fmt: skip

CONSOLE = Option(
    "console", "console", Arity.ONE, "Control (virtio) console", record=ConsoleConfig,
    proof=DEVICES, default=DEFAULT_CONSOLE_MODE.value.lower(),
    keys=(*_MODE_KEYS, _SOCKET_KEY, *_pci(id_proof=IDS, slot=DEVICES)),
    build=_console_mode, split=_split_console_mode,
)  # fmt: skip

DEBUG_CONSOLE = Option(
    "debug-console", "debug_console", Arity.ONE, "Debug console", record=DebugConsoleConfig,
    proof=DEBUG_CONSOLE_OFF, default="off,iobase=0xe9",
    keys=(*_MODE_KEYS, Key("iobase", hex_port("<port in hex>"), proof=DEBUG_CONSOLE_OFF)),
    build=_console_mode, split=_split_console_mode,
)  # fmt: skip


# --- platform -----------------------------------------------------------------------------

_SMBIOS = (
    "system_manufacturer", "system_product_name", "system_version", "system_serial_number",
    "system_uuid", "system_sku_number", "system_family",
)  # fmt: skip
_LEGACY = {"serial_number": "system_serial_number", "uuid": "system_uuid"}


def _platform(values: Values, _option: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        new: values[old] for old, new in _LEGACY.items() if old in values and new not in values
    }
    kwargs["iommufd"] = values.get("iommufd", "iommufd_fd" in values)
    return kwargs


def _split_platform(platform: PlatformConfig) -> dict[str, Any]:
    implied = platform.iommufd_fd is not None
    return {"iommufd": None if platform.iommufd == implied else platform.iommufd}


PLATFORM = Option(
    "platform", "platform", Arity.ONE, "Platform configuration parameters",
    record=PlatformConfig, proof=SMBIOS,
    keys=(
        Key("num_pci_segments", integer("<num_pci_segments>", 16)),
        Key("iommu_segments", integer_list("<list_of_segments>", 16)),
        Key("iommu_address_width", integer("<bits>", 8), field="iommu_address_width_bits"),
        Key("iommufd", TOGGLE, hook=True),
        Key("iommufd_fd", integer("<fd>", signed=True)),
        Key("vfio_p2p_dma", TOGGLE),
        *(Key(name, text(f"<dmi_{name}>"), proof=SMBIOS) for name in _SMBIOS),
        Key("oem_strings", string_list("<list_of_strings>"), proof=SMBIOS),
        Key("chassis_asset_tag", text("<dmi_chassis_asset_tag>"), proof=SMBIOS),
        # CH's deprecated spellings of system_serial_number and system_uuid.
        *(
            Key(old, text(f"<{new}>"), field=new, hook=True, proof=SMBIOS)
            for old, new in _LEGACY.items()
        ),
    ),
    build=_platform, split=_split_platform,
)  # fmt: skip

PCI_SEGMENT = Option(
    "pci-segment", "pci_segments", Arity.MANY, "PCI Segment parameters", record=PciSegmentConfig,
    keys=(
        Key("pci_segment", integer("<segment_id>", 16)),
        Key("mmio32_aperture_weight", integer("<scale>", 32)),
        Key("mmio64_aperture_weight", integer("<scale>", 32)),
    ),
)  # fmt: skip


def _numa(values: Values, option: str) -> dict[str, Any]:
    if "device_id" in values and ("cpus" in values or "memory_zones" in values):
        raise OptionError(
            option, "device_id in numa config cannot be used with cpus or memory zones"
        )
    return {}


NUMA = Option(
    "numa", "numa", Arity.MANY, "Settings related to a given NUMA node", record=NumaConfig,
    proof=ACPI_GUEST,
    keys=(
        Key("guest_numa_id", integer("<node_id>", 32), proof=ACPI_GUEST,
            missing="guest_numa_id is required for all NUMA nodes"),
        Key("cpus", integer_list("<cpus_id>", 32), proof=ACPI_GUEST),
        Key("distances", pair_list(
            "<list_of_distances_to_destination_nodes>", lambda k: parse_int(k, 0, (1 << 32) - 1),
            U8, lambda dest, dist: NumaDistance(destination=dest, distance=dist),
            lambda d: (d.destination, d.distance)), proof=ACPI_GUEST),
        Key("device_id", text("<device_id>")),
        Key("memory_zones", string_list("<list_of_memory_zones>"), proof=ACPI_GUEST),
        Key("pci_segments", integer_list("<list_of_pci_segments>", 16)),
    ),
    build=_numa,
)  # fmt: skip

TPM = Option(
    "tpm",
    "tpm",
    Arity.ONE,
    "TPM device (UNIX Domain Socket from swtpm)",
    record=TpmConfig,
    keys=(Key("socket", text("</path/to/a/socket>")),),
)


def _access(value: str) -> str:
    if len(value) > 2:
        raise ValueError("expected r, w or rw")
    return value


LANDLOCK_RULES = Option(
    "landlock-rules", "landlock_rules", Arity.MANY, "Landlock parameters", record=LandlockConfig,
    keys=(
        Key("path", text("<path/to/{file/dir}>"), missing="path/access field missing"),
        Key("access", Codec(_access, quote, "[rw]"), missing="path/access field missing"),
    ),
)  # fmt: skip


# --- payload and plain values -------------------------------------------------------------

OPTIONS: tuple[Option, ...] = (
    Option("kernel", "kernel", Arity.ONE,
           "Path to kernel to load. This may be a kernel or firmware that supports a PVH "
           "entry point (e.g. vmlinux) or architecture equivalent", payload=True, proof=BOOT),
    Option("firmware", "firmware", Arity.ONE,
           "Path to firmware that is loaded in an architectural specific way", payload=True,
           proof=FIRMWARE),
    Option("initramfs", "initramfs", Arity.ONE, "Path to initramfs image", proof=BOOT),
    Option("cmdline", "cmdline", Arity.ONE, "Kernel command line", proof=BOOT),
    CPUS, MEMORY_OPTION, MEMORY_ZONE, RATE_LIMIT_GROUP, DISK, NET_OPTION, RNG, BALLOON, FS,
    GENERIC_VHOST_USER, PMEM, SERIAL, CONSOLE, DEBUG_CONSOLE, DEVICE, USER_DEVICE, VDPA, VSOCK,
    Option("pvpanic", "pvpanic", Arity.FLAG, "Enable pvpanic device"),
    NUMA,
    Option("watchdog", "watchdog", Arity.FLAG, "Enable virtio-watchdog"),
    RTC, PCI_SEGMENT, PLATFORM, TPM,
    Option("landlock", "landlock_enable", Arity.FLAG, "enable/disable Landlock."),
    LANDLOCK_RULES,
)  # fmt: skip


def by_field() -> dict[str, Option]:
    """Each option by the VmParams field holding its text."""
    return {option.field: option for option in OPTIONS}
