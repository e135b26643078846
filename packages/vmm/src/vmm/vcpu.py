"""One vCPU thread: run the guest, dispatch its I/O exits to the buses, report why it stopped.

Everything a vCPU exit needs is bound to locals before the loop: a port write
costs one KVM_RUN, one typed exit and one bus dispatch. Device work that can
wait (virtio queues) never runs here; it is signalled through ioeventfds and
served by device threads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Protocol

from kvm_bindings import InternalErrorSuberror, SystemEventType
from kvm_ioctls import (
    FailEntry,
    Hlt,
    InternalError,
    Intr,
    IoIn,
    IoOut,
    KvmError,
    MmioRead,
    MmioWrite,
    Shutdown,
    SystemEvent,
)

from vmm.lifecycle import StopReason, StopSignal

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVcpu, VcpuStats

log = logging.getLogger(__name__)


class IoBus(Protocol):
    """What a vCPU needs of a bus: dispatch an access, say whether a device took it."""

    def read(self, address: int, data: memoryview) -> bool: ...
    def write(self, address: int, data: memoryview) -> bool: ...


# How often a kick is repeated until the vCPU thread acknowledges it (parks or ends), as
# Cloud Hypervisor does every 10 ms: a kick is never assumed to have landed.
KICK_RETRY = 0.01

# Names a file to write the modules loaded when vCPU 0 first enters KVM_RUN
# (the start-up import budget test reads it).
IMPORTS_AT_FIRST_RUN = "CH_IMPORTS_AT_FIRST_RUN"


def _record_imports(path: str) -> None:
    import sys

    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(sorted(sys.modules)) + "\n")


class VcpuThread:
    """Runs one vCPU until the VM stops; exits the loop when kicked after a stop request.

    The stop and pause protocol, as in Firecracker and Cloud Hypervisor: the
    requester sets its request, then kicks (immediate_exit set, then a signal).
    The thread, back from KVM_RUN with `Intr`, clears immediate_exit first and
    only then reads the requests: a request it misses came after the clear, and
    its kick sets immediate_exit again, so the next KVM_RUN returns at once. The
    requester still kicks again until the thread acknowledges (parks or ends).
    """

    def __init__(
        self,
        vcpu: HypervisorVcpu,
        pio: IoBus,
        mmio: IoBus,
        stop: StopSignal,
        *,
        host_cpus: tuple[int, ...] | None = None,
    ) -> None:
        self.vcpu = vcpu
        self.host_cpus = host_cpus  # `--cpus affinity=`: the host CPUs this vCPU may run on
        self._pio = pio
        self._mmio = mmio
        self._stop = stop
        self._report_state = False
        self._stats: VcpuStats | None = None
        self.thread = threading.Thread(target=self._run, name=f"vcpu{vcpu.id}", daemon=True)
        # Pause: the thread parks on this condition, outside KVM_RUN, until resumed or stopped.
        self._pause = threading.Condition()
        self._pause_requested = False
        self._parked = False

    def start(self) -> None:
        self.thread.start()

    def kick(self) -> None:
        if self.thread.ident is None:  # never started: nothing runs to kick
            return
        self.vcpu.kick()
        with self._pause:  # a parked thread must see a stop request too
            self._pause.notify_all()

    def request_pause(self) -> None:
        """Ask the thread to park at its next exit (kicked out of KVM_RUN now)."""
        with self._pause:
            self._pause_requested = True
        self.vcpu.kick()

    def wait_parked(self, timeout: float) -> bool:
        """Wait until the thread is parked (or has ended), kicking it again until it is;
        False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._pause:
                if self._pause.wait_for(
                    lambda: self._parked or not self.thread.is_alive() or self._stop.requested,
                    min(KICK_RETRY, max(0.0, deadline - time.monotonic())),
                ):
                    return True
            if time.monotonic() >= deadline:
                return False
            self.vcpu.kick()

    def wait_stopped(self, timeout: float) -> bool:
        """After a stop request: wait until the thread has ended, kicking it again until
        it has; False on timeout."""
        if self.thread.ident is None:  # never started
            return True
        deadline = time.monotonic() + timeout
        while True:
            self.thread.join(min(KICK_RETRY, max(0.0, deadline - time.monotonic())))
            if not self.thread.is_alive():
                return True
            if time.monotonic() >= deadline:
                return False
            self.kick()

    def resume(self) -> None:
        """Let a parked thread go back into the guest where it stopped."""
        with self._pause:
            self._pause_requested = False
            self._pause.notify_all()

    @property
    def parked(self) -> bool:
        return self._parked

    def _park(self) -> bool:
        """In the vCPU thread: wait while paused; True when the VM must stop instead."""
        with self._pause:
            self._parked = True
            self._pause.notify_all()
            while self._pause_requested and not self._stop.requested:
                self._pause.wait()
            self._parked = False
        return self._stop.requested

    def report_state(self) -> None:
        """Log this vCPU's registers from its own thread at its next exit (for diagnosis)."""
        self._report_state = True
        self.vcpu.kick()

    def join(self, timeout: float | None = None) -> None:
        if self.thread.ident is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            if self.host_cpus is not None:
                os.sched_setaffinity(0, self.host_cpus)  # 0: this thread only
            self._loop()
        except KvmError as error:
            self._stop.request(StopReason.ERROR, f"vCPU {self.vcpu.id}: {error}")
        except OSError as error:  # sched_setaffinity: no such host CPU
            cpus = ",".join(map(str, self.host_cpus or ()))
            message = f"vCPU {self.vcpu.id}: cannot run on host CPUs {cpus}: {error.strerror}"
            self._stop.request(StopReason.ERROR, message)
        except Exception as error:  # a device bug must stop the VM, not hang it
            log.exception("vCPU %d: unexpected error", self.vcpu.id)
            self._stop.request(StopReason.ERROR, f"vCPU {self.vcpu.id}: {error!r}")
        finally:
            if self._stats is not None:
                self._stats.close()
            with self._pause:  # whoever waits for this thread to park must not wait forever
                self._pause.notify_all()

    def _loop(self) -> None:
        # Wall-clock time, so a benchmark can compare it with when it started the VMM.
        log.info("vCPU %d: first KVM_RUN at %.6f", self.vcpu.id, time.time())
        if self.vcpu.id == 0 and (record := os.environ.get(IMPORTS_AT_FIRST_RUN)):
            _record_imports(record)
        run = self.vcpu.run
        pio_read, pio_write = self._pio.read, self._pio.write
        mmio_read, mmio_write = self._mmio.read, self._mmio.write
        stop = self._stop
        while True:
            match run():
                case IoOut(port, data, count=1):
                    pio_write(port, data)
                case IoIn(port, data, count=1):
                    if not pio_read(port, data):
                        _unclaimed(data)
                case MmioWrite(address, data):
                    mmio_write(address, data)
                case MmioRead(address, data):
                    if not mmio_read(address, data):
                        _unclaimed(data)
                case Intr():
                    # Clear, then look (see the class docstring): looking first would
                    # lose a request made in between, its kick cleared here.
                    self.vcpu.set_immediate_exit(False)
                    if stop.requested:
                        return
                    if self._pause_requested and self._park():
                        return
                    if self._report_state:
                        self._report_state = False
                        self._log_state()
                case IoOut(port, data, count=count):
                    _string_io(pio_write, port, data, count)
                case IoIn(port, data, count=count):
                    _string_io(pio_read, port, data, count)
                case rare:
                    if self._handle_rare(rare):
                        return

    def _handle_rare(self, exit_: object) -> bool:
        """Handle an exit that stops or fails the VM; True when this vCPU must end."""
        vcpu_id = self.vcpu.id
        match exit_:
            case Shutdown():
                self._stop.request(StopReason.GUEST_RESET, f"vCPU {vcpu_id} triple fault")
            case SystemEvent(type=SystemEventType.RESET):
                self._stop.request(StopReason.GUEST_RESET, "reset requested")
            case SystemEvent(type=SystemEventType.SHUTDOWN):
                self._stop.request(StopReason.GUEST_SHUTDOWN, "shutdown requested")
            case SystemEvent(type=SystemEventType.CRASH):
                self._stop.request(StopReason.GUEST_CRASH, "the guest reported a crash")
            case SystemEvent(type=other_type):
                log.warning("vCPU %d: ignoring system event %d", vcpu_id, other_type)
                return False
            case InternalError(suberror, data):
                what = _internal_error_name(suberror)
                rip = self.vcpu.get_regs().rip
                detail = f"vCPU {vcpu_id}: KVM internal error ({what}) at rip {rip:#x}"
                self._stop.request(StopReason.ERROR, f"{detail}, data {[hex(d) for d in data]}")
            case FailEntry(reason, cpu):
                detail = f"vCPU {vcpu_id}: KVM could not enter the guest (reason {reason:#x})"
                self._stop.request(StopReason.ERROR, f"{detail} on host CPU {cpu}")
            case Hlt():
                # Only without an in-kernel irqchip; this VMM always has one.
                self._stop.request(StopReason.GUEST_SHUTDOWN, f"vCPU {vcpu_id} halted")
            case _:
                log.warning("vCPU %d: unhandled exit %r", vcpu_id, exit_)
                return False
        return True

    def _log_state(self) -> None:
        if self._stats is None:
            self._stats = self.vcpu.get_stats_fd()
        stats = self._stats.read()
        counts = " ".join(
            f"{name} {stats[name]}"
            for name in ("exits", "irq_injections", "insn_emulation", "pf_guest", "halt_exits")
            if name in stats
        )
        regs, sregs = self.vcpu.get_regs(), self.vcpu.get_sregs()
        log.warning(
            "vCPU %d: rip %#x rsp %#x rflags %#x cs %#x cr0 %#x cr3 %#x cr4 %#x efer %#x "
            "rax %#x rbx %#x rcx %#x rdx %#x mp_state %d; %s",
            self.vcpu.id,
            regs.rip,
            regs.rsp,
            regs.rflags,
            sregs.cs.selector,
            sregs.cr0,
            sregs.cr3,
            sregs.cr4,
            sregs.efer,
            regs.rax,
            regs.rbx,
            regs.rcx,
            regs.rdx,
            self.vcpu.get_mp_state(),
            counts,
        )


def _unclaimed(data: memoryview) -> None:
    """Reads of addresses no device claims return all ones, as on a real bus."""
    data[:] = b"\xff" * len(data)


def _string_io(access: object, port: int, data: memoryview, count: int) -> None:
    """`rep ins`/`rep outs`: one device access per element."""
    size = len(data) // count
    for i in range(count):
        access(port, data[i * size : (i + 1) * size])  # type: ignore[operator]


def _internal_error_name(suberror: int) -> str:
    try:
        return InternalErrorSuberror(suberror).name.lower().replace("_", " ")
    except ValueError:
        return f"suberror {suberror}"
