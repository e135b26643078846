"""Create and configure the vCPUs: CPUID, MSRs, FPU, LAPIC LINTs, and the boot vCPU's entry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvm_ioctls import CpuId, KvmError
from vm_memory import GuestMemoryMmap

from vmm.arch import regs
from vmm.arch.cpuid import DEFAULT_MAX_PHYS_BITS, CpuTopology, VcpuCpuidPolicy
from vmm.errors import CpuError
from vmm.payload import BootEntry, EntryKind

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVcpu, HypervisorVm


def create_vcpus(
    vm: HypervisorVm,
    count: int,
    *,
    supported_cpuid: CpuId,
    topology: CpuTopology,
    max_phys_bits: int = DEFAULT_MAX_PHYS_BITS,
    boot: BootEntry,
    memory: GuestMemoryMmap,
) -> list[HypervisorVcpu]:
    """vCPUs 0..count-1 (APIC ID = index); vCPU 0 starts at the payload's entry.

    The others wait for INIT/SIPI from the guest, which the in-kernel LAPIC
    handles.
    """
    policy = VcpuCpuidPolicy(topology, max_phys_bits=max_phys_bits)
    vcpus: list[HypervisorVcpu] = []
    index = 0
    try:
        for index in range(count):
            vcpu = vm.create_vcpu(index)
            vcpus.append(vcpu)
            vcpu.set_cpuid2(policy.table_for(supported_cpuid, apic_id=index))
            regs.setup_boot_msrs(vcpu)
            regs.setup_fpu(vcpu)
            regs.setup_lint(vcpu)
            if index == 0:
                _enter(vcpu, boot, memory)
    except (KvmError, RuntimeError) as error:
        for vcpu in vcpus:
            vcpu.close()
        raise CpuError(f"cannot set up vCPU {index}: {error}") from None
    return vcpus


def _enter(vcpu: HypervisorVcpu, boot: BootEntry, memory: GuestMemoryMmap) -> None:
    if boot.kind is EntryKind.PVH:
        regs.setup_pvh_entry(vcpu, boot.entry, boot.boot_params)
    else:
        regs.setup_linux64_entry(vcpu, memory, boot.entry, boot.boot_params)
