"""What this VMM builds of a VmConfig, as data: each field is built or refused.

CH's configuration has some 150 fields and this VMM builds a part of them. A
field that is not built must keep its default: a user who sets it gets a
one-line error naming the option and the field, never a VM that silently
lacks what was asked for (`refuse_unbuilt`). The CLI calls it before anything
is built, the API at `vm.boot` (CH's `vm.create` stores any config it parses).

`BUILT` maps a field path (list indices left out: `disks.path`) to the test
that proves the VMM builds it; a path in `RULES` is built for some values and
refused for others. Every other field is refused unless it has its default.
packages/vmm/tests/config/test_capabilities.py walks every field of VmConfig
and every key of every command-line option, so a new field or key cannot land
unclassified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from vmm.config.devices import ImageType
from vmm.config.errors import ValidationError
from vmm.config.model import CpusConfig, VmConfig

__all__ = ["BUILT", "RULES", "refuse_unbuilt"]

_BOOT = "tests/test_boot.py"
_DEVICES = "tests/test_guest_devices.py"
_API = "tests/test_api.py"
_IDS = "packages/vmm/tests/test_virtio_devices.py"
_MEMORY = "packages/vm-memory/tests/test_region.py"
_VCPU = "tests/test_vcpu_affinity.py"
_RUNNER = "packages/vmm/tests/test_runner.py"  # the spec carries them to vm-memory's options
_TRIVIAL = "nothing to build"

# Field path -> the test that proves it is built (or why there is nothing to build).
BUILT: dict[str, str] = {
    "cpus": _BOOT,
    "cpus.boot_vcpus": _BOOT,
    "cpus.topology": "packages/vmm/tests/arch/test_cpuid.py",
    "cpus.topology.threads_per_core": "packages/vmm/tests/arch/test_cpuid.py",
    "cpus.topology.cores_per_die": "packages/vmm/tests/arch/test_cpuid.py",
    "cpus.topology.dies_per_package": "packages/vmm/tests/arch/test_cpuid.py",
    "cpus.topology.packages": "packages/vmm/tests/arch/test_cpuid.py",
    "cpus.max_phys_bits": "packages/vmm/tests/arch/test_cpuid.py",
    "cpus.affinity": _VCPU,
    "cpus.affinity.vcpu": _VCPU,
    "cpus.affinity.host_cpus": _VCPU,
    "cpus.profile": f"{_TRIVIAL}: Host is the only profile",
    "memory": _BOOT,
    "memory.size": _BOOT,
    "memory.shared": _MEMORY,
    "memory.hugepages": _MEMORY,
    "memory.thp": _MEMORY,
    "memory.hugepage_size": _RUNNER,
    "memory.mergeable": _RUNNER,
    "memory.prefault": _RUNNER,
    "payload": _BOOT,
    "payload.kernel": _BOOT,
    "payload.firmware": "tests/test_serial_console.py",
    "payload.cmdline": _BOOT,
    "payload.initramfs": _BOOT,
    "disks": _DEVICES,
    "disks.id": _IDS,
    "disks.pci_device_id": _DEVICES,
    "disks.path": _DEVICES,
    "disks.readonly": _DEVICES,
    "disks.direct": "packages/vm-devices/tests/virtio/devices/test_block.py",
    "disks.num_queues": "packages/vm-devices/tests/virtio/devices/test_block.py",
    "disks.queue_size": "packages/vm-devices/tests/virtio/devices/test_block.py",
    "disks.serial": "packages/vm-devices/tests/virtio/devices/test_block.py",
    "disks.disable_io_uring": f"{_TRIVIAL}: this VMM uses no io_uring",
    "disks.disable_aio": f"{_TRIVIAL}: this VMM uses no Linux AIO",
    "net": _DEVICES,
    "net.id": _IDS,
    "net.pci_device_id": _DEVICES,
    "net.tap": _DEVICES,
    "net.ip": _DEVICES,
    "net.mask": _DEVICES,
    "net.mac": _DEVICES,
    "net.num_queues": "packages/vm-devices/tests/virtio/devices/test_net.py",
    "net.queue_size": "packages/vm-devices/tests/virtio/devices/test_net.py",
    "net.fds": "packages/vm-devices/tests/virtio/devices/test_net.py",
    "net.host_mac": _DEVICES,
    "net.mtu": _DEVICES,
    "net.offload_tso": _DEVICES,
    "net.offload_ufo": "packages/vm-devices/tests/virtio/devices/test_net.py",
    "net.offload_csum": "packages/vm-devices/tests/virtio/devices/test_net.py",
    "rng": _DEVICES,
    "rng.id": _IDS,
    "rng.pci_device_id": _DEVICES,
    "rng.src": _DEVICES,
    "serial": _BOOT,
    "serial.mode": _BOOT,
    "serial.file": _API,
    "serial.socket": f"{_TRIVIAL}: the socket mode is refused (validate)",
    "console": _DEVICES,
    "console.id": _IDS,
    "console.pci_device_id": _DEVICES,
    "console.mode": _DEVICES,
    "console.file": _DEVICES,
    "console.socket": f"{_TRIVIAL}: the socket mode is refused (validate)",
    "debug_console": f"{_TRIVIAL}: any mode but off is refused (validate)",
    "debug_console.mode": f"{_TRIVIAL}: any mode but off is refused (validate)",
    "debug_console.file": f"{_TRIVIAL}: any mode but off is refused (validate)",
    "debug_console.iobase": f"{_TRIVIAL}: any mode but off is refused (validate)",
    "platform": f"{_TRIVIAL}: each of its fields is classified",
}

Rule = Callable[[Any, Any], str | None]


def _max_vcpus(value: Any, cpus: Any) -> str | None:
    assert isinstance(cpus, CpusConfig)
    if value == cpus.boot_vcpus:
        return None
    return "more vCPUs than boot= (CPU hot-plug) is not supported by this VMM yet"


def _image_type(value: Any, _disk: Any) -> str | None:
    if value in (ImageType.UNKNOWN, ImageType.RAW):
        return None
    return f"{value.value.lower()} images are not supported by this VMM yet (raw only)"


# Fields built for some values only: the rule says why a value is refused.
RULES: dict[str, Rule] = {
    "cpus.max_vcpus": _max_vcpus,
    "disks.image_type": _image_type,
}

# How the command line spells a field, where it differs from the field's name.
_CLI_KEY = {
    "cpus.boot_vcpus": "boot",
    "cpus.max_vcpus": "max",
    "disks.vhost_socket": "socket",
    "net.vhost_socket": "socket",
    "disks.rate_limiter_config": "bw_*/ops_*",
    "net.rate_limiter_config": "bw_*/ops_*",
    "platform.iommu_address_width_bits": "iommu_address_width",
}


def refuse_unbuilt(config: VmConfig) -> None:
    """Raise ValidationError for the first field set to something this VMM does not build."""
    _walk(config, "", "")


def _walk(record: Any, path: str, key: str) -> None:
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        field_path = f"{path}.{field.name}" if path else field.name
        field_key = f"{key}.{field.name}" if key else field.name
        if field_key in BUILT:
            for index, item in _records(value):
                where = field_path if index is None else f"{field_path}[{index}]"
                _walk(item, where, field_key)
            continue
        rule = RULES.get(field_key)
        if rule is not None:
            reason = rule(value, record)
            if reason is not None:
                raise ValidationError(field_path, _message(field_key, reason))
            continue
        if field.default is dataclasses.MISSING or value != field.default:
            raise ValidationError(field_path, _message(field_key, _NOT_BUILT))


def _records(value: Any) -> list[tuple[int | None, Any]]:
    """The dataclass records inside a field's value: itself, or each of a tuple's."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(None, value)]
    if isinstance(value, tuple):
        return [(i, item) for i, item in enumerate(value) if dataclasses.is_dataclass(item)]
    return []


_NOT_BUILT = "is not supported by this VMM yet"


def _message(field_key: str, reason: str) -> str:
    if "." not in field_key:
        # A whole option or VM field: the CLI names the option (--pmem: ...).
        return reason.replace("is not supported", "not supported", 1)
    name = _CLI_KEY.get(field_key, field_key.rsplit(".", 1)[-1])
    return f"'{name}' {reason}"
