"""`struct kvm_run`: the page KVM shares with user space for each vCPU.

The exit union is anonymous in C, so it is anonymous here too: `run.io.port`
reads exactly as in C. The byte offsets that the hot path reads without ctypes
(see kvm-ioctls) are exported as constants and verified against the C header.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_uint8, c_uint16, c_uint32, c_uint64

from kvm_bindings.x86 import kvm_debug_exit_arch, kvm_sync_regs

SYNC_REGS_SIZE_BYTES = 2048


class kvm_run_hw(ctypes.Structure):
    _fields_ = [("hardware_exit_reason", c_uint64)]


class kvm_run_fail_entry(ctypes.Structure):
    _fields_ = [("hardware_entry_failure_reason", c_uint64), ("cpu", c_uint32)]


class kvm_run_ex(ctypes.Structure):
    _fields_ = [("exception", c_uint32), ("error_code", c_uint32)]


class kvm_run_io(ctypes.Structure):
    _fields_ = [
        ("direction", c_uint8),
        ("size", c_uint8),
        ("port", c_uint16),
        ("count", c_uint32),
        ("data_offset", c_uint64),
    ]


class kvm_run_debug(ctypes.Structure):
    _fields_ = [("arch", kvm_debug_exit_arch)]


class kvm_run_mmio(ctypes.Structure):
    _fields_ = [
        ("phys_addr", c_uint64),
        ("data", c_uint8 * 8),
        ("len", c_uint32),
        ("is_write", c_uint8),
    ]


class kvm_run_hypercall(ctypes.Structure):
    _fields_ = [
        ("nr", c_uint64),
        ("args", c_uint64 * 6),
        ("ret", c_uint64),
        ("longmode", c_uint32),
        ("pad", c_uint32),
    ]


class kvm_run_internal(ctypes.Structure):
    _fields_ = [("suberror", c_uint32), ("ndata", c_uint32), ("data", c_uint64 * 16)]


class _kvm_run_system_event_u(ctypes.Union):
    _fields_ = [("flags", c_uint64), ("data", c_uint64 * 16)]


class kvm_run_system_event(ctypes.Structure):
    _anonymous_ = ("_u",)
    _fields_ = [("type", c_uint32), ("ndata", c_uint32), ("_u", _kvm_run_system_event_u)]


class kvm_run_eoi(ctypes.Structure):
    _fields_ = [("vector", c_uint8)]


class kvm_run_msr(ctypes.Structure):
    _fields_ = [
        ("error", c_uint8),
        ("pad", c_uint8 * 7),
        ("reason", c_uint32),
        ("index", c_uint32),
        ("data", c_uint64),
    ]


class kvm_run_notify(ctypes.Structure):
    _fields_ = [("flags", c_uint32)]


class kvm_run_exit(ctypes.Union):
    _fields_ = [
        ("hw", kvm_run_hw),
        ("fail_entry", kvm_run_fail_entry),
        ("ex", kvm_run_ex),
        ("io", kvm_run_io),
        ("debug", kvm_run_debug),
        ("mmio", kvm_run_mmio),
        ("hypercall", kvm_run_hypercall),
        ("internal", kvm_run_internal),
        ("system_event", kvm_run_system_event),
        ("eoi", kvm_run_eoi),
        ("msr", kvm_run_msr),
        ("notify", kvm_run_notify),
        ("padding", c_char * 256),
    ]


class kvm_run_s(ctypes.Union):
    _fields_ = [("regs", kvm_sync_regs), ("padding", c_char * SYNC_REGS_SIZE_BYTES)]


class kvm_run(ctypes.Structure):
    _anonymous_ = ("exit",)
    _fields_ = [
        ("request_interrupt_window", c_uint8),
        ("immediate_exit", c_uint8),
        ("padding1", c_uint8 * 6),
        ("exit_reason", c_uint32),
        ("ready_for_interrupt_injection", c_uint8),
        ("if_flag", c_uint8),
        ("flags", c_uint16),
        ("cr8", c_uint64),
        ("apic_base", c_uint64),
        ("exit", kvm_run_exit),
        ("kvm_valid_regs", c_uint64),
        ("kvm_dirty_regs", c_uint64),
        ("s", kvm_run_s),
    ]


# Byte offsets into the mmap'd kvm_run, for code that reads it with `struct`.
KVM_RUN_IMMEDIATE_EXIT_OFFSET: int = kvm_run.immediate_exit.offset
KVM_RUN_EXIT_REASON_OFFSET: int = kvm_run.exit_reason.offset
KVM_RUN_EXIT_OFFSET: int = kvm_run.exit.offset
