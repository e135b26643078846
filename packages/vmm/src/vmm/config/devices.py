"""Device configurations: block, net, rng and the other devices CH can attach.

Each PCI device carries CH's common PCI fields (`id`, `iommu`, `pci_segment`,
`pci_device_id`) directly, as CH's JSON does.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, ClassVar

from vmm.config.kinds import U8, U16, U32, U64, USIZE, Fd

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = [
    "DEFAULT_DISK_NUM_QUEUES",
    "DEFAULT_DISK_QUEUE_SIZE",
    "DEFAULT_NET_NUM_QUEUES",
    "DEFAULT_NET_QUEUE_SIZE",
    "DEFAULT_RNG_SOURCE",
    "BalloonConfig",
    "DeviceConfig",
    "DiskConfig",
    "FsConfig",
    "GenericVhostUserConfig",
    "ImageType",
    "LockGranularity",
    "NetConfig",
    "PciDeviceCommon",
    "PmemConfig",
    "RateLimiterConfig",
    "RateLimiterGroupConfig",
    "RngConfig",
    "RtcConfig",
    "TokenBucketConfig",
    "UserDeviceConfig",
    "VdpaConfig",
    "VhostMode",
    "VirtQueueAffinity",
    "VsockConfig",
]


DEFAULT_RNG_SOURCE = "/dev/urandom"
DEFAULT_DISK_NUM_QUEUES = 1
DEFAULT_DISK_QUEUE_SIZE = 128
DEFAULT_NET_NUM_QUEUES = 2
DEFAULT_NET_QUEUE_SIZE = 256


class VhostMode(enum.Enum):
    CLIENT = "Client"
    SERVER = "Server"


class ImageType(enum.Enum):
    """A disk image's format; Unknown means "detect it when the image is opened"."""

    FLAT_VMDK = "FlatVmdk"
    FIXED_VHD = "FixedVhd"
    QCOW2 = "Qcow2"
    RAW = "Raw"
    VHDX = "Vhdx"
    UNKNOWN = "Unknown"


class LockGranularity(enum.Enum):
    BYTE_RANGE = "ByteRange"
    FULL = "Full"


@dataclass(frozen=True, kw_only=True)
class PciDeviceCommon:
    """Where a PCI device goes: its id, segment, slot and whether it sits behind the vIOMMU."""

    # As CH serialises it: `iommu` only when true.
    JSON_OMIT_FALSE: ClassVar[frozenset[str]] = frozenset({"iommu"})

    id: str | None = None
    iommu: bool = False
    pci_segment: U16 = 0
    pci_device_id: U8 | None = None


@dataclass(frozen=True, kw_only=True)
class TokenBucketConfig:
    """`size` tokens refilled every `refill_time` ms, plus a one-off initial burst."""

    size: U64
    one_time_burst: U64 | None = None
    refill_time: U64


@dataclass(frozen=True, kw_only=True)
class RateLimiterConfig:
    bandwidth: TokenBucketConfig | None = None
    ops: TokenBucketConfig | None = None


@dataclass(frozen=True, kw_only=True)
class RateLimiterGroupConfig:
    id: str = ""
    rate_limiter_config: RateLimiterConfig = RateLimiterConfig()


@dataclass(frozen=True, kw_only=True)
class VirtQueueAffinity:
    queue_index: U16
    host_cpus: tuple[USIZE, ...]


@dataclass(frozen=True, kw_only=True)
class DiskConfig(PciDeviceCommon):
    path: str | None = None
    readonly: bool = False
    direct: bool = False
    num_queues: USIZE = DEFAULT_DISK_NUM_QUEUES
    queue_size: U16 = DEFAULT_DISK_QUEUE_SIZE
    vhost_user: bool = False
    vhost_socket: str | None = None
    rate_limit_group: str | None = None
    rate_limiter_config: RateLimiterConfig | None = None
    disable_io_uring: bool = False
    disable_aio: bool = False
    serial: str | None = None
    queue_affinity: tuple[VirtQueueAffinity, ...] | None = None
    backing_files: bool = False
    sparse: bool = True
    image_type: ImageType = ImageType.UNKNOWN
    lock_granularity: LockGranularity = LockGranularity.BYTE_RANGE


@dataclass(frozen=True, kw_only=True)
class NetConfig(PciDeviceCommon):
    tap: str | None = None
    ip: str | None = None
    mask: str | None = None
    mac: str | None = None
    host_mac: str | None = None
    mtu: U16 | None = None
    num_queues: USIZE = DEFAULT_NET_NUM_QUEUES
    queue_size: U16 = DEFAULT_NET_QUEUE_SIZE
    vhost_user: bool = False
    vhost_socket: str | None = None
    vhost_mode: VhostMode = VhostMode.CLIENT
    fds: tuple[Fd, ...] | None = None
    rate_limiter_config: RateLimiterConfig | None = None
    offload_tso: bool = True
    offload_ufo: bool = True
    offload_csum: bool = True


@dataclass(frozen=True, kw_only=True)
class RngConfig(PciDeviceCommon):
    src: str


@dataclass(frozen=True, kw_only=True)
class RtcConfig(PciDeviceCommon):
    pass


@dataclass(frozen=True, kw_only=True)
class BalloonConfig(PciDeviceCommon):
    size: U64
    deflate_on_oom: bool = False
    free_page_reporting: bool = False


@dataclass(frozen=True, kw_only=True)
class FsConfig(PciDeviceCommon):
    tag: str
    socket: str
    num_queues: USIZE = 1
    queue_size: U16 = 1024


@dataclass(frozen=True, kw_only=True)
class GenericVhostUserConfig(PciDeviceCommon):
    socket: str
    queue_sizes: tuple[U16, ...]
    device_type: U32


@dataclass(frozen=True, kw_only=True)
class PmemConfig(PciDeviceCommon):
    file: str
    size: U64 | None = None
    discard_writes: bool = False


@dataclass(frozen=True, kw_only=True)
class DeviceConfig(PciDeviceCommon):
    """A VFIO device, by sysfs path or by an already opened cdev fd."""

    path: str | None = None
    fd: Fd | None = None
    x_nv_gpudirect_clique: U8 | None = None
    x_exclude_mmap_bars: tuple[U64, ...] = ()


@dataclass(frozen=True, kw_only=True)
class UserDeviceConfig(PciDeviceCommon):
    socket: str


@dataclass(frozen=True, kw_only=True)
class VdpaConfig(PciDeviceCommon):
    path: str
    num_queues: USIZE = 1


@dataclass(frozen=True, kw_only=True)
class VsockConfig(PciDeviceCommon):
    cid: U32
    socket: str
