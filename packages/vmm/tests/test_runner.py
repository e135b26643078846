"""The one place a config becomes a VM refuses what this VMM does not build (no KVM needed).

The CLI refuses before anything is built; the API stores any config at
`vm.create`, as CH does, and is refused here, at `vm.boot`.
"""

from __future__ import annotations

import pytest
from vmm.config import VmParams, parse_vm_config
from vmm.config.errors import ValidationError
from vmm.runner import vm_spec


def test_vm_spec_refuses_a_device_this_vmm_does_not_build() -> None:
    config = parse_vm_config(VmParams(kernel="/k", pmem=("file=/p,size=2M",)))
    with pytest.raises(ValidationError) as raised:
        vm_spec(config)
    assert raised.value.for_option() == "--pmem: not supported by this VMM yet"


def test_vm_spec_takes_what_this_vmm_builds() -> None:
    config = parse_vm_config(VmParams(kernel="/k", cpus="boot=2", disks=("path=/d",)))
    spec = vm_spec(config)
    assert (spec.vcpus, [device.id for device in spec.devices]) == (
        2,
        ["_disk0", "_rng", "_console"],
    )
