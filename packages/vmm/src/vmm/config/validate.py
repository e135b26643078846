"""Whole-configuration checks: can this VmConfig boot? CH's `VmConfig::validate` and more.

`validate` raises ValidationError with the field path at fault (its `option`
names the command-line option) and otherwise returns the configuration as it
will run: like CH it drops a command line or initramfs given with a firmware
and turns on the IOMMU when a device asks to sit behind it. Checks of files
(kernel, initramfs, firmware, disk images, entropy source) read their headers
or permissions only, and can be turned off for configs built on another host.
"""

from __future__ import annotations

import dataclasses
import logging

from vmm.config.errors import ValidationError
from vmm.config.model import (
    CONSOLE_MODES_AVAILABLE,
    DEBUG_CONSOLE_AVAILABLE,
    SERIAL_MODES_AVAILABLE,
    VIRTIO_CONSOLE_AVAILABLE,
    ConsoleOutputMode,
    VmConfig,
)
from vmm.config.validate_devices import (
    DeviceChecker,
    check_readable_file,
    refuse_fifo_or_socket,
)
from vmm.config.validate_numa import check_numa

__all__ = ["MAX_SUPPORTED_CPUS", "MIN_MEMORY_SIZE", "check_kernel_image", "validate"]

log = logging.getLogger(__name__)

# A Linux guest needs room for the kernel, its page tables and an initramfs:
# below 64 MiB even a small kernel fails to boot, so say so before trying.
MIN_MEMORY_SIZE = 64 << 20
# CH's limit on x86_64 with KVM.
MAX_SUPPORTED_CPUS = 8192
PAGE_SIZE = 4096
DEFAULT_HUGEPAGE_SIZE = 2 << 20
MAX_NUM_PCI_SEGMENTS = 96
MAX_IOMMU_ADDRESS_WIDTH_BITS = 64
# vsock CIDs 0, 1 and 2 are the hypervisor, local and host; -1 is "any".
VSOCK_SPECIAL_CIDS = (0, 1, 2, (1 << 32) - 1)

_BZIMAGE_MAGIC_OFFSET = 0x202
_NOT_AVAILABLE = "is not available yet in this VMM"


def validate(config: VmConfig, *, check_files: bool = True) -> VmConfig:
    """Check that `config` can boot; return it normalized as it will run."""
    _check_text(config, "")
    config = _check_payload(config, check_files)
    _check_consoles(config)
    if check_files:
        _check_console_files(config)
    _check_cpus(config)
    _check_memory(config)
    checker = DeviceChecker(config, check_files)
    checker.run()
    _check_platform(config)
    check_numa(config)
    if checker.iommu and not config.iommu:
        config = dataclasses.replace(config, iommu=True)
    return config


def _check_text(value: object, path: str) -> None:
    """Every string is UTF-8 text, as CH's are (Rust strings): a lone surrogate, such as
    JSON's "\\ud800" or a non-UTF-8 byte that Python escapes, is no path, serial or tag."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValidationError(path, "not valid UTF-8 (a lone surrogate)") from None
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            _check_text(item, f"{path}[{index}]")
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            _check_text(getattr(value, field.name), f"{path}.{field.name}" if path else field.name)


def _check_payload(config: VmConfig, check_files: bool) -> VmConfig:
    payload = config.payload
    if payload is None or (payload.kernel is None and payload.firmware is None):
        raise ValidationError("payload", "No bootitem provided: neither firmware nor kernel")
    if payload.kernel is not None and payload.firmware is not None:
        raise ValidationError(
            "payload.firmware", "Specifying a kernel is not supported when a firmware is provided"
        )
    if payload.firmware is not None and (payload.cmdline or payload.initramfs):
        if payload.cmdline is not None:
            log.warning("Ignoring cmdline parameter as firmware is provided as the payload")
        if payload.initramfs is not None:
            log.warning("Ignoring initramfs parameter as firmware is provided as the payload")
        payload = dataclasses.replace(payload, cmdline=None, initramfs=None)
        config = dataclasses.replace(config, payload=payload)
    if payload.cmdline is not None and "\0" in payload.cmdline:
        raise ValidationError("payload.cmdline", "the kernel command line contains a NUL byte")
    if check_files:
        if payload.kernel is not None:
            check_kernel_image(payload.kernel)
        if payload.firmware is not None:
            check_readable_file("payload.firmware", payload.firmware)
        if payload.initramfs is not None:
            check_readable_file("payload.initramfs", payload.initramfs)
    return config


def check_kernel_image(path: str) -> None:
    """The kernel is an ELF vmlinux (PVH) or a bzImage: the two formats the loader boots."""
    check_readable_file("payload.kernel", path)
    with open(path, "rb") as image:
        header = image.read(_BZIMAGE_MAGIC_OFFSET + 4)
    if header.startswith(b"\x7fELF"):
        return
    if header[_BZIMAGE_MAGIC_OFFSET : _BZIMAGE_MAGIC_OFFSET + 4] == b"HdrS":
        return
    raise ValidationError(
        "payload.kernel",
        f"'{path}' is not a Linux kernel: neither an ELF vmlinux nor a bzImage",
    )


def _check_consoles(config: VmConfig) -> None:
    if not VIRTIO_CONSOLE_AVAILABLE and config.console.mode is not ConsoleOutputMode.OFF:
        raise ValidationError(
            "console",
            f"virtio-console {_NOT_AVAILABLE}: use --console off "
            "(the serial port works: --serial tty)",
        )
    if config.console.mode not in CONSOLE_MODES_AVAILABLE:
        raise ValidationError(
            "console",
            f"console mode {config.console.mode.value.lower()} {_NOT_AVAILABLE} "
            "(use off, null, tty or file=<path>)",
        )
    if config.serial.mode not in SERIAL_MODES_AVAILABLE:
        raise ValidationError(
            "serial",
            f"serial mode {config.serial.mode.value.lower()} {_NOT_AVAILABLE} "
            "(use off, null, tty or file=<path>)",
        )
    if not DEBUG_CONSOLE_AVAILABLE and config.debug_console.mode is not ConsoleOutputMode.OFF:
        raise ValidationError("debug_console", f"the debug console {_NOT_AVAILABLE}")
    for name in ("serial", "console"):
        console = getattr(config, name)
        if console.mode is ConsoleOutputMode.FILE and not console.file:
            raise ValidationError(f"{name}.file", "Path missing when using file console mode")
        if console.mode is ConsoleOutputMode.SOCKET and not console.socket:
            raise ValidationError(f"{name}.socket", "Path missing when using socket console mode")
    if config.debug_console.mode is ConsoleOutputMode.FILE and not config.debug_console.file:
        raise ValidationError("debug_console.file", "Path missing when using file console mode")


def _check_console_files(config: VmConfig) -> None:
    """A console's output file may be anything but a FIFO or socket: opening one of
    those for writing blocks until a reader comes, which would hang the VMM."""
    for name in ("serial", "console"):
        console = getattr(config, name)
        if console.mode is ConsoleOutputMode.FILE and console.file:
            refuse_fifo_or_socket(f"{name}.file", console.file, "a file")


def _check_cpus(config: VmConfig) -> None:
    cpus = config.cpus
    if cpus.boot_vcpus < 1:
        raise ValidationError("cpus.boot_vcpus", "at least 1 boot vCPU is needed")
    if cpus.max_vcpus < cpus.boot_vcpus:
        raise ValidationError(
            "cpus.max_vcpus",
            f"Max CPUs ({cpus.max_vcpus}) lower than boot CPUs ({cpus.boot_vcpus})",
        )
    if cpus.max_vcpus > MAX_SUPPORTED_CPUS:
        raise ValidationError(
            "cpus.max_vcpus",
            f"Too many CPUs: specified {cpus.max_vcpus} but {MAX_SUPPORTED_CPUS} is the limit",
        )
    topology = cpus.topology
    if topology is not None:
        parts = (
            topology.threads_per_core,
            topology.cores_per_die,
            topology.dies_per_package,
            topology.packages,
        )
        if 0 in parts:
            raise ValidationError("cpus.topology", "No part of the CPU topology can be zero")
        if topology.threads_per_core > 2:
            raise ValidationError(
                "cpus.topology", "CPU topology supports at most 2 threads per core"
            )
        product = parts[0] * parts[1] * parts[2] * parts[3]
        if product != cpus.max_vcpus:
            raise ValidationError(
                "cpus.topology",
                f"Product of CPU topology parts ({product}) does not match maximum vCPUs "
                f"({cpus.max_vcpus})",
            )
    for index, affinity in enumerate(cpus.affinity or ()):
        if affinity.vcpu >= cpus.max_vcpus:
            raise ValidationError(
                f"cpus.affinity[{index}].vcpu",
                f"vCPU {affinity.vcpu} does not exist (max vCPUs is {cpus.max_vcpus})",
            )


def _check_hugepages(path: str, hugepages: bool, hugepage_size: int | None) -> None:
    if hugepage_size is None:
        return
    if not hugepages:
        raise ValidationError(path, "Huge page size specified but huge pages not enabled")
    if hugepage_size & (hugepage_size - 1) or not hugepage_size:
        raise ValidationError(path, f"Huge page size is not power of 2: {hugepage_size}")


def _check_memory(config: VmConfig) -> None:
    memory = config.memory
    if memory.size % PAGE_SIZE:
        raise ValidationError(
            "memory.size", f"memory size {memory.size} is not a multiple of 4 KiB (the page size)"
        )
    if memory.zones and memory.size:
        raise ValidationError(
            "memory.zones",
            "User defined memory regions can't be provided if the memory size is not 0",
        )
    if not memory.zones and not memory.size:
        raise ValidationError(
            "memory.size", "User defined memory regions must be provided if the memory size is 0"
        )
    total = memory.total_size()
    if total < MIN_MEMORY_SIZE:
        raise ValidationError(
            "memory.size",
            f"{_mib(total)} of guest memory is too little: "
            f"a Linux guest needs at least {_mib(MIN_MEMORY_SIZE)}",
        )
    _check_hugepages("memory.hugepage_size", memory.hugepages, memory.hugepage_size)
    if memory.shared and memory.mergeable:
        raise ValidationError("memory", "Invalid to set both 'mergeable' and 'shared' for memory")
    seen: set[str] = set()
    for index, zone in enumerate(memory.zones or ()):
        path = f"memory.zones[{index}]"
        if zone.shared and zone.mergeable:
            raise ValidationError(path, "Invalid to set both 'mergeable' and 'shared' for memory")
        _check_hugepages(f"{path}.hugepage_size", zone.hugepages, zone.hugepage_size)
        page = (zone.hugepage_size or DEFAULT_HUGEPAGE_SIZE) if zone.hugepages else PAGE_SIZE
        if not zone.size or zone.size % page:
            raise ValidationError(
                f"{path}.size",
                f"memory zone {zone.id!r}: size {zone.size} is not a non-zero multiple of its "
                f"page size ({page >> 10} KiB)",
            )
        if zone.id in seen:
            raise ValidationError(f"{path}.id", f"Identifier {zone.id} is not unique")
        seen.add(zone.id)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"


def _check_platform(config: VmConfig) -> None:
    platform = config.platform
    if platform is None:
        return
    if not 1 <= platform.num_pci_segments <= MAX_NUM_PCI_SEGMENTS:
        raise ValidationError(
            "platform.num_pci_segments",
            f"Number of PCI segments ({platform.num_pci_segments}) not in range of 1 to "
            f"{MAX_NUM_PCI_SEGMENTS}",
        )
    for segment in platform.iommu_segments or ():
        if segment >= platform.num_pci_segments:
            raise ValidationError("platform.iommu_segments", f"Invalid PCI segment id: {segment}")
    if platform.iommu_address_width_bits > MAX_IOMMU_ADDRESS_WIDTH_BITS:
        raise ValidationError(
            "platform.iommu_address_width_bits",
            f"IOMMU address width in bits ({platform.iommu_address_width_bits}) should be less "
            f"than or equal to {MAX_IOMMU_ADDRESS_WIDTH_BITS}",
        )
    from vmm.arch.smbios import SmbiosError, SmbiosInfo, smbios_bytes

    try:
        smbios_bytes(SmbiosInfo.of(platform))
    except SmbiosError as error:
        raise ValidationError(f"platform.{error.field}", str(error)) from None
    if platform.iommufd_fd is not None and not platform.iommufd:
        raise ValidationError(
            "platform.iommufd", "Platform `iommufd_fd=<fd>` requires `iommufd=on`"
        )
