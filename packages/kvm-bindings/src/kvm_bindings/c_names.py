"""Which `<linux/kvm.h>` macro each enum member mirrors: `ExitReason.IO` is `KVM_EXIT_IO`.

Used by the tests that compile a C program against the system header.
"""

from __future__ import annotations

import enum

from kvm_bindings.caps import Cap
from kvm_bindings.constants import (
    ClockFlags,
    CpuidFlags,
    ExitReason,
    InternalErrorSuberror,
    IoDirection,
    IoeventfdFlags,
    IrqchipId,
    IrqfdFlags,
    IrqRoutingType,
    MemoryRegionFlags,
    MpState,
    MsiFlags,
    PitFlags,
    StatsType,
    SystemEventType,
    VcpuEventsValid,
    X86DisableExits,
)

C_MACRO_PREFIXES: dict[type[enum.Enum], str] = {
    ExitReason: "KVM_EXIT_",
    IoDirection: "KVM_EXIT_IO_",
    InternalErrorSuberror: "KVM_INTERNAL_ERROR_",
    SystemEventType: "KVM_SYSTEM_EVENT_",
    MemoryRegionFlags: "KVM_MEM_",
    IoeventfdFlags: "KVM_IOEVENTFD_FLAG_",
    IrqfdFlags: "KVM_IRQFD_FLAG_",
    IrqRoutingType: "KVM_IRQ_ROUTING_",
    IrqchipId: "KVM_IRQCHIP_",
    MpState: "KVM_MP_STATE_",
    PitFlags: "KVM_PIT_",
    MsiFlags: "KVM_MSI_",
    CpuidFlags: "KVM_CPUID_FLAG_",
    ClockFlags: "KVM_CLOCK_",
    VcpuEventsValid: "KVM_VCPUEVENT_VALID_",
    X86DisableExits: "KVM_X86_DISABLE_EXITS_",
    Cap: "KVM_CAP_",
    StatsType: "KVM_STATS_TYPE_",
}
