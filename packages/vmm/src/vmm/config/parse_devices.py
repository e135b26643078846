"""Device options (`--disk`, `--net`, `--rng`, ...) from CH's `key=value` syntax to configs.

Keys, defaults and error wording follow CH's `config.rs`. Each function takes
the option's value string and raises OptionError naming the option and key.
"""

from __future__ import annotations

from typing import TypedDict

from vmm.config.devices import (
    DEFAULT_DISK_NUM_QUEUES,
    DEFAULT_DISK_QUEUE_SIZE,
    DEFAULT_NET_NUM_QUEUES,
    DEFAULT_NET_QUEUE_SIZE,
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
from vmm.config.options import OptionParser
from vmm.config.values import (
    U16_MAX,
    choice,
    parse_int,
    parse_integer_list,
    parse_ip,
    parse_mac,
    parse_tuple_list,
)

__all__ = [
    "VIRTIO_IDS",
    "parse_balloon",
    "parse_device",
    "parse_disk",
    "parse_fs",
    "parse_generic_vhost_user",
    "parse_net",
    "parse_pmem",
    "parse_rate_limit_group",
    "parse_rng",
    "parse_rtc",
    "parse_user_device",
    "parse_vdpa",
    "parse_vsock",
]

# virtio-fs tags are at most 36 bytes (VIRTIO_FS_TAG_LEN).
VIRTIO_FS_TAG_LEN = 36

PCI_KEYS = ("id", "pci_segment", "pci_device_id")
PCI_IOMMU_KEYS = (*PCI_KEYS, "iommu")
RATE_LIMIT_KEYS = (
    "bw_size",
    "bw_one_time_burst",
    "bw_refill_time",
    "ops_size",
    "ops_one_time_burst",
    "ops_refill_time",
)

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

_IMAGE_TYPES = {
    "vmdk": ImageType.FLAT_VMDK,
    "vhd": ImageType.FIXED_VHD,
    "qcow2": ImageType.QCOW2,
    "raw": ImageType.RAW,
    "vhdx": ImageType.VHDX,
}
_LOCK_GRANULARITIES = {"byte-range": LockGranularity.BYTE_RANGE, "full": LockGranularity.FULL}
_VHOST_MODES = {"client": VhostMode.CLIENT, "server": VhostMode.SERVER}


class _Pci(TypedDict, total=False):
    id: str | None
    iommu: bool
    pci_segment: int
    pci_device_id: int | None


def _pci(parser: OptionParser, *, iommu: bool = True) -> _Pci:
    """The common PCI keys, as keyword arguments of a device config."""
    common = _Pci(
        id=parser.get("id"),
        pci_segment=parser.u16("pci_segment") or 0,
        pci_device_id=parser.u8("pci_device_id"),
    )
    if iommu:
        common["iommu"] = parser.toggle("iommu", False)
    return common


def _rate_limiter(parser: OptionParser) -> RateLimiterConfig | None:
    """The bw_*/ops_* keys as a rate limiter; a bucket needs both a size and a refill time."""
    buckets: dict[str, TokenBucketConfig | None] = {}
    for prefix, name in (("bw", "bandwidth"), ("ops", "ops")):
        size = parser.u64(f"{prefix}_size") or 0
        refill = parser.u64(f"{prefix}_refill_time") or 0
        burst = parser.u64(f"{prefix}_one_time_burst") or 0
        buckets[name] = (
            TokenBucketConfig(size=size, one_time_burst=burst, refill_time=refill)
            if size and refill
            else None
        )
    if buckets["bandwidth"] is None and buckets["ops"] is None:
        return None
    return RateLimiterConfig(bandwidth=buckets["bandwidth"], ops=buckets["ops"])


def _host_cpus(text: str) -> tuple[int, ...]:
    return parse_integer_list(text)


def parse_disk(text: str) -> DiskConfig:
    """`--disk path=<image>,readonly=on|off,direct=on|off,num_queues=,queue_size=,...`."""
    parser = OptionParser(
        "--disk",
        (
            "path", "readonly", "direct", "queue_size", "num_queues", "vhost_user", "socket",
            *RATE_LIMIT_KEYS, "_disable_io_uring", "_disable_aio", "serial", "rate_limit_group",
            "queue_affinity", "backing_files", "sparse", "image_type", "lock_granularity",
            *PCI_IOMMU_KEYS,
        ),
    ).parse(text)  # fmt: skip
    socket = parser.get("socket")
    affinity = parser.convert_raw(
        "queue_affinity", lambda raw: parse_tuple_list(raw, _u16, _host_cpus)
    )
    image_type = parser.convert("image_type", choice(_IMAGE_TYPES))
    lock = parser.convert("lock_granularity", choice(_LOCK_GRANULARITIES))
    return DiskConfig(
        **_pci(parser),
        path=parser.get("path"),
        readonly=parser.toggle("readonly", False),
        direct=parser.toggle("direct", False),
        num_queues=_or(parser.u64("num_queues"), DEFAULT_DISK_NUM_QUEUES),
        queue_size=_or(parser.u16("queue_size"), DEFAULT_DISK_QUEUE_SIZE),
        vhost_user=parser.toggle("vhost_user", False),
        vhost_socket=socket,
        rate_limit_group=parser.get("rate_limit_group"),
        rate_limiter_config=_rate_limiter(parser),
        disable_io_uring=parser.toggle("_disable_io_uring", False),
        disable_aio=parser.toggle("_disable_aio", False),
        serial=parser.get("serial"),
        queue_affinity=None
        if affinity is None
        else tuple(
            VirtQueueAffinity(queue_index=index, host_cpus=cpus) for index, cpus in affinity
        ),
        backing_files=parser.toggle("backing_files", False),
        sparse=parser.toggle("sparse", True),
        image_type=ImageType.UNKNOWN if socket is not None or image_type is None else image_type,
        lock_granularity=LockGranularity.BYTE_RANGE if lock is None else lock,
    )


def _u16(text: str) -> int:
    return parse_int(text, 0, U16_MAX)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def parse_net(text: str) -> NetConfig:
    """`--net tap=<if>,ip=,mask=,mac=,host_mac=,mtu=,num_queues=,queue_size=,fd=[...],...`."""
    parser = OptionParser(
        "--net",
        (
            "tap", "ip", "mask", "mac", "host_mac", "offload_tso", "offload_ufo",
            "offload_csum", "mtu", "queue_size", "num_queues", "vhost_user", "socket",
            "vhost_mode", "fd", *RATE_LIMIT_KEYS, *PCI_IOMMU_KEYS,
        ),
    ).parse(text)  # fmt: skip
    fds = parser.convert(
        "fd", lambda raw: tuple(parse_integer_list(raw, (1 << 31) - 1)), "expected [fd,fd,...]"
    )
    mode = parser.convert("vhost_mode", choice(_VHOST_MODES))
    return NetConfig(
        **_pci(parser),
        tap=parser.get("tap"),
        ip=parser.convert("ip", parse_ip),
        mask=parser.convert("mask", parse_ip),
        mac=parser.convert("mac", parse_mac),
        host_mac=parser.convert("host_mac", parse_mac),
        mtu=parser.u16("mtu"),
        num_queues=_or(parser.u64("num_queues"), DEFAULT_NET_NUM_QUEUES),
        queue_size=_or(parser.u16("queue_size"), DEFAULT_NET_QUEUE_SIZE),
        vhost_user=parser.toggle("vhost_user", False),
        vhost_socket=parser.get("socket"),
        vhost_mode=VhostMode.CLIENT if mode is None else mode,
        fds=fds,
        rate_limiter_config=_rate_limiter(parser),
        offload_tso=parser.toggle("offload_tso", True),
        offload_ufo=parser.toggle("offload_ufo", True),
        offload_csum=parser.toggle("offload_csum", True),
    )


def parse_rng(text: str) -> RngConfig:
    """`--rng src=<entropy source>`; the source defaults to /dev/urandom."""
    parser = OptionParser("--rng", ("src", *PCI_IOMMU_KEYS)).parse(text)
    src = parser.get("src")
    return RngConfig(**_pci(parser), src=DEFAULT_RNG_SOURCE if src is None else src)


def parse_rtc(text: str) -> RtcConfig:
    """`--rtc` alone or with PCI placement keys enables the virtio RTC."""
    parser = OptionParser("--rtc", PCI_IOMMU_KEYS).parse(text)
    return RtcConfig(**_pci(parser))


def parse_balloon(text: str) -> BalloonConfig:
    parser = OptionParser(
        "--balloon", ("size", "deflate_on_oom", "free_page_reporting", *PCI_IOMMU_KEYS)
    ).parse(text)
    return BalloonConfig(
        **_pci(parser),
        size=parser.size("size") or 0,
        deflate_on_oom=parser.toggle("deflate_on_oom", False),
        free_page_reporting=parser.toggle("free_page_reporting", False),
    )


def parse_fs(text: str) -> FsConfig:
    parser = OptionParser("--fs", ("tag", "queue_size", "num_queues", "socket", *PCI_KEYS))
    parser.parse(text)
    tag = parser.get("tag")
    if tag is None:
        raise parser.missing("tag")
    if len(tag.encode()) > VIRTIO_FS_TAG_LEN:
        raise OptionError("--fs", f"max tag length is {VIRTIO_FS_TAG_LEN}", key="tag", value=tag)
    socket = parser.get("socket")
    if socket is None:
        raise parser.missing("socket")
    return FsConfig(
        **_pci(parser, iommu=False),
        tag=tag,
        socket=socket,
        num_queues=_or(parser.u64("num_queues"), 1),
        queue_size=_or(parser.u16("queue_size"), 1024),
    )


def parse_generic_vhost_user(text: str) -> GenericVhostUserConfig:
    option = "--generic-vhost-user"
    parser = OptionParser(option, ("device_type", "virtio_id", "queue_sizes", "socket", *PCI_KEYS))
    parser.parse(text)
    socket = parser.get("socket")
    if socket is None:
        raise parser.missing("socket")
    queue_sizes = parser.convert("queue_sizes", lambda raw: parse_integer_list(raw, U16_MAX))
    if queue_sizes is None:
        raise parser.missing("queue_sizes", " (queue size missing)")
    name = parser.get("device_type")
    if name is None:
        name = parser.get("virtio_id")
    if name is None:
        raise parser.missing("device_type")
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
    return GenericVhostUserConfig(
        **_pci(parser, iommu=False),
        socket=socket,
        queue_sizes=queue_sizes,
        device_type=device_type,
    )


def parse_pmem(text: str) -> PmemConfig:
    parser = OptionParser("--pmem", ("size", "file", "discard_writes", *PCI_IOMMU_KEYS))
    parser.parse(text)
    file = parser.get("file")
    if file is None:
        raise parser.missing("file")
    return PmemConfig(
        **_pci(parser),
        file=file,
        size=parser.size("size"),
        discard_writes=parser.toggle("discard_writes", False),
    )


def parse_device(text: str) -> DeviceConfig:
    """`--device path=<sysfs path>` or `fd=<vfio cdev fd>`: VFIO passthrough."""
    parser = OptionParser(
        "--device", ("path", "fd", *PCI_IOMMU_KEYS, "x_nv_gpudirect_clique", "x_exclude_mmap_bars")
    ).parse(text)
    return DeviceConfig(
        **_pci(parser),
        path=parser.get("path"),
        fd=parser.i32("fd"),
        x_nv_gpudirect_clique=parser.u8("x_nv_gpudirect_clique"),
        x_exclude_mmap_bars=parser.convert("x_exclude_mmap_bars", parse_integer_list) or (),
    )


def parse_user_device(text: str) -> UserDeviceConfig:
    parser = OptionParser("--user-device", ("socket", *PCI_KEYS)).parse(text)
    socket = parser.get("socket")
    if socket is None:
        raise parser.missing("socket")
    return UserDeviceConfig(**_pci(parser, iommu=False), socket=socket)


def parse_vdpa(text: str) -> VdpaConfig:
    parser = OptionParser("--vdpa", ("path", "num_queues", *PCI_IOMMU_KEYS)).parse(text)
    path = parser.get("path")
    if path is None:
        raise parser.missing("path")
    return VdpaConfig(
        **_pci(parser),
        path=path,
        num_queues=_or(parser.u64("num_queues"), 1),
    )


def parse_vsock(text: str) -> VsockConfig:
    parser = OptionParser("--vsock", ("socket", "cid", *PCI_IOMMU_KEYS)).parse(text)
    socket = parser.get("socket")
    if socket is None:
        raise parser.missing("socket")
    cid = parser.u32("cid")
    if cid is None:
        raise parser.missing("cid")
    return VsockConfig(**_pci(parser), cid=cid, socket=socket)


def parse_rate_limit_group(text: str) -> RateLimiterGroupConfig:
    parser = OptionParser("--rate-limit-group", (*RATE_LIMIT_KEYS, "id")).parse(text)
    limiter = _rate_limiter(parser) or RateLimiterConfig()
    return RateLimiterGroupConfig(id=parser.get("id") or "", rate_limiter_config=limiter)
