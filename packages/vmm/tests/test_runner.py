"""The one place a config becomes a VM refuses what this VMM does not build (no KVM needed).

The CLI refuses before anything is built; the API stores any config at
`vm.create`, as CH does, and is refused here, at `vm.boot`.
"""

from __future__ import annotations

import pytest
from vmm.config import VmParams, parse_vm_config
from vmm.config.errors import ValidationError
from vmm.launch import vm_spec


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


def test_max_phys_bits_reaches_the_cpuid_policy() -> None:
    config = parse_vm_config(VmParams(kernel="/k", cpus="boot=1,max_phys_bits=40"))
    assert vm_spec(config).max_phys_bits == 40


def test_memory_keys_become_the_guest_ram_mapping_options() -> None:
    memory = "size=512M,hugepages=on,hugepage_size=2M,mergeable=on,prefault=on,thp=off"
    options = vm_spec(parse_vm_config(VmParams(kernel="/k", memory=memory))).memory_options
    assert options is not None
    assert (options.hugepages, options.hugepage_size) == (True, 2 << 20)
    assert (options.mergeable, options.prefault, options.transparent_hugepages) == (
        True,
        True,
        False,
    )
    assert options.dontdump


def _smaps_entry(address: int) -> dict[str, str]:
    """The /proc/self/smaps fields of the mapping that starts at `address`."""
    entry: dict[str, str] = {}
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split(" ", 1)[0]
            if "-" in head and ":" not in head:
                if inside:
                    break
                inside = int(head.split("-")[0], 16) == address
            elif inside:
                key, _, value = line.partition(":")
                entry[key] = value.strip()
    return entry


def test_guest_ram_honours_prefault_and_mergeable() -> None:
    """Real mappings: prefault populates every page up front, mergeable is madvise()d for KSM."""
    from vmm.memory import create_guest_ram, guest_ram_options

    size = 64 << 20
    options = guest_ram_options(prefault=True, mergeable=True, thp=False)
    with create_guest_ram(size, options=options) as ram:
        entry = _smaps_entry(ram.regions[0].host_address)
        assert int(entry["Rss"].split()[0]) * 1024 >= size - (1 << 20), entry["Rss"]
        assert "mg" in entry["VmFlags"].split(), entry["VmFlags"]
    with create_guest_ram(size) as ram:
        entry = _smaps_entry(ram.regions[0].host_address)
        assert int(entry["Rss"].split()[0]) * 1024 < size // 2, entry["Rss"]
        assert "mg" not in entry["VmFlags"].split()
