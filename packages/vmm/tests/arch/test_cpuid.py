"""The per-vCPU CPUID policy applied to KVM's supported table."""

from __future__ import annotations

import pytest
from kvm_bindings import kvm_cpuid_entry2
from kvm_ioctls import CpuId, Kvm
from vmm.arch.cpuid import (
    HYPERCALL_FEATURES,
    KVM_FEATURES_LEAF,
    CpuTopology,
    KvmFeature,
    VcpuCpuidPolicy,
)


def _entry(function: int, index: int = 0, **registers: int) -> kvm_cpuid_entry2:
    return kvm_cpuid_entry2(function=function, index=index, flags=1, **registers)


SYNTHETIC = CpuId(
    [
        _entry(0x1, ebx=0x00010800, ecx=0x00000201),
        _entry(0xB, 0),
        _entry(0xB, 1),
        _entry(0xB, 2),
        _entry(0x8000_001E),
        _entry(KVM_FEATURES_LEAF, eax=int(KvmFeature.CLOCKSOURCE2 | HYPERCALL_FEATURES)),
    ]
)


def test_leaf_1_carries_the_apic_id_the_logical_count_and_the_hypervisor_bit() -> None:
    table = VcpuCpuidPolicy(CpuTopology.flat(4)).table_for(SYNTHETIC, apic_id=3)
    leaf = table.get(0x1)
    assert leaf is not None
    assert leaf.ebx >> 24 == 3
    assert (leaf.ebx >> 16) & 0xFF == 4
    assert leaf.ebx & 0xFFFF == 0x0800  # brand and CLFLUSH size kept
    assert leaf.ecx & (1 << 31)


def test_extended_topology_leaf_reports_threads_and_cores() -> None:
    topology = CpuTopology(threads_per_core=2, cores_per_die=2)
    table = VcpuCpuidPolicy(topology).table_for(SYNTHETIC, apic_id=3)
    smt, core, invalid = (table.get(0xB, i) for i in range(3))
    assert smt is not None
    assert core is not None
    assert invalid is not None
    assert (smt.eax, smt.ebx, smt.ecx >> 8, smt.edx) == (1, 2, 1, 3)
    assert (core.eax, core.ebx, core.ecx >> 8, core.edx) == (2, 4, 2, 3)
    assert (invalid.ebx, invalid.ecx >> 8) == (0, 0)


def test_hypercall_paravirt_features_are_hidden_and_the_clock_is_kept() -> None:
    table = VcpuCpuidPolicy(CpuTopology.flat(1)).table_for(SYNTHETIC, apic_id=0)
    leaf = table.get(KVM_FEATURES_LEAF)
    assert leaf is not None
    assert leaf.eax & HYPERCALL_FEATURES == 0
    assert leaf.eax & KvmFeature.CLOCKSOURCE2


def test_hypercall_features_stay_when_the_policy_allows_them() -> None:
    policy = VcpuCpuidPolicy(CpuTopology.flat(1), hypercall_features=True)
    leaf = policy.table_for(SYNTHETIC, apic_id=0).get(KVM_FEATURES_LEAF)
    assert leaf is not None
    assert leaf.eax & HYPERCALL_FEATURES == HYPERCALL_FEATURES


@pytest.mark.parametrize(("max_phys_bits", "expected"), [(46, 46), (40, 40), (52, 48)])
def test_physical_address_bits_are_clamped_to_max_phys_bits(
    max_phys_bits: int, expected: int
) -> None:
    host = CpuId([_entry(0x8000_0008, eax=0x3030)])  # 48 physical, 48 linear bits
    table = VcpuCpuidPolicy(CpuTopology.flat(1), max_phys_bits=max_phys_bits).table_for(
        host, apic_id=0
    )
    leaf = table.get(0x8000_0008)
    assert leaf is not None
    assert (leaf.eax & 0xFF, leaf.eax >> 8 & 0xFF) == (expected, 48)


def test_the_supported_table_is_not_modified() -> None:
    VcpuCpuidPolicy(CpuTopology.flat(2)).table_for(SYNTHETIC, apic_id=1)
    leaf = SYNTHETIC.get(0x1)
    assert leaf is not None
    assert leaf.ebx == 0x00010800


@pytest.mark.kvm
def test_policy_applies_to_the_real_supported_table_and_kvm_accepts_it() -> None:
    with Kvm() as kvm, kvm.create_vm() as vm:
        supported = kvm.get_supported_cpuid()
        vcpu = vm.create_vcpu(1)
        vcpu.set_cpuid2(VcpuCpuidPolicy(CpuTopology.flat(2)).table_for(supported, apic_id=1))
        features = vcpu.get_cpuid2().get(KVM_FEATURES_LEAF)
        vcpu.close()
    assert features is not None
    assert features.eax & HYPERCALL_FEATURES == 0
    assert features.eax & KvmFeature.CLOCKSOURCE2
