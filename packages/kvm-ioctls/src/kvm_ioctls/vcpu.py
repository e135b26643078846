"""`VcpuFd`: one virtual CPU, its registers, and `run()` returning typed exits."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import mmap
import signal
import struct
import threading
from collections.abc import Iterable, Mapping

import kvm_bindings as kb
from kvm_bindings import ExitReason

from kvm_ioctls._fd import KvmFd
from kvm_ioctls.cpuid import CpuId, empty_cpuid2
from kvm_ioctls.errors import KvmError, invalid_argument
from kvm_ioctls.exits import (
    Debug,
    FailEntry,
    GuestException,
    Hlt,
    Hypercall,
    InternalError,
    Intr,
    IoapicEoi,
    IoIn,
    IoOut,
    IrqWindowOpen,
    MmioRead,
    MmioWrite,
    Shutdown,
    SystemEvent,
    Unsupported,
    VcpuExit,
)
from kvm_ioctls.kick import KICK_SIGNAL

_EXIT = kb.KVM_RUN_EXIT_OFFSET
_REASON = struct.Struct("<I")
_IO = struct.Struct("<BBHIQ")  # direction, size, port, count, data_offset
_MMIO = struct.Struct("<Q8xIB")  # phys_addr, (data), len, is_write
_MMIO_DATA = _EXIT + 8
_U32_PAIR = struct.Struct("<II")
_FAIL_ENTRY = struct.Struct("<QI")
_HYPERCALL = struct.Struct("<Q6QQI")
_DEBUG = struct.Struct("<I4xQQQ")
_SYSTEM_EVENT = struct.Struct("<II")

_INTR = Intr()
_HLT = Hlt()
_SHUTDOWN = Shutdown()
_IRQ_WINDOW = IrqWindowOpen()

_KVM_RUN = kb.KVM_RUN
_ioctl = fcntl.ioctl


class VcpuFd(KvmFd):
    """A vCPU file descriptor with its mmap'd `kvm_run` page.

    `run()` enters the guest, releasing the GIL while the guest runs, and
    returns a typed exit whose data are views into the `kvm_run` page.
    """

    __slots__ = ("_run_map", "_run_view", "_thread_id", "id")

    def __init__(self, fd: int, vcpu_id: int, mmap_size: int) -> None:
        super().__init__(fd)
        self.id = vcpu_id
        try:
            self._run_map = mmap.mmap(
                fd, mmap_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
            )
        except OSError as error:
            raise KvmError("mmap(kvm_run)", error.errno or errno.EIO) from None
        self._run_view = memoryview(self._run_map)
        self._thread_id: int | None = None

    def close(self) -> None:
        if self.closed:
            return
        self._run_view.release()
        # Exits still held by the caller keep views into the page; the mapping
        # then goes away with the last of them.
        with contextlib.suppress(BufferError):
            self._run_map.close()
        super().close()

    # ---------------------------------------------------------------- running
    def run(self) -> VcpuExit:
        """Run the guest until it exits to user space; see `kvm_ioctls.exits`."""
        self._thread_id = threading.get_ident()
        try:
            _ioctl(self._fd, _KVM_RUN, 0)
        except InterruptedError:
            return _INTR
        except BlockingIOError:
            # EAGAIN: an application processor left its wait-for-SIPI state
            # (INIT/SIPI arrived); KVM wants KVM_RUN again, as after a kick.
            return _INTR
        except OSError as error:
            raise KvmError("KVM_RUN", error.errno or errno.EIO) from None
        except ValueError:  # fcntl refuses the closed fd (-1)
            raise KvmError("KVM_RUN", errno.EBADF, "the file descriptor is closed") from None
        view = self._run_view
        reason = _REASON.unpack_from(view, 8)[0]
        if reason == 2:  # KVM_EXIT_IO
            direction, size, port, count, offset = _IO.unpack_from(view, _EXIT)
            data = view[offset : offset + size * count]
            if direction:
                return IoOut(port, data, count)
            return IoIn(port, data, count)
        if reason == 6:  # KVM_EXIT_MMIO
            address, length, is_write = _MMIO.unpack_from(view, _EXIT)
            data = view[_MMIO_DATA : _MMIO_DATA + min(length, 8)]
            if is_write:
                return MmioWrite(address, data)
            return MmioRead(address, data)
        return self._rare_exit(reason)

    def _rare_exit(self, reason: int) -> VcpuExit:
        view = self._run_view
        match reason:
            case ExitReason.HLT:
                return _HLT
            case ExitReason.SHUTDOWN:
                return _SHUTDOWN
            case ExitReason.INTR:
                return _INTR
            case ExitReason.IRQ_WINDOW_OPEN:
                return _IRQ_WINDOW
            case ExitReason.SYSTEM_EVENT:
                type_, ndata = _SYSTEM_EVENT.unpack_from(view, _EXIT)
                words = struct.unpack_from(f"<{min(ndata, 16)}Q", view, _EXIT + 8)
                return SystemEvent(type_, words)
            case ExitReason.FAIL_ENTRY:
                return FailEntry(*_FAIL_ENTRY.unpack_from(view, _EXIT))
            case ExitReason.INTERNAL_ERROR:
                suberror, ndata = _U32_PAIR.unpack_from(view, _EXIT)
                words = struct.unpack_from(f"<{min(ndata, 16)}Q", view, _EXIT + 8)
                return InternalError(suberror, words)
            case ExitReason.HYPERCALL:
                nr, *rest = _HYPERCALL.unpack_from(view, _EXIT)
                args, longmode = tuple(rest[:6]), bool(rest[7])
                ret_at = _EXIT + 8 + 6 * 8
                return Hypercall(nr, args, longmode, view[ret_at : ret_at + 8])
            case ExitReason.EXCEPTION:
                return GuestException(*_U32_PAIR.unpack_from(view, _EXIT))
            case ExitReason.DEBUG:
                exception, pc, dr6, dr7 = _DEBUG.unpack_from(view, _EXIT)
                return Debug(exception, pc, dr6, dr7)
            case ExitReason.IOAPIC_EOI:
                return IoapicEoi(view[_EXIT])
        return Unsupported(reason)

    def set_immediate_exit(self, value: bool) -> None:
        """With it set, KVM_RUN returns `Intr` at once; clear it after handling a kick."""
        self._run_view[kb.KVM_RUN_IMMEDIATE_EXIT_OFFSET] = 1 if value else 0

    def kick(self) -> None:
        """Make this vCPU's current or next `run()` return `Intr`; call from another thread.

        Sets `immediate_exit` (so a kick just before KVM_RUN is not lost), then
        signals the thread that last ran the vCPU. `install_kick_handler()` must
        have been called in the main thread.
        """
        self.set_immediate_exit(True)
        thread_id = self._thread_id
        if thread_id is not None:
            # ProcessLookupError: that thread has ended, so nothing runs the vCPU.
            with contextlib.suppress(ProcessLookupError):
                signal.pthread_kill(thread_id, KICK_SIGNAL)

    @property
    def kvm_run(self) -> kb.kvm_run:
        """The whole `kvm_run` page as the ctypes struct, for fields the exits don't carry."""
        return kb.kvm_run.from_buffer(self._run_map)

    # ---------------------------------------------------------------- registers
    def get_regs(self) -> kb.kvm_regs:
        regs = kb.kvm_regs()
        self._ioctl("KVM_GET_REGS", kb.KVM_GET_REGS, regs)
        return regs

    def set_regs(self, regs: kb.kvm_regs) -> None:
        self._ioctl("KVM_SET_REGS", kb.KVM_SET_REGS, _checked(regs, kb.kvm_regs, "KVM_SET_REGS"))

    def get_sregs(self) -> kb.kvm_sregs:
        sregs = kb.kvm_sregs()
        self._ioctl("KVM_GET_SREGS", kb.KVM_GET_SREGS, sregs)
        return sregs

    def set_sregs(self, sregs: kb.kvm_sregs) -> None:
        arg = _checked(sregs, kb.kvm_sregs, "KVM_SET_SREGS")
        self._ioctl("KVM_SET_SREGS", kb.KVM_SET_SREGS, arg)

    def get_fpu(self) -> kb.kvm_fpu:
        fpu = kb.kvm_fpu()
        self._ioctl("KVM_GET_FPU", kb.KVM_GET_FPU, fpu)
        return fpu

    def set_fpu(self, fpu: kb.kvm_fpu) -> None:
        self._ioctl("KVM_SET_FPU", kb.KVM_SET_FPU, _checked(fpu, kb.kvm_fpu, "KVM_SET_FPU"))

    def get_lapic(self) -> kb.kvm_lapic_state:
        lapic = kb.kvm_lapic_state()
        self._ioctl("KVM_GET_LAPIC", kb.KVM_GET_LAPIC, lapic)
        return lapic

    def set_lapic(self, lapic: kb.kvm_lapic_state) -> None:
        arg = _checked(lapic, kb.kvm_lapic_state, "KVM_SET_LAPIC")
        self._ioctl("KVM_SET_LAPIC", kb.KVM_SET_LAPIC, arg)

    def get_mp_state(self) -> int:
        state = kb.kvm_mp_state()
        self._ioctl("KVM_GET_MP_STATE", kb.KVM_GET_MP_STATE, state)
        return int(state.mp_state)

    def set_mp_state(self, mp_state: int) -> None:
        if mp_state not in kb.MpState.__members__.values():
            raise invalid_argument("KVM_SET_MP_STATE", f"unknown mp_state {mp_state}")
        state = kb.kvm_mp_state(mp_state=mp_state)
        self._ioctl("KVM_SET_MP_STATE", kb.KVM_SET_MP_STATE, state)

    def get_vcpu_events(self) -> kb.kvm_vcpu_events:
        events = kb.kvm_vcpu_events()
        self._ioctl("KVM_GET_VCPU_EVENTS", kb.KVM_GET_VCPU_EVENTS, events)
        return events

    def set_vcpu_events(self, events: kb.kvm_vcpu_events) -> None:
        arg = _checked(events, kb.kvm_vcpu_events, "KVM_SET_VCPU_EVENTS")
        self._ioctl("KVM_SET_VCPU_EVENTS", kb.KVM_SET_VCPU_EVENTS, arg)

    def get_xsave(self) -> kb.kvm_xsave:
        xsave = kb.kvm_xsave()
        self._ioctl("KVM_GET_XSAVE", kb.KVM_GET_XSAVE, xsave)
        return xsave

    def set_xsave(self, xsave: kb.kvm_xsave) -> None:
        arg = _checked(xsave, kb.kvm_xsave, "KVM_SET_XSAVE")
        self._ioctl("KVM_SET_XSAVE", kb.KVM_SET_XSAVE, arg)

    def get_xcrs(self) -> kb.kvm_xcrs:
        xcrs = kb.kvm_xcrs()
        self._ioctl("KVM_GET_XCRS", kb.KVM_GET_XCRS, xcrs)
        return xcrs

    def set_xcrs(self, xcrs: kb.kvm_xcrs) -> None:
        self._ioctl("KVM_SET_XCRS", kb.KVM_SET_XCRS, _checked(xcrs, kb.kvm_xcrs, "KVM_SET_XCRS"))

    def get_debugregs(self) -> kb.kvm_debugregs:
        regs = kb.kvm_debugregs()
        self._ioctl("KVM_GET_DEBUGREGS", kb.KVM_GET_DEBUGREGS, regs)
        return regs

    def set_debugregs(self, regs: kb.kvm_debugregs) -> None:
        arg = _checked(regs, kb.kvm_debugregs, "KVM_SET_DEBUGREGS")
        self._ioctl("KVM_SET_DEBUGREGS", kb.KVM_SET_DEBUGREGS, arg)

    # ---------------------------------------------------------------- CPUID and MSRs
    def set_cpuid2(self, cpuid: CpuId) -> None:
        self._ioctl("KVM_SET_CPUID2", kb.KVM_SET_CPUID2, cpuid.to_struct("KVM_SET_CPUID2"))

    def get_cpuid2(self, capacity: int = 256) -> CpuId:
        table = empty_cpuid2(capacity)
        self._ioctl("KVM_GET_CPUID2", kb.KVM_GET_CPUID2, table)
        return CpuId.from_struct(table)

    def get_msrs(self, indices: Iterable[int]) -> dict[int, int]:
        """Read MSRs; KVM stops at the first it can't read, so the result may be shorter."""
        wanted = [_u32(index, "KVM_GET_MSRS", "MSR index") for index in indices]
        msrs = kb.with_entries(kb.kvm_msrs, len(wanted))(nmsrs=len(wanted))
        for slot, index in enumerate(wanted):
            msrs.entries[slot].index = index
        count = self._ioctl("KVM_GET_MSRS", kb.KVM_GET_MSRS, msrs)
        return {int(msrs.entries[i].index): int(msrs.entries[i].data) for i in range(count)}

    def set_msrs(self, values: Mapping[int, int]) -> int:
        """Write MSRs in order; returns how many KVM accepted (it stops at the first refusal)."""
        msrs = kb.with_entries(kb.kvm_msrs, len(values))(nmsrs=len(values))
        for slot, (index, value) in enumerate(values.items()):
            msrs.entries[slot].index = _u32(index, "KVM_SET_MSRS", "MSR index")
            if not 0 <= value < 1 << 64:
                raise invalid_argument("KVM_SET_MSRS", f"MSR {index:#x} value {value} is not a u64")
            msrs.entries[slot].data = value
        return self._ioctl("KVM_SET_MSRS", kb.KVM_SET_MSRS, msrs)

    # ---------------------------------------------------------------- misc
    def get_tsc_khz(self) -> int:
        return self._ioctl("KVM_GET_TSC_KHZ", kb.KVM_GET_TSC_KHZ, 0)

    def set_tsc_khz(self, khz: int) -> None:
        self._ioctl_ulong(
            "KVM_SET_TSC_KHZ", kb.KVM_SET_TSC_KHZ, _u32(khz, "KVM_SET_TSC_KHZ", "kHz")
        )

    def kvmclock_ctrl(self) -> None:
        """Tell the guest's kvm-clock it was paused, so its watchdogs don't fire."""
        self._ioctl("KVM_KVMCLOCK_CTRL", kb.KVM_KVMCLOCK_CTRL, 0)

    def nmi(self) -> None:
        self._ioctl("KVM_NMI", kb.KVM_NMI, 0)

    def set_signal_mask(self, signals: Iterable[int]) -> None:
        """Signals blocked while the guest runs (the kernel's 64-bit sigset)."""
        mask = 0
        for number in signals:
            if not 1 <= number <= 64:
                raise invalid_argument("KVM_SET_SIGNAL_MASK", f"no signal number {number}")
            mask |= 1 << (number - 1)
        arg = kb.with_entries(kb.kvm_signal_mask, 8)(len=8)
        arg.sigset[:] = mask.to_bytes(8, "little")
        self._ioctl("KVM_SET_SIGNAL_MASK", kb.KVM_SET_SIGNAL_MASK, arg)


def _checked(value: object, expected: type[ctypes.Structure], ioctl: str) -> ctypes.Structure:
    if not isinstance(value, expected):
        raise invalid_argument(ioctl, f"expected {expected.__name__}, got {type(value).__name__}")
    return value


def _u32(value: int, ioctl: str, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value < 1 << 32:
        raise invalid_argument(ioctl, f"{what} {value!r} is not a u32")
    return value
