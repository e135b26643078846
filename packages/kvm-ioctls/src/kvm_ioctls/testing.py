"""Tiny guests for tests: a VM with 64 KiB of RAM and one vCPU in a chosen CPU mode.

Tests of this package and of packages built on it (vm-memory, vm-devices)
run real guests made of a few hand-assembled bytes. `TinyGuest` sets up the
memory, a GDT, identity-mapped page tables for long mode (the first 4 GiB,
so the LAPIC page is reachable) and the vCPU registers; the test supplies the
code, which runs at `CODE`.

Guest-physical layout::

    0x0000  IDT (128 vectors)      0x4000  4 page directories (2 MiB pages)
    0x0800  GDT                    0x8000  DATA page
    0x1000  CODE                   0x9000  stack, growing down from 0x10000
    0x2000  PML4                   0x10000 end of RAM: MMIO beyond
    0x3000  PDPT
"""

from __future__ import annotations

import ctypes
import enum
import mmap
import struct

from kvm_bindings import kvm_segment

from kvm_ioctls.system import Kvm
from kvm_ioctls.vcpu import VcpuFd
from kvm_ioctls.vm import VmFd

MEMORY_SIZE = 0x10000
IDT = 0x0000
IDT_VECTORS = 128
GDT = 0x0800
CODE = 0x1000
PML4 = 0x2000
DATA = 0x8000
STACK_TOP = 0x10000

CODE64_SELECTOR = 0x08
DATA_SELECTOR = 0x10
CODE32_SELECTOR = 0x18
_GDT_ENTRIES = (0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF, 0x00CF9A000000FFFF)

_CR0_PE, _CR0_MP, _CR0_ET, _CR0_NE, _CR0_WP, _CR0_AM, _CR0_PG = (
    1,
    1 << 1,
    1 << 4,
    1 << 5,
    1 << 16,
    1 << 18,
    1 << 31,
)
_CR4_PAE = 1 << 5
_EFER_LME, _EFER_LMA = 1 << 8, 1 << 10


class CpuMode(enum.Enum):
    REAL = "real"
    PROTECTED = "protected"
    LONG = "long"


class TinyGuest:
    """A VM with `MEMORY_SIZE` bytes of RAM at 0 and vCPU 0 about to run `code` at `CODE`."""

    def __init__(
        self,
        kvm: Kvm,
        code: bytes,
        mode: CpuMode,
        *,
        irqchip: bool = False,
        memory_flags: int = 0,
    ) -> None:
        if len(code) > PML4 - CODE:
            raise ValueError(f"guest code of {len(code)} bytes does not fit in one page")
        self.mode = mode
        self.vm: VmFd = kvm.create_vm()
        if irqchip:
            self.vm.create_irq_chip()
        self.memory = mmap.mmap(-1, MEMORY_SIZE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.memory[CODE : CODE + len(code)] = code
        self._write_tables()
        self.vm.set_user_memory_region(
            0, 0, MEMORY_SIZE, host_address(self.memory), flags=memory_flags
        )
        self.vcpu: VcpuFd = self.vm.create_vcpu(0)
        self.enter_mode(self.vcpu, mode)

    def _write_tables(self) -> None:
        for i, descriptor in enumerate(_GDT_ENTRIES):
            struct.pack_into("<Q", self.memory, GDT + 8 * i, descriptor)
        struct.pack_into("<Q", self.memory, PML4, (PML4 + 0x1000) | 0x3)
        for gib in range(4):
            directory = PML4 + 0x2000 + gib * 0x1000
            struct.pack_into("<Q", self.memory, PML4 + 0x1000 + 8 * gib, directory | 0x3)
            for i in range(512):
                page = (gib << 30) | (i << 21)
                struct.pack_into("<Q", self.memory, directory + 8 * i, page | 0x83)

    def set_interrupt_gate(self, vector: int, handler: int) -> None:
        """A 64-bit interrupt gate for `vector` jumping to guest address `handler`."""
        if not 0 <= vector < IDT_VECTORS:
            raise ValueError(f"vector {vector} is outside the {IDT_VECTORS}-entry IDT")
        low = (handler & 0xFFFF) | (CODE64_SELECTOR << 16) | (0x8E << 40)
        low |= ((handler >> 16) & 0xFFFF) << 48
        struct.pack_into("<QQ", self.memory, IDT + 16 * vector, low, handler >> 32)

    def enter_mode(self, vcpu: VcpuFd, mode: CpuMode) -> None:
        """Registers for `mode`, flat segments, rip at `CODE`, rsp at `STACK_TOP`."""
        sregs = vcpu.get_sregs()
        if mode is CpuMode.REAL:
            for segment in (sregs.cs, sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss):
                segment.base, segment.selector = 0, 0
        else:
            code_selector = CODE32_SELECTOR if mode is CpuMode.PROTECTED else CODE64_SELECTOR
            sregs.cs = _flat_segment(code_selector, code=True, long=mode is CpuMode.LONG)
            data = _flat_segment(DATA_SELECTOR, code=False, long=False)
            sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data
            sregs.gdt.base, sregs.gdt.limit = GDT, 8 * len(_GDT_ENTRIES) - 1
            sregs.idt.base, sregs.idt.limit = IDT, 16 * IDT_VECTORS - 1
            sregs.cr0 = _CR0_PE | _CR0_ET
        if mode is CpuMode.LONG:
            sregs.cr3 = PML4
            sregs.cr4 = _CR4_PAE
            sregs.cr0 = _CR0_PE | _CR0_MP | _CR0_ET | _CR0_NE | _CR0_WP | _CR0_AM | _CR0_PG
            sregs.efer = _EFER_LME | _EFER_LMA
        vcpu.set_sregs(sregs)
        regs = vcpu.get_regs()
        regs.rip, regs.rsp, regs.rflags = CODE, STACK_TOP, 0x2
        vcpu.set_regs(regs)

    def close(self) -> None:
        self.vcpu.close()
        self.vm.close()


def host_address(buffer: mmap.mmap) -> int:
    """The host virtual address of a writable mmap, as KVM memory slots need it."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


def _flat_segment(selector: int, *, code: bool, long: bool) -> kvm_segment:
    return kvm_segment(
        base=0,
        limit=0xFFFFFFFF,
        selector=selector,
        type=0xB if code else 0x3,
        present=1,
        dpl=0,
        db=0 if long else 1,
        s=1,
        l=1 if long else 0,
        g=1,
    )
