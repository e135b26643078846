"""--cpus, --memory, --memory-zone and the payload options, with CH's keys and defaults."""

from __future__ import annotations

from functools import partial

import pytest
from vmm.config import (
    CoreScheduling,
    CpuAffinity,
    CpuTopology,
    HotplugMethod,
    OptionError,
    VmParams,
    parse_vm_config,
)
from vmm.config.parse import parse_named_option

parse_cpus = partial(parse_named_option, "cpus")
parse_memory = partial(parse_named_option, "memory")
parse_memory_zone = partial(parse_named_option, "memory-zone")


def test_cpus_default_to_one_boot_vcpu_and_46_physical_bits() -> None:
    cpus = parse_vm_config(VmParams(kernel="k")).cpus
    assert (cpus.boot_vcpus, cpus.max_vcpus, cpus.max_phys_bits) == (1, 1, 46)
    assert cpus.nested
    assert not cpus.kvm_hyperv
    assert cpus.topology is None
    assert cpus.core_scheduling is CoreScheduling.VM


def test_max_vcpus_defaults_to_boot_vcpus() -> None:
    assert parse_cpus("boot=4").max_vcpus == 4


def test_cpus_take_boot_and_max() -> None:
    cpus = parse_cpus("boot=2,max=8")
    assert (cpus.boot_vcpus, cpus.max_vcpus) == (2, 8)


def test_topology_is_threads_cores_dies_packages() -> None:
    assert parse_cpus("boot=8,topology=2:2:1:2").topology == CpuTopology(
        threads_per_core=2, cores_per_die=2, dies_per_package=1, packages=2
    )


def test_a_topology_needs_four_parts() -> None:
    with pytest.raises(OptionError, match="threads_per_core:cores_per_die"):
        parse_cpus("topology=2:2:1")


def test_affinity_maps_vcpus_to_host_cpu_lists() -> None:
    assert parse_cpus("boot=2,affinity=[0@[0-1],1@[2,4]]").affinity == (
        CpuAffinity(vcpu=0, host_cpus=(0, 1)),
        CpuAffinity(vcpu=1, host_cpus=(2, 4)),
    )


def test_cpu_toggles_and_choices() -> None:
    cpus = parse_cpus("kvm_hyperv=on,nested=off,core_scheduling=vcpu,max_phys_bits=39")
    assert cpus.kvm_hyperv
    assert not cpus.nested
    assert cpus.max_phys_bits == 39
    assert cpus.core_scheduling is CoreScheduling.VCPU


def test_amx_is_the_only_cpu_feature() -> None:
    assert parse_cpus("features=[amx]").features.amx
    with pytest.raises(OptionError, match="invalid feature in features list: avx"):
        parse_cpus("features=[avx]")


def test_a_non_numeric_vcpu_count_is_rejected() -> None:
    with pytest.raises(OptionError, match="--cpus: invalid value 'two' for boot"):
        parse_cpus("boot=two")


def test_memory_defaults_to_512_mib_with_thp() -> None:
    memory = parse_vm_config(VmParams(kernel="k")).memory
    assert memory.size == 512 << 20
    assert memory.thp
    assert not memory.shared
    assert not memory.hugepages
    assert memory.hotplug_method is HotplugMethod.ACPI


def test_memory_takes_size_shared_and_hugepages() -> None:
    memory = parse_memory("size=1G,shared=on,hugepages=on,hugepage_size=2M")
    assert (memory.size, memory.shared, memory.hugepages) == (1 << 30, True, True)
    assert memory.hugepage_size == 2 << 20


def test_memory_hotplug_keys() -> None:
    memory = parse_memory("hotplug_method=virtio-mem,hotplug_size=1G,hotplugged_size=512M")
    assert memory.hotplug_method is HotplugMethod.VIRTIO_MEM
    assert (memory.hotplug_size, memory.hotplugged_size) == (1 << 30, 512 << 20)


def test_an_unknown_hotplug_method_is_rejected() -> None:
    with pytest.raises(OptionError, match="acpi, virtio-mem"):
        parse_memory("hotplug_method=dimm")


def test_a_bad_memory_size_names_the_option() -> None:
    with pytest.raises(OptionError) as caught:
        parse_memory("size=12Q")
    assert str(caught.value).startswith("--memory: invalid value '12Q' for size")


def test_memory_zones_need_an_id() -> None:
    with pytest.raises(OptionError, match="--memory-zone: id missing"):
        parse_memory_zone("size=1G")


def test_memory_zones_inherit_mergeable_from_memory() -> None:
    memory = parse_vm_config(
        VmParams(
            kernel="k",
            memory="size=0,mergeable=on",
            memory_zones=("id=z0,size=1G", "id=z1,mergeable=off"),
        )
    ).memory
    assert memory.zones is not None
    assert [zone.mergeable for zone in memory.zones] == [True, False]
    assert memory.total_size() == (1 << 30) + (512 << 20)


def test_payload_holds_kernel_initramfs_and_cmdline() -> None:
    config = parse_vm_config(VmParams(kernel="vmlinux", initramfs="initrd", cmdline="quiet"))
    assert config.payload is not None
    assert (config.payload.kernel, config.payload.initramfs) == ("vmlinux", "initrd")
    assert config.payload.cmdline == "quiet"


def test_no_kernel_and_no_firmware_means_no_payload() -> None:
    assert parse_vm_config(VmParams(cmdline="quiet")).payload is None


def test_rng_defaults_to_dev_urandom() -> None:
    assert parse_vm_config(VmParams(kernel="k")).rng.src == "/dev/urandom"
