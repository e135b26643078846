"""KVM constants as enums (capabilities are in `caps`, C macro names in `c_names`)."""

from __future__ import annotations

import enum

KVM_API_VERSION = 12


class ExitReason(enum.IntEnum):
    """`kvm_run.exit_reason`."""

    UNKNOWN = 0
    EXCEPTION = 1
    IO = 2
    HYPERCALL = 3
    DEBUG = 4
    HLT = 5
    MMIO = 6
    IRQ_WINDOW_OPEN = 7
    SHUTDOWN = 8
    FAIL_ENTRY = 9
    INTR = 10
    SET_TPR = 11
    TPR_ACCESS = 12
    S390_SIEIC = 13
    S390_RESET = 14
    DCR = 15
    NMI = 16
    INTERNAL_ERROR = 17
    OSI = 18
    PAPR_HCALL = 19
    S390_UCONTROL = 20
    WATCHDOG = 21
    S390_TSCH = 22
    EPR = 23
    SYSTEM_EVENT = 24
    S390_STSI = 25
    IOAPIC_EOI = 26
    HYPERV = 27
    ARM_NISV = 28
    X86_RDMSR = 29
    X86_WRMSR = 30
    DIRTY_RING_FULL = 31
    AP_RESET_HOLD = 32
    X86_BUS_LOCK = 33
    XEN = 34
    RISCV_SBI = 35
    RISCV_CSR = 36
    NOTIFY = 37


class IoDirection(enum.IntEnum):
    """`kvm_run.io.direction`."""

    IN = 0
    OUT = 1


class InternalErrorSuberror(enum.IntEnum):
    """`kvm_run.internal.suberror`."""

    EMULATION = 1
    SIMUL_EX = 2
    DELIVERY_EV = 3
    UNEXPECTED_EXIT_REASON = 4


class SystemEventType(enum.IntEnum):
    """`kvm_run.system_event.type`."""

    SHUTDOWN = 1
    RESET = 2
    CRASH = 3
    WAKEUP = 4
    SUSPEND = 5
    SEV_TERM = 6


class MemoryRegionFlags(enum.IntFlag):
    """`kvm_userspace_memory_region.flags`."""

    LOG_DIRTY_PAGES = 1 << 0
    READONLY = 1 << 1


class IoeventfdFlags(enum.IntFlag):
    """`kvm_ioeventfd.flags`."""

    DATAMATCH = 1 << 0
    PIO = 1 << 1
    DEASSIGN = 1 << 2
    VIRTIO_CCW_NOTIFY = 1 << 3


class IrqfdFlags(enum.IntFlag):
    """`kvm_irqfd.flags`."""

    DEASSIGN = 1 << 0
    RESAMPLE = 1 << 1


class IrqRoutingType(enum.IntEnum):
    """`kvm_irq_routing_entry.type`."""

    IRQCHIP = 1
    MSI = 2
    S390_ADAPTER = 3
    HV_SINT = 4
    XEN_EVTCHN = 5


class IrqchipId(enum.IntEnum):
    """`kvm_irqchip.chip_id` and `kvm_irq_routing_irqchip.irqchip`."""

    PIC_MASTER = 0
    PIC_SLAVE = 1
    IOAPIC = 2


class MpState(enum.IntEnum):
    """`kvm_mp_state.mp_state`."""

    RUNNABLE = 0
    UNINITIALIZED = 1
    INIT_RECEIVED = 2
    HALTED = 3
    SIPI_RECEIVED = 4
    STOPPED = 5
    CHECK_STOP = 6
    OPERATING = 7
    LOAD = 8
    AP_RESET_HOLD = 9
    SUSPENDED = 10


class PitFlags(enum.IntFlag):
    """`kvm_pit_config.flags`."""

    SPEAKER_DUMMY = 1


class MsiFlags(enum.IntFlag):
    """`kvm_msi.flags`."""

    VALID_DEVID = 1 << 0


class CpuidFlags(enum.IntFlag):
    """`kvm_cpuid_entry2.flags` (the C name keeps its historical misspelling)."""

    SIGNIFCANT_INDEX = 1 << 0
    STATEFUL_FUNC = 1 << 1
    STATE_READ_NEXT = 1 << 2
    SIGNIFICANT_INDEX = SIGNIFCANT_INDEX


class ClockFlags(enum.IntFlag):
    """`kvm_clock_data.flags`."""

    TSC_STABLE = 2
    REALTIME = 1 << 2
    HOST_TSC = 1 << 3


class VcpuEventsValid(enum.IntFlag):
    """`kvm_vcpu_events.flags`: which optional fields KVM_SET_VCPU_EVENTS applies."""

    NMI_PENDING = 0x01
    SIPI_VECTOR = 0x02
    SHADOW = 0x04
    SMM = 0x08
    PAYLOAD = 0x10
    TRIPLE_FAULT = 0x20


class X86DisableExits(enum.IntFlag):
    """Arguments of `KVM_CAP_X86_DISABLE_EXITS`."""

    MWAIT = 1 << 0
    HLT = 1 << 1
    PAUSE = 1 << 2
    CSTATE = 1 << 3


class StatsType(enum.IntEnum):
    """`kvm_stats_desc.flags & KVM_STATS_TYPE_MASK`."""

    CUMULATIVE = 0x0
    INSTANT = 0x1
    PEAK = 0x2
    LINEAR_HIST = 0x3
    LOG_HIST = 0x4


KVM_STATS_TYPE_MASK = 0xF
KVM_STATS_UNIT_MASK = 0xF0
KVM_STATS_BASE_MASK = 0xF00
