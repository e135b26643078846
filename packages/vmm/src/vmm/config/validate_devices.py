"""Device checks of CH's `VmConfig::validate`: queues, PCI placement, ids, files, addresses."""

from __future__ import annotations

import os
import stat

from vmm.config.devices import DiskConfig, ImageType, NetConfig, PciDeviceCommon
from vmm.config.errors import ValidationError
from vmm.config.model import VmConfig
from vmm.config.values import is_netmask, parse_ip

__all__ = ["DeviceChecker", "check_readable_file", "refuse_fifo_or_socket"]

# Largest power of two a u16 queue size can hold.
VIRTIO_MAX_QUEUE_SIZE = 32768
# A virtio-blk queue must hold more than 2 descriptors to advertise a usable seg_max.
MINIMUM_BLOCK_QUEUE_SIZE = 2
# virtio-blk serial numbers are at most 20 bytes (VIRTIO_BLK_ID_BYTES).
VIRTIO_BLK_ID_BYTES = 20
# The virtio spec expects an MTU of at least 1280 (the IPv6 minimum).
MIN_MTU = 1280
# Device slots on one PCI bus; slot 0 of segment 0 is the host bridge.
NUM_DEVICE_IDS = 32


def refuse_fifo_or_socket(path_field: str, path: str, expected: str) -> None:
    """Raise when `path` is a FIFO or socket: opening one blocks until a peer comes,
    which would hang the VMM (and, through the API, a worker). stat() does not block;
    a path that does not exist passes (the caller opens or creates it)."""
    if "\0" in path:  # else os.stat and open raise ValueError
        raise ValidationError(path_field, f"{path!r} contains a NUL byte")
    try:
        kind = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISFIFO(kind) or stat.S_ISSOCK(kind):
        raise ValidationError(path_field, f"'{path}' is a FIFO or socket, not {expected}")


def check_readable_file(path_field: str, path: str, *, writable: bool = False) -> None:
    """The file exists, is a regular file or block device and opens as the device will
    open it; its type is checked before it is opened (`refuse_fifo_or_socket`)."""
    refuse_fifo_or_socket(path_field, path, "a file or a device")
    try:
        fd = os.open(path, (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC)
    except OSError as error:
        raise ValidationError(path_field, f"cannot open '{path}': {error.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode) or stat.S_ISCHR(mode)):
        raise ValidationError(path_field, f"'{path}' is not a file or a device")


def _check_raw_image(path_field: str, path: str) -> None:
    """Autodetection, as CH does it: a qcow2, VHD or VHDX header is not served as raw bytes."""
    from vmm.config.image_format import detect_image_type

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        found = detect_image_type(fd)
    finally:
        os.close(fd)
    if found is not ImageType.RAW:
        name = {ImageType.FIXED_VHD: "VHD"}.get(found, found.value.upper())
        raise ValidationError(
            path_field,
            f"'{path}' is a {name} image, which this VMM does not serve yet: convert it "
            "(qemu-img convert -O raw) or give image_type=raw to serve its bytes as they are",
        )


def _power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _check_queue_size(path: str, size: int) -> None:
    if not _power_of_two(size) or size > VIRTIO_MAX_QUEUE_SIZE:
        raise ValidationError(
            path, f"Queue size must be a power of 2 no greater than {VIRTIO_MAX_QUEUE_SIZE}: {size}"
        )


class DeviceChecker:
    """Walks every device of a config; `iommu` says whether one asked to sit behind the vIOMMU."""

    def __init__(self, config: VmConfig, check_files: bool) -> None:
        self.config = config
        self.check_files = check_files
        self.iommu = bool(config.platform and config.platform.iommu_segments)
        self.ids: set[str] = set()
        self.boot_vcpus = config.cpus.boot_vcpus
        memory = config.memory
        self.shared_memory = (
            memory.shared
            or memory.hugepages
            or (
                memory.size == 0
                and all(zone.shared or zone.hugepages for zone in memory.zones or ())
            )
        )

    def run(self) -> None:
        config = self.config
        group_ids = set()
        for index, group in enumerate(config.rate_limit_groups or ()):
            path = f"rate_limit_groups[{index}]"
            limiter = group.rate_limiter_config
            if not group.id or (limiter.bandwidth is None and limiter.ops is None):
                raise ValidationError(path, "Invalid rate-limiter group")
            self.identifier(path, group.id)
            group_ids.add(group.id)
        for index, disk in enumerate(config.disks or ()):
            self.disk(f"disks[{index}]", disk, group_ids)
        for index, net in enumerate(config.net or ()):
            self.net(f"net[{index}]", net)
        for index, fs in enumerate(config.fs or ()):
            path = f"fs[{index}]"
            self.needs_shared_memory(path, "Using vhost-user requires using shared memory")
            self.queues(path, fs.num_queues)
            _check_queue_size(f"{path}.queue_size", fs.queue_size)
            self.pci(path, fs, iommu_allowed=False)
        for index, vhost in enumerate(config.generic_vhost_user or ()):
            path = f"generic_vhost_user[{index}]"
            self.needs_shared_memory(path, "Using vhost-user requires using shared memory")
            for size in vhost.queue_sizes:
                _check_queue_size(f"{path}.queue_sizes", size)
            self.pci(path, vhost, iommu_allowed=False)
        for index, pmem in enumerate(config.pmem or ()):
            self.pci(f"pmem[{index}]", pmem)
        self.pci("rng", config.rng)
        if self.check_files:
            check_readable_file("rng.src", config.rng.src)
        if config.rtc is not None:
            self.pci("rtc", config.rtc)
        self.pci("console", config.console)
        for index, user_device in enumerate(config.user_devices or ()):
            path = f"user_devices[{index}]"
            self.needs_shared_memory(path, "Using user devices requires using shared memory")
            self.pci(path, user_device, iommu_allowed=False)
        for index, vdpa in enumerate(config.vdpa or ()):
            self.pci(f"vdpa[{index}]", vdpa)
        if config.balloon is not None:
            self.pci("balloon", config.balloon)
            ram = config.memory.total_size()
            if config.balloon.size >= ram:
                raise ValidationError(
                    "balloon.size", f"Balloon size ({config.balloon.size}) greater than RAM ({ram})"
                )
        self.vfio_devices()
        if config.vsock is not None:
            if config.vsock.cid in (0, 1, 2, (1 << 32) - 1):
                raise ValidationError("vsock.cid", f"{config.vsock.cid} is a special VSOCK CID")
            self.pci("vsock", config.vsock)
        for index, zone in enumerate(config.memory.zones or ()):
            self.identifier(f"memory.zones[{index}].id", zone.id)
        self.numa_and_segments()
        for index, rule in enumerate(config.landlock_rules or ()):
            path = f"landlock_rules[{index}]"
            if not os.path.exists(rule.path):
                raise ValidationError(
                    f"{path}.path", f"Path {rule.path!r} provided in landlock-rules does not exist"
                )
            if not rule.access or set(rule.access) - {"r", "w"}:
                raise ValidationError(
                    f"{path}.access", f"Invalid landlock access: {rule.access} (use r, w or rw)"
                )

    def identifier(self, path: str, identifier: str | None) -> None:
        if identifier is None:
            return
        if identifier.startswith("__"):
            raise ValidationError(path, f"Identifier {identifier} is not valid")
        if identifier in self.ids:
            raise ValidationError(path, f"Identifier {identifier} is not unique")
        self.ids.add(identifier)

    def pci(self, path: str, device: PciDeviceCommon, *, iommu_allowed: bool = True) -> None:
        """Segment, slot and id of one PCI device; records whether it wants the vIOMMU."""
        platform = self.config.platform
        segments = platform.num_pci_segments if platform else 1
        if device.pci_segment >= segments:
            raise ValidationError(
                f"{path}.pci_segment", f"Invalid PCI segment id: {device.pci_segment}"
            )
        if device.iommu and not iommu_allowed:
            raise ValidationError(
                f"{path}.iommu", "Device does not support being placed behind IOMMU"
            )
        if (
            platform
            and platform.iommu_segments
            and device.pci_segment in platform.iommu_segments
            and not device.iommu
        ):
            raise ValidationError(
                f"{path}.iommu",
                f"Device is on an IOMMU PCI segment ({device.pci_segment}) but not placed "
                "behind IOMMU",
            )
        slot = device.pci_device_id
        if slot is not None and slot >= NUM_DEVICE_IDS:
            raise ValidationError(
                f"{path}.pci_device_id",
                f"Given PCI device ID ({slot}) is out of the supported range "
                f"of 0..{NUM_DEVICE_IDS}",
            )
        if slot == 0 and device.pci_segment == 0:
            raise ValidationError(f"{path}.pci_device_id", "Given PCI device ID (0) is reserved")
        self.iommu |= device.iommu
        self.identifier(f"{path}.id", device.id)

    def needs_shared_memory(self, path: str, message: str) -> None:
        if not self.shared_memory:
            raise ValidationError(path, f"{message} or huge pages (--memory shared=on)")

    def queues(self, path: str, num_queues: int) -> None:
        if num_queues < 1:
            raise ValidationError(f"{path}.num_queues", "at least 1 queue is needed")
        if num_queues > self.boot_vcpus:
            raise ValidationError(
                f"{path}.num_queues",
                f"Queue count ({num_queues}) must not exceed boot vCPUs ({self.boot_vcpus})",
            )

    def disk(self, path: str, disk: DiskConfig, group_ids: set[str]) -> None:
        if disk.vhost_socket is not None and disk.path is not None:
            raise ValidationError(path, "Disk path and vhost socket both provided")
        if disk.vhost_user:
            self.needs_shared_memory(path, "Using vhost-user requires using shared memory")
            if disk.vhost_socket is None:
                raise ValidationError(path, "No socket provided when using vhost-user")
            if disk.rate_limiter_config is not None or disk.rate_limit_group is not None:
                raise ValidationError(path, "Rate limiting is not supported with vhost-user")
        elif disk.path is None:
            raise ValidationError(f"{path}.path", "Disk path missing (path=<disk image>)")
        if disk.rate_limit_group is not None and (
            disk.rate_limiter_config is not None or disk.rate_limit_group not in group_ids
        ):
            raise ValidationError(f"{path}.rate_limit_group", "Invalid rate-limiter group")
        self.pci(path, disk, iommu_allowed=not disk.vhost_user)
        self.queues(path, disk.num_queues)
        _check_queue_size(f"{path}.queue_size", disk.queue_size)
        if disk.queue_size <= MINIMUM_BLOCK_QUEUE_SIZE:
            raise ValidationError(
                f"{path}.queue_size",
                f"Block queue size must be greater than {MINIMUM_BLOCK_QUEUE_SIZE}: "
                f"{disk.queue_size}",
            )
        if disk.serial is not None and len(disk.serial.encode()) > VIRTIO_BLK_ID_BYTES:
            raise ValidationError(
                f"{path}.serial",
                f"Block device serial length ({len(disk.serial.encode())}) exceeds maximum "
                f"allowed length ({VIRTIO_BLK_ID_BYTES})",
            )
        if self.check_files and disk.path is not None:
            check_readable_file(f"{path}.path", disk.path, writable=not disk.readonly)
            if disk.image_type is ImageType.UNKNOWN:
                _check_raw_image(f"{path}.path", disk.path)

    def net(self, path: str, net: NetConfig) -> None:
        if net.vhost_user:
            self.needs_shared_memory(path, "Using vhost-user requires using shared memory")
            if net.vhost_socket is None:
                raise ValidationError(path, "No socket provided when using vhost-user")
            if net.rate_limiter_config is not None:
                raise ValidationError(path, "Rate limiting is not supported with vhost-user")
        self.pci(path, net, iommu_allowed=not net.vhost_user)
        if net.num_queues < 2:
            raise ValidationError(
                f"{path}.num_queues",
                f"Number of queues ({net.num_queues}) to virtio_net should be higher than 2",
            )
        if net.num_queues % 2:
            raise ValidationError(
                f"{path}.num_queues",
                f"Number of queues ({net.num_queues}) to virtio_net must be even (RX/TX pairs)",
            )
        if net.fds is not None:
            if len(net.fds) * 2 != net.num_queues:
                raise ValidationError(
                    f"{path}.fds",
                    f"Number of queues ({net.num_queues}) to virtio_net does not match the "
                    f"number of FDs ({len(net.fds) * 2})",
                )
            for fd in net.fds:
                if fd <= 2:
                    raise ValidationError(f"{path}.fds", f"Reserved fd number (<= 2): {fd}")
        if net.num_queues // 2 > self.boot_vcpus:
            raise ValidationError(
                f"{path}.num_queues",
                f"Queue count ({net.num_queues}) must not exceed boot vCPUs ({self.boot_vcpus})",
            )
        _check_queue_size(f"{path}.queue_size", net.queue_size)
        if net.mtu is not None and net.mtu < MIN_MTU:
            raise ValidationError(
                f"{path}.mtu",
                f"Provided MTU {net.mtu} is lower than {MIN_MTU} "
                "(expected by VIRTIO specification)",
            )
        if not net.offload_csum and (net.offload_tso or net.offload_ufo):
            raise ValidationError(path, '"offload_tso" and "offload_ufo" depend on "offload_csum"')
        for name in ("ip", "mask"):  # typed by the command line, any string in JSON
            text = getattr(net, name)
            if text is not None:
                try:
                    parse_ip(text)
                except ValueError as error:
                    raise ValidationError(f"{path}.{name}", f"{text!r}: {error}") from None
        if net.mask is not None and net.ip is None:
            raise ValidationError(f"{path}.mask", "Mask provided without an IP")
        if net.ip is not None and net.mask is None:
            raise ValidationError(f"{path}.ip", "IP provided without a mask")
        if net.ip is not None and net.mask is not None and not is_netmask(net.ip, net.mask):
            raise ValidationError(
                f"{path}.mask",
                f"{net.mask} is not a netmask of the same IP version as {net.ip}",
            )

    def vfio_devices(self) -> None:
        platform = self.config.platform
        paths: set[str] = set()
        for index, device in enumerate(self.config.devices or ()):
            path = f"devices[{index}]"
            if device.path is not None:
                if device.path in paths:
                    raise ValidationError(f"{path}.path", f"Duplicated device path: {device.path}")
                paths.add(device.path)
            self.pci(path, device)
            if device.path is None and device.fd is None:
                raise ValidationError(path, "VFIO device config must specify `path=` or `fd=`")
            if device.path is not None and device.fd is not None:
                raise ValidationError(
                    path, "VFIO device config must specify at most one of `path=` or `fd=`"
                )
            if device.fd is not None and (platform is None or platform.iommufd_fd is None):
                raise ValidationError(
                    f"{path}.fd", "VFIO device `fd=` requires platform `iommufd_fd=<fd>`"
                )
            if device.x_nv_gpudirect_clique is not None and platform and not platform.vfio_p2p_dma:
                raise ValidationError(
                    path, "Device with x_nv_gpudirect_clique requires vfio_p2p_dma=on"
                )
            for bar in device.x_exclude_mmap_bars:
                if bar > 5:
                    raise ValidationError(
                        f"{path}.x_exclude_mmap_bars",
                        f"Invalid VFIO excluded-mmap BAR index: {bar}",
                    )

    def numa_and_segments(self) -> None:
        platform = self.config.platform
        segments = platform.num_pci_segments if platform else 1
        zone_owner: dict[str, int] = {}
        segment_owner: dict[int, int] = {}
        for index, node in enumerate(self.config.numa or ()):
            path = f"numa[{index}]"
            if node.device_id is not None and (node.cpus or node.memory_zones):
                raise ValidationError(
                    path, "device_id in numa config cannot be used with cpus or memory zones"
                )
            if node.device_id == "":
                raise ValidationError(path, "device_id in numa config cannot be empty")
            for zone in node.memory_zones or ():
                if zone in zone_owner:
                    raise ValidationError(
                        f"{path}.memory_zones",
                        f"Memory zone: {zone} belongs to multiple NUMA nodes: "
                        f"{zone_owner[zone]} and {node.guest_numa_id}",
                    )
                zone_owner[zone] = node.guest_numa_id
            for segment in node.pci_segments or ():
                if segment >= segments:
                    raise ValidationError(
                        f"{path}.pci_segments", f"Invalid PCI segment id: {segment}"
                    )
                if segment == 0 and node.guest_numa_id != 0:
                    raise ValidationError(
                        f"{path}.pci_segments",
                        f"Default PCI segment assigned to non-zero NUMA node {node.guest_numa_id}",
                    )
                if segment in segment_owner:
                    raise ValidationError(
                        f"{path}.pci_segments",
                        f"PCI segment: {segment} belongs to multiple NUMA nodes "
                        f"{segment_owner[segment]} and {node.guest_numa_id}",
                    )
                segment_owner[segment] = node.guest_numa_id
        for index, segment_config in enumerate(self.config.pci_segments or ()):
            path = f"pci_segments[{index}]"
            if segment_config.pci_segment >= segments:
                raise ValidationError(
                    f"{path}.pci_segment", f"Invalid PCI segment id: {segment_config.pci_segment}"
                )
            for name in ("mmio32_aperture_weight", "mmio64_aperture_weight"):
                if getattr(segment_config, name) == 0:
                    raise ValidationError(
                        f"{path}.{name}", "Invalid PCI segment aperture weight: 0"
                    )
