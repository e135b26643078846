"""KVM ioctl request numbers, computed from `_IO*` and the struct sizes.

Grouped by the file descriptor they apply to: the system fd (/dev/kvm), a VM
fd, or a vCPU fd. Names are the C macro names.
"""

from __future__ import annotations

from ctypes import c_uint64

from kvm_bindings.ioctl import KVMIO, io, ior, iow, iowr
from kvm_bindings.structs import (
    kvm_clock_data,
    kvm_dirty_log,
    kvm_enable_cap,
    kvm_ioeventfd,
    kvm_irq_level,
    kvm_irq_routing,
    kvm_irqchip,
    kvm_irqfd,
    kvm_mp_state,
    kvm_msi,
    kvm_pit_config,
    kvm_signal_mask,
    kvm_userspace_memory_region,
)
from kvm_bindings.x86 import (
    kvm_cpuid2,
    kvm_debugregs,
    kvm_fpu,
    kvm_lapic_state,
    kvm_msr_list,
    kvm_msrs,
    kvm_pit_state2,
    kvm_regs,
    kvm_sregs,
    kvm_vcpu_events,
    kvm_xcrs,
    kvm_xsave,
)

# System ioctls (/dev/kvm).
KVM_GET_API_VERSION = io(KVMIO, 0x00)
KVM_CREATE_VM = io(KVMIO, 0x01)
KVM_GET_MSR_INDEX_LIST = iowr(KVMIO, 0x02, kvm_msr_list)
KVM_CHECK_EXTENSION = io(KVMIO, 0x03)
KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04)
KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, kvm_cpuid2)
KVM_GET_EMULATED_CPUID = iowr(KVMIO, 0x09, kvm_cpuid2)
KVM_GET_MSR_FEATURE_INDEX_LIST = iowr(KVMIO, 0x0A, kvm_msr_list)

# VM ioctls.
KVM_CREATE_VCPU = io(KVMIO, 0x41)
KVM_GET_DIRTY_LOG = iow(KVMIO, 0x42, kvm_dirty_log)
KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, kvm_userspace_memory_region)
KVM_SET_TSS_ADDR = io(KVMIO, 0x47)
KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, c_uint64)
KVM_CREATE_IRQCHIP = io(KVMIO, 0x60)
KVM_IRQ_LINE = iow(KVMIO, 0x61, kvm_irq_level)
KVM_GET_IRQCHIP = iowr(KVMIO, 0x62, kvm_irqchip)
KVM_SET_IRQCHIP = ior(KVMIO, 0x63, kvm_irqchip)
KVM_IRQ_LINE_STATUS = iowr(KVMIO, 0x67, kvm_irq_level)
KVM_SET_GSI_ROUTING = iow(KVMIO, 0x6A, kvm_irq_routing)
KVM_IRQFD = iow(KVMIO, 0x76, kvm_irqfd)
KVM_CREATE_PIT2 = iow(KVMIO, 0x77, kvm_pit_config)
KVM_IOEVENTFD = iow(KVMIO, 0x79, kvm_ioeventfd)
KVM_SET_CLOCK = iow(KVMIO, 0x7B, kvm_clock_data)
KVM_GET_CLOCK = ior(KVMIO, 0x7C, kvm_clock_data)
KVM_GET_PIT2 = ior(KVMIO, 0x9F, kvm_pit_state2)
KVM_SET_PIT2 = iow(KVMIO, 0xA0, kvm_pit_state2)
KVM_SIGNAL_MSI = iow(KVMIO, 0xA5, kvm_msi)

# VM and vCPU ioctls.
KVM_ENABLE_CAP = iow(KVMIO, 0xA3, kvm_enable_cap)
KVM_SET_TSC_KHZ = io(KVMIO, 0xA2)
KVM_GET_TSC_KHZ = io(KVMIO, 0xA3)

# vCPU ioctls.
KVM_RUN = io(KVMIO, 0x80)
KVM_GET_REGS = ior(KVMIO, 0x81, kvm_regs)
KVM_SET_REGS = iow(KVMIO, 0x82, kvm_regs)
KVM_GET_SREGS = ior(KVMIO, 0x83, kvm_sregs)
KVM_SET_SREGS = iow(KVMIO, 0x84, kvm_sregs)
KVM_GET_MSRS = iowr(KVMIO, 0x88, kvm_msrs)
KVM_SET_MSRS = iow(KVMIO, 0x89, kvm_msrs)
KVM_SET_SIGNAL_MASK = iow(KVMIO, 0x8B, kvm_signal_mask)
KVM_GET_FPU = ior(KVMIO, 0x8C, kvm_fpu)
KVM_SET_FPU = iow(KVMIO, 0x8D, kvm_fpu)
KVM_GET_LAPIC = ior(KVMIO, 0x8E, kvm_lapic_state)
KVM_SET_LAPIC = iow(KVMIO, 0x8F, kvm_lapic_state)
KVM_SET_CPUID2 = iow(KVMIO, 0x90, kvm_cpuid2)
KVM_GET_CPUID2 = iowr(KVMIO, 0x91, kvm_cpuid2)
KVM_GET_MP_STATE = ior(KVMIO, 0x98, kvm_mp_state)
KVM_SET_MP_STATE = iow(KVMIO, 0x99, kvm_mp_state)
KVM_NMI = io(KVMIO, 0x9A)
KVM_GET_VCPU_EVENTS = ior(KVMIO, 0x9F, kvm_vcpu_events)
KVM_SET_VCPU_EVENTS = iow(KVMIO, 0xA0, kvm_vcpu_events)
KVM_GET_DEBUGREGS = ior(KVMIO, 0xA1, kvm_debugregs)
KVM_SET_DEBUGREGS = iow(KVMIO, 0xA2, kvm_debugregs)
KVM_GET_XSAVE = ior(KVMIO, 0xA4, kvm_xsave)
KVM_SET_XSAVE = iow(KVMIO, 0xA5, kvm_xsave)
KVM_GET_XCRS = ior(KVMIO, 0xA6, kvm_xcrs)
KVM_SET_XCRS = iow(KVMIO, 0xA7, kvm_xcrs)
KVM_KVMCLOCK_CTRL = io(KVMIO, 0xAD)

# VM and vCPU: binary statistics.
KVM_GET_STATS_FD = io(KVMIO, 0xCE)

REQUESTS: dict[str, int] = {
    name: value for name, value in dict(globals()).items() if name.startswith("KVM_")
}
