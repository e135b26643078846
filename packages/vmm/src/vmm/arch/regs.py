"""vCPU state at the first instruction: the PVH entry, the 64-bit Linux entry, MSRs, FPU, LINTs.

PVH (Xen's x86 PVH boot ABI, used by Linux's `pvh_start_xen`): 32-bit
protected mode, paging off, flat segments, a busy 32-bit TSS, EBX = the
guest-physical address of `hvm_start_info`. The kernel builds its own GDT
and page tables.

64-bit Linux boot protocol (bzImage): long mode with identity-mapped page
tables covering the kernel, zero page, command line and initramfs (here the
first 4 GiB with 2 MiB pages), a GDT with flat 64-bit code and data
segments, interrupts off, RSI = the zero page.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from kvm_bindings import kvm_fpu, kvm_regs, kvm_segment, kvm_sregs
from vm_memory import GuestMemoryMmap

from vmm.arch.layout import (
    BOOT_GDT,
    BOOT_IDT,
    BOOT_STACK_POINTER,
    PAGE_DIRECTORIES,
    PDPT,
    PML4,
)

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVcpu

X86_CR0_PE = 1 << 0
X86_CR0_ET = 1 << 4
X86_CR0_PG = 1 << 31
X86_CR4_PAE = 1 << 5
EFER_LME = 1 << 8
EFER_LMA = 1 << 10

MSR_IA32_SYSENTER_CS = 0x174
MSR_IA32_SYSENTER_ESP = 0x175
MSR_IA32_SYSENTER_EIP = 0x176
MSR_STAR = 0xC0000081
MSR_LSTAR = 0xC0000082
MSR_CSTAR = 0xC0000083
MSR_SYSCALL_MASK = 0xC0000084
MSR_KERNEL_GS_BASE = 0xC0000102
MSR_IA32_MISC_ENABLE = 0x1A0
MSR_MTRR_DEF_TYPE = 0x2FF
MISC_ENABLE_FAST_STRING = 1
MTRR_ENABLE = 1 << 11
MTRR_TYPE_WRBACK = 6

# GDT used by the 64-bit entry: null, code (0x08), data (0x10), TSS (0x18).
_GDT_64 = (0, 0x00AF9B000000FFFF, 0x00CF93000000FFFF, 0x008F8B000000FFFF)
_PAGE_PRESENT_RW = 0x3
_PAGE_2M = 0x80

BOOT_MSRS = {
    MSR_IA32_SYSENTER_CS: 0,
    MSR_IA32_SYSENTER_ESP: 0,
    MSR_IA32_SYSENTER_EIP: 0,
    MSR_STAR: 0,
    MSR_CSTAR: 0,
    MSR_KERNEL_GS_BASE: 0,
    MSR_SYSCALL_MASK: 0,
    MSR_LSTAR: 0,
    MSR_IA32_MISC_ENABLE: MISC_ENABLE_FAST_STRING,
    MSR_MTRR_DEF_TYPE: MTRR_ENABLE | MTRR_TYPE_WRBACK,
}


def _segment(selector: int, type_: int, *, long: bool = False, db: bool = True) -> kvm_segment:
    return kvm_segment(
        base=0,
        limit=0xFFFFFFFF,
        selector=selector,
        type=type_,
        present=1,
        dpl=0,
        db=1 if db and not long else 0,
        s=1,
        l=1 if long else 0,
        g=1,
    )


def setup_pvh_entry(vcpu: HypervisorVcpu, entry: int, start_info: int) -> None:
    """Registers for `pvh_start_xen`: 32-bit flat protected mode, EBX = start_info."""
    sregs: kvm_sregs = vcpu.get_sregs()
    code = _segment(0x10, 0xB)
    data = _segment(0x18, 0x3)
    sregs.cs = code
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data
    sregs.tr = kvm_segment(base=0, limit=0x67, selector=0x20, type=0xB, present=1, s=0)
    sregs.cr0 = X86_CR0_PE | X86_CR0_ET
    sregs.cr4 = 0
    sregs.efer = 0
    vcpu.set_sregs(sregs)
    vcpu.set_regs(kvm_regs(rip=entry, rbx=start_info, rflags=0x2))


def write_boot_page_tables(memory: GuestMemoryMmap) -> None:
    """Identity-map the first 4 GiB with 2 MiB pages (PML4 -> PDPT -> 4 page directories)."""
    memory.write_u64(PML4, PDPT | _PAGE_PRESENT_RW)
    table = bytearray(4 * 512 * 8)
    for i in range(4 * 512):
        struct.pack_into("<Q", table, 8 * i, (i << 21) | _PAGE_PRESENT_RW | _PAGE_2M)
    memory.write(PAGE_DIRECTORIES, table)
    pdpt = b"".join(
        struct.pack("<Q", (PAGE_DIRECTORIES + 0x1000 * gib) | _PAGE_PRESENT_RW) for gib in range(4)
    )
    memory.write(PDPT, pdpt)


def setup_linux64_entry(
    vcpu: HypervisorVcpu, memory: GuestMemoryMmap, entry: int, zero_page: int
) -> None:
    """Registers for the 64-bit Linux boot protocol entry (bzImage `startup_64`)."""
    memory.write(BOOT_GDT, struct.pack(f"<{len(_GDT_64)}Q", *_GDT_64))
    memory.write_u64(BOOT_IDT, 0)
    write_boot_page_tables(memory)
    sregs: kvm_sregs = vcpu.get_sregs()
    sregs.gdt.base, sregs.gdt.limit = BOOT_GDT, 8 * len(_GDT_64) - 1
    sregs.idt.base, sregs.idt.limit = BOOT_IDT, 7
    sregs.cs = _segment(0x08, 0xB, long=True)
    data = _segment(0x10, 0x3)
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data
    sregs.tr = kvm_segment(base=0, limit=0xFFFFF, selector=0x18, type=0xB, present=1, s=0)
    sregs.cr3 = PML4
    sregs.cr4 = X86_CR4_PAE
    sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG
    sregs.efer = EFER_LME | EFER_LMA
    vcpu.set_sregs(sregs)
    vcpu.set_regs(
        kvm_regs(
            rip=entry,
            rsi=zero_page,
            rsp=BOOT_STACK_POINTER,
            rbp=BOOT_STACK_POINTER,
            rflags=0x2,
        )
    )


def setup_fpu(vcpu: HypervisorVcpu) -> None:
    """The x87 and SSE control words a CPU has after reset (FNINIT state)."""
    vcpu.set_fpu(kvm_fpu(fcw=0x37F, mxcsr=0x1F80))


def setup_boot_msrs(vcpu: HypervisorVcpu) -> None:
    """Zero the syscall MSRs, enable fast strings and write-back MTRR default type."""
    written = vcpu.set_msrs(BOOT_MSRS)
    if written != len(BOOT_MSRS):
        failed = list(BOOT_MSRS)[written]
        raise RuntimeError(f"KVM refused to set MSR {failed:#x} for vCPU {vcpu.id}")


_APIC_LVT0 = 0x350
_APIC_LVT1 = 0x360
_APIC_MODE_EXTINT = 0x7
_APIC_MODE_NMI = 0x4


def setup_lint(vcpu: HypervisorVcpu) -> None:
    """LINT0 delivers ExtINT (the PIC) and LINT1 NMIs, as firmware leaves them."""
    lapic = vcpu.get_lapic()
    for offset, mode in ((_APIC_LVT0, _APIC_MODE_EXTINT), (_APIC_LVT1, _APIC_MODE_NMI)):
        value = struct.unpack_from("<I", lapic.regs, offset)[0]
        struct.pack_into("<I", lapic.regs, offset, (value & ~0x700) | (mode << 8))
    vcpu.set_lapic(lapic)
