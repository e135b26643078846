"""A VM releases everything it holds, whether it shuts down or fails half-built (real KVM).

The process's open fds, memory mappings and threads are the oracle: after a
VM is built and shut down, or fails to build, they are as they were before.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from vmm.arch.cpuid import CpuTopology
from vmm.device_manager import DeviceSpec
from vmm.errors import VmmError
from vmm.payload import Payload
from vmm.testing import echo_kernel
from vmm.virtio_devices import device_specs
from vmm.vm import Vm, VmSpec

pytestmark = pytest.mark.kvm

MEMORY = 64 << 20


def _holdings() -> tuple[int, int, int]:
    """Open fds, memory mappings and threads of this process."""
    fds = len(os.listdir("/proc/self/fd"))
    with open("/proc/self/maps") as maps:
        mappings = sum(1 for _ in maps)
    return fds, mappings, threading.active_count()


def _spec(tmp_path: Path, *devices: DeviceSpec) -> VmSpec:
    kernel = tmp_path / "echo.elf"
    kernel.write_bytes(echo_kernel())
    return VmSpec(
        vcpus=2,
        topology=CpuTopology.flat(2),
        memory_size=MEMORY,
        payload=Payload(str(kernel)),
        devices=devices,
    )


def _disk(path: Path) -> DeviceSpec:
    from vmm.config import VmParams, parse_vm_config

    (spec,) = [
        s
        for s in device_specs(parse_vm_config(VmParams(kernel="k", disks=(f"path={path}",))))
        if s.id == "_disk0"
    ]
    return spec


def test_a_vm_shut_down_releases_kvm_memory_and_devices(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(bytes(1 << 20))
    spec = _spec(tmp_path, _disk(image))
    Vm(spec, start_time=0.0).shutdown()  # the first one loads modules, caches, ...
    before = _holdings()
    for _ in range(3):
        vm = Vm(spec, start_time=0.0)
        assert _holdings()[0] > before[0]
        vm.shutdown()
    assert _holdings() == before


def test_a_vm_that_fails_half_built_releases_what_it_took(tmp_path: Path) -> None:
    good = tmp_path / "disk.raw"
    good.write_bytes(bytes(1 << 20))
    spec = _spec(tmp_path, _disk(good), _disk(tmp_path / "missing.raw"))
    with pytest.raises(VmmError):
        Vm(spec, start_time=0.0)
    before = _holdings()
    for _ in range(3):
        with pytest.raises(VmmError, match=r"missing\.raw"):
            Vm(spec, start_time=0.0)
    assert _holdings() == before
