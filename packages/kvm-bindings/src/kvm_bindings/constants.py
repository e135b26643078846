"""KVM constants as enums, each mapped to the C macro prefix it mirrors.

`C_MACRO_PREFIXES` says which `<linux/kvm.h>` macro each member stands for
(`ExitReason.IO` is `KVM_EXIT_IO`), so a test can check every value against
the system header.
"""

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


class Cap(enum.IntEnum):
    """`KVM_CHECK_EXTENSION` / `KVM_ENABLE_CAP` capability numbers."""

    IRQCHIP = 0
    HLT = 1
    MMU_SHADOW_CACHE_CONTROL = 2
    USER_MEMORY = 3
    SET_TSS_ADDR = 4
    VAPIC = 6
    EXT_CPUID = 7
    CLOCKSOURCE = 8
    NR_VCPUS = 9
    NR_MEMSLOTS = 10
    PIT = 11
    NOP_IO_DELAY = 12
    PV_MMU = 13
    MP_STATE = 14
    COALESCED_MMIO = 15
    SYNC_MMU = 16
    IOMMU = 18
    DESTROY_MEMORY_REGION_WORKS = 21
    USER_NMI = 22
    SET_GUEST_DEBUG = 23
    REINJECT_CONTROL = 24
    IRQ_ROUTING = 25
    IRQ_INJECT_STATUS = 26
    ASSIGN_DEV_IRQ = 29
    JOIN_MEMORY_REGIONS_WORKS = 30
    MCE = 31
    IRQFD = 32
    PIT2 = 33
    SET_BOOT_CPU_ID = 34
    PIT_STATE2 = 35
    IOEVENTFD = 36
    SET_IDENTITY_MAP_ADDR = 37
    XEN_HVM = 38
    ADJUST_CLOCK = 39
    INTERNAL_ERROR_DATA = 40
    VCPU_EVENTS = 41
    S390_PSW = 42
    PPC_SEGSTATE = 43
    HYPERV = 44
    HYPERV_VAPIC = 45
    HYPERV_SPIN = 46
    PCI_SEGMENT = 47
    PPC_PAIRED_SINGLES = 48
    INTR_SHADOW = 49
    DEBUGREGS = 50
    X86_ROBUST_SINGLESTEP = 51
    PPC_OSI = 52
    PPC_UNSET_IRQ = 53
    ENABLE_CAP = 54
    XSAVE = 55
    XCRS = 56
    PPC_GET_PVINFO = 57
    PPC_IRQ_LEVEL = 58
    ASYNC_PF = 59
    TSC_CONTROL = 60
    GET_TSC_KHZ = 61
    PPC_BOOKE_SREGS = 62
    SPAPR_TCE = 63
    PPC_SMT = 64
    PPC_RMA = 65
    MAX_VCPUS = 66
    PPC_HIOR = 67
    PPC_PAPR = 68
    SW_TLB = 69
    ONE_REG = 70
    S390_GMAP = 71
    TSC_DEADLINE_TIMER = 72
    S390_UCONTROL = 73
    SYNC_REGS = 74
    PCI_2_3 = 75
    KVMCLOCK_CTRL = 76
    SIGNAL_MSI = 77
    PPC_GET_SMMU_INFO = 78
    S390_COW = 79
    PPC_ALLOC_HTAB = 80
    READONLY_MEM = 81
    IRQFD_RESAMPLE = 82
    PPC_BOOKE_WATCHDOG = 83
    PPC_HTAB_FD = 84
    S390_CSS_SUPPORT = 85
    PPC_EPR = 86
    ARM_PSCI = 87
    ARM_SET_DEVICE_ADDR = 88
    DEVICE_CTRL = 89
    IRQ_MPIC = 90
    PPC_RTAS = 91
    IRQ_XICS = 92
    ARM_EL1_32BIT = 93
    SPAPR_MULTITCE = 94
    EXT_EMUL_CPUID = 95
    HYPERV_TIME = 96
    IOAPIC_POLARITY_IGNORED = 97
    ENABLE_CAP_VM = 98
    S390_IRQCHIP = 99
    IOEVENTFD_NO_LENGTH = 100
    VM_ATTRIBUTES = 101
    ARM_PSCI_0_2 = 102
    PPC_FIXUP_HCALL = 103
    PPC_ENABLE_HCALL = 104
    CHECK_EXTENSION_VM = 105
    S390_USER_SIGP = 106
    S390_VECTOR_REGISTERS = 107
    S390_MEM_OP = 108
    S390_USER_STSI = 109
    S390_SKEYS = 110
    MIPS_FPU = 111
    MIPS_MSA = 112
    S390_INJECT_IRQ = 113
    S390_IRQ_STATE = 114
    PPC_HWRNG = 115
    DISABLE_QUIRKS = 116
    X86_SMM = 117
    MULTI_ADDRESS_SPACE = 118
    GUEST_DEBUG_HW_BPS = 119
    GUEST_DEBUG_HW_WPS = 120
    SPLIT_IRQCHIP = 121
    IOEVENTFD_ANY_LENGTH = 122
    HYPERV_SYNIC = 123
    S390_RI = 124
    SPAPR_TCE_64 = 125
    ARM_PMU_V3 = 126
    VCPU_ATTRIBUTES = 127
    MAX_VCPU_ID = 128
    X2APIC_API = 129
    S390_USER_INSTR0 = 130
    MSI_DEVID = 131
    PPC_HTM = 132
    SPAPR_RESIZE_HPT = 133
    PPC_MMU_RADIX = 134
    PPC_MMU_HASH_V3 = 135
    IMMEDIATE_EXIT = 136
    MIPS_VZ = 137
    MIPS_TE = 138
    MIPS_64BIT = 139
    S390_GS = 140
    S390_AIS = 141
    SPAPR_TCE_VFIO = 142
    X86_DISABLE_EXITS = 143
    ARM_USER_IRQ = 144
    S390_CMMA_MIGRATION = 145
    PPC_FWNMI = 146
    PPC_SMT_POSSIBLE = 147
    HYPERV_SYNIC2 = 148
    HYPERV_VP_INDEX = 149
    S390_AIS_MIGRATION = 150
    PPC_GET_CPU_CHAR = 151
    S390_BPB = 152
    GET_MSR_FEATURES = 153
    HYPERV_EVENTFD = 154
    HYPERV_TLBFLUSH = 155
    S390_HPAGE_1M = 156
    NESTED_STATE = 157
    ARM_INJECT_SERROR_ESR = 158
    MSR_PLATFORM_INFO = 159
    PPC_NESTED_HV = 160
    HYPERV_SEND_IPI = 161
    COALESCED_PIO = 162
    HYPERV_ENLIGHTENED_VMCS = 163
    EXCEPTION_PAYLOAD = 164
    ARM_VM_IPA_SIZE = 165
    MANUAL_DIRTY_LOG_PROTECT = 166
    HYPERV_CPUID = 167
    MANUAL_DIRTY_LOG_PROTECT2 = 168
    PPC_IRQ_XIVE = 169
    ARM_SVE = 170
    ARM_PTRAUTH_ADDRESS = 171
    ARM_PTRAUTH_GENERIC = 172
    PMU_EVENT_FILTER = 173
    ARM_IRQ_LINE_LAYOUT_2 = 174
    HYPERV_DIRECT_TLBFLUSH = 175
    PPC_GUEST_DEBUG_SSTEP = 176
    ARM_NISV_TO_USER = 177
    ARM_INJECT_EXT_DABT = 178
    S390_VCPU_RESETS = 179
    S390_PROTECTED = 180
    PPC_SECURE_GUEST = 181
    HALT_POLL = 182
    ASYNC_PF_INT = 183
    LAST_CPU = 184
    SMALLER_MAXPHYADDR = 185
    S390_DIAG318 = 186
    STEAL_TIME = 187
    X86_USER_SPACE_MSR = 188
    X86_MSR_FILTER = 189
    ENFORCE_PV_FEATURE_CPUID = 190
    SYS_HYPERV_CPUID = 191
    DIRTY_LOG_RING = 192
    X86_BUS_LOCK_EXIT = 193
    PPC_DAWR1 = 194
    SET_GUEST_DEBUG2 = 195
    SGX_ATTRIBUTE = 196
    VM_COPY_ENC_CONTEXT_FROM = 197
    PTP_KVM = 198
    HYPERV_ENFORCE_CPUID = 199
    SREGS2 = 200
    EXIT_HYPERCALL = 201
    PPC_RPT_INVALIDATE = 202
    BINARY_STATS_FD = 203
    EXIT_ON_EMULATION_FAILURE = 204
    ARM_MTE = 205
    VM_MOVE_ENC_CONTEXT_FROM = 206
    VM_GPA_BITS = 207
    XSAVE2 = 208
    SYS_ATTRIBUTES = 209
    PPC_AIL_MODE_3 = 210
    S390_MEM_OP_EXTENSION = 211
    PMU_CAPABILITY = 212
    DISABLE_QUIRKS2 = 213
    VM_TSC_CONTROL = 214
    SYSTEM_EVENT_DATA = 215
    ARM_SYSTEM_SUSPEND = 216
    S390_PROTECTED_DUMP = 217
    X86_TRIPLE_FAULT_EVENT = 218
    X86_NOTIFY_VMEXIT = 219
    VM_DISABLE_NX_HUGE_PAGES = 220
    S390_ZPCI_OP = 221
    S390_CPU_TOPOLOGY = 222
    DIRTY_LOG_RING_ACQ_REL = 223


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
}
