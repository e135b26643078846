"""The CPUID table each vCPU gets: KVM's supported leaves, adjusted by a documented policy.

Starting from `KVM_GET_SUPPORTED_CPUID`, the policy

* gives each vCPU its APIC ID and the VM's topology (leaves 0x1, 0x4, 0xB,
  0x1F, 0x8000_0008 and 0x8000_001E, whichever the host has);
* sets the hypervisor bit (leaf 0x1 ECX bit 31);
* keeps KVM's signature leaf 0x4000_0000 ("KVMKVMKVM") and its paravirt
  features in 0x4000_0001, except those that need the guest to issue
  hypercalls (`HYPERCALL_FEATURES`).

Why hypercall-based paravirt features are off: PV_UNHALT, PV_SEND_IPI,
PV_SCHED_YIELD and HC_MAP_GPA_RANGE make the guest kernel execute VMCALL or
VMMCALL and depend on the host handling it. They only speed up overcommitted
hosts (spinlock kicks, IPI batching, yielding to a preempted vCPU); a guest
without them is fully correct everywhere, while a guest with them breaks on
any host whose hypercall path is missing or restricted (nested and
paravirtualized KVM such as PVM, where a guest-kernel VMCALL never returns).
The clock source, async page faults, steal time and PV EOI work through
shared memory and MSRs, so they stay. `VcpuCpuidPolicy.hypercall_features`
turns the hypercall-based ones back on for hosts known to handle them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kvm_bindings import kvm_cpuid_entry2
from kvm_ioctls import CpuId


class KvmFeature(enum.IntFlag):
    """CPUID 0x4000_0001 EAX (Linux Documentation/virt/kvm/x86/cpuid.rst)."""

    CLOCKSOURCE = 1 << 0
    NOP_IO_DELAY = 1 << 1
    MMU_OP = 1 << 2
    CLOCKSOURCE2 = 1 << 3
    ASYNC_PF = 1 << 4
    STEAL_TIME = 1 << 5
    PV_EOI = 1 << 6
    PV_UNHALT = 1 << 7
    PV_TLB_FLUSH = 1 << 9
    ASYNC_PF_VMEXIT = 1 << 10
    PV_SEND_IPI = 1 << 11
    POLL_CONTROL = 1 << 12
    PV_SCHED_YIELD = 1 << 13
    ASYNC_PF_INT = 1 << 14
    MSI_EXT_DEST_ID = 1 << 15
    HC_MAP_GPA_RANGE = 1 << 16
    MIGRATION_CONTROL = 1 << 17
    CLOCKSOURCE_STABLE_BIT = 1 << 24


HYPERCALL_FEATURES = (
    KvmFeature.PV_UNHALT
    | KvmFeature.PV_SEND_IPI
    | KvmFeature.PV_SCHED_YIELD
    | KvmFeature.HC_MAP_GPA_RANGE
)

KVM_SIGNATURE_LEAF = 0x4000_0000
KVM_FEATURES_LEAF = 0x4000_0001
_HYPERVISOR_BIT = 1 << 31
_HTT_BIT = 1 << 28
_SMT_LEVEL, _CORE_LEVEL = 1, 2


@dataclass(frozen=True, slots=True)
class CpuTopology:
    """Threads per core, cores per die, dies per package, packages (CH's `topology=`)."""

    threads_per_core: int = 1
    cores_per_die: int = 1
    dies_per_package: int = 1
    packages: int = 1

    @classmethod
    def flat(cls, vcpus: int) -> CpuTopology:
        """One package with one single-threaded core per vCPU (CH's default)."""
        return cls(cores_per_die=vcpus)

    @property
    def logical_per_package(self) -> int:
        return self.threads_per_core * self.cores_per_die * self.dies_per_package


# CH's `--cpus max_phys_bits=` default: PVH boot limits guest physical
# addresses to 46 bits even on hosts with more.
DEFAULT_MAX_PHYS_BITS = 46


def guest_phys_bits(supported: CpuId, max_phys_bits: int = DEFAULT_MAX_PHYS_BITS) -> int:
    """The physical address width the vCPUs report (leaf 0x80000008), as the policy sets it."""
    for entry in supported:
        if entry.function == 0x8000_0008:
            return min(int(entry.eax) & 0xFF, max_phys_bits)
    return min(36, max_phys_bits)  # no leaf: the architectural default


@dataclass(frozen=True, slots=True)
class VcpuCpuidPolicy:
    topology: CpuTopology
    hypercall_features: bool = False
    max_phys_bits: int = DEFAULT_MAX_PHYS_BITS
    """Leaf 0x80000008 reports at most this many physical address bits (and never more
    than the host has)."""

    def table_for(self, supported: CpuId, apic_id: int) -> CpuId:
        """A fresh table for the vCPU with `apic_id`, leaving `supported` untouched."""
        table = CpuId(kvm_cpuid_entry2.from_buffer_copy(entry) for entry in supported)
        for entry in table:
            self._adjust(entry, apic_id)
        return table

    def _adjust(self, entry: kvm_cpuid_entry2, apic_id: int) -> None:
        topology = self.topology
        logical = topology.logical_per_package
        smt_shift = _bits_for(topology.threads_per_core)
        core_shift = smt_shift + _bits_for(topology.cores_per_die * topology.dies_per_package)
        match entry.function:
            case 0x1:
                entry.ebx = (entry.ebx & 0x0000FFFF) | (apic_id << 24) | (min(logical, 255) << 16)
                entry.ecx |= _HYPERVISOR_BIT
                entry.edx = entry.edx | _HTT_BIT if logical > 1 else entry.edx & ~_HTT_BIT
            case 0x4:
                cores = topology.cores_per_die * topology.dies_per_package
                entry.eax = (entry.eax & 0x03FFFFFF) | ((min(cores, 64) - 1) << 26)
            case 0xB | 0x1F:
                if entry.index == 0:
                    level = (smt_shift, topology.threads_per_core, _SMT_LEVEL)
                elif entry.index == 1:
                    level = (core_shift, logical, _CORE_LEVEL)
                else:
                    level = (0, 0, 0)
                shift, count, kind = level
                entry.eax, entry.ebx = shift, count
                entry.ecx = (kind << 8) | (entry.index & 0xFF)
                entry.edx = apic_id
            case 0x8000_0008:
                entry.ecx = (entry.ecx & ~0xF0FF) | (core_shift << 12) | (min(logical, 256) - 1)
                host_bits = entry.eax & 0xFF
                entry.eax = (entry.eax & ~0xFF) | min(host_bits, self.max_phys_bits)
            case 0x8000_001E:
                entry.eax = apic_id
                core_id = (apic_id >> smt_shift) & 0xFF
                entry.ebx = ((topology.threads_per_core - 1) << 8) | core_id
                entry.ecx = (apic_id >> core_shift) & 0xFF  # node (package) id
            case 0x4000_0001 if not self.hypercall_features:
                entry.eax &= ~HYPERCALL_FEATURES


def _bits_for(count: int) -> int:
    """Bits of an APIC ID needed to number `count` siblings (x2APIC topology shift)."""
    return max(count - 1, 0).bit_length()
