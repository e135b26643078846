"""A vCPU thread dispatches each exit to the bus it names and stops the VM for the exits that
end it (no KVM: `vmm.testing.fake_kvm`'s vCPU plays a script of exits)."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from kvm_bindings import SystemEventType
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
from vm_devices import MmioBus, PioBus
from vmm.lifecycle import StopEvent, StopReason, StopSignal
from vmm.testing.fake_kvm import FakeVcpu, ScriptItem
from vmm.vcpu import VcpuThread

WAIT = 5.0
PORT_BASE = 0x3F8
MMIO_BASE = 0xD000_0000


@dataclass
class Register:
    """A device on a bus that answers reads with its offset and records its writes."""

    writes: list[tuple[int, bytes]] = field(default_factory=list)
    reads: list[tuple[int, int]] = field(default_factory=list)
    fail: Exception | None = None

    def read(self, base: int, offset: int, data: memoryview) -> None:
        self.reads.append((offset, len(data)))
        data[:] = bytes([0x40 + offset]) * len(data)

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.writes.append((offset, bytes(data)))


@dataclass
class Cpu:
    """One vCPU thread over a port device at PORT_BASE (8 ports) and an MMIO one at MMIO_BASE."""

    vcpu: FakeVcpu
    thread: VcpuThread
    stop: StopSignal
    port: Register
    mmio: Register

    def run(self, *exits: ScriptItem) -> None:
        """Play `exits` and wait until the vCPU is back in KVM_RUN with nothing left."""
        self.vcpu.feed(*exits)
        assert self.vcpu.wait_idle(WAIT), "the vCPU did not take its exits"

    def stopped(self) -> StopEvent:
        """The event that stopped the VM, once the thread has ended."""
        self.thread.join(WAIT)
        assert not self.thread.thread.is_alive()
        event = self.stop.wait(0)
        assert event is not None
        return event


@pytest.fixture
def cpu() -> Iterator[Cpu]:
    pio, mmio = PioBus(), MmioBus()
    port, device = Register(), Register()
    pio.insert(port, PORT_BASE, 8)
    mmio.insert(device, MMIO_BASE, 0x1000)
    vcpu, stop = FakeVcpu(0), StopSignal()
    thread = VcpuThread(vcpu, pio, mmio, stop)
    thread.start()
    yield Cpu(vcpu, thread, stop, port, device)
    stop.request(StopReason.SIGNAL)
    thread.kick()
    thread.join(WAIT)


def _buffer(size: int) -> tuple[bytearray, memoryview]:
    data = bytearray(size)
    return data, memoryview(data)


# I/O dispatch ------------------------------------------------------------------------------


def test_a_port_write_reaches_the_device_at_its_offset(cpu: Cpu) -> None:
    cpu.run(IoOut(PORT_BASE + 1, memoryview(b"\x42")))
    assert cpu.port.writes == [(1, b"\x42")]


def test_a_port_read_is_answered_by_the_device(cpu: Cpu) -> None:
    answer, view = _buffer(2)
    cpu.run(IoIn(PORT_BASE + 2, view))
    assert (cpu.port.reads, bytes(answer)) == ([(2, 2)], b"\x42\x42")


def test_a_read_of_a_port_no_device_claims_returns_all_ones(cpu: Cpu) -> None:
    answer, view = _buffer(2)
    cpu.run(IoIn(0x80, view))
    assert bytes(answer) == b"\xff\xff"


def test_string_port_output_is_one_device_access_per_element(cpu: Cpu) -> None:
    cpu.run(IoOut(PORT_BASE, memoryview(b"abcd"), count=4))
    assert cpu.port.writes == [(0, b"a"), (0, b"b"), (0, b"c"), (0, b"d")]


def test_string_port_input_fills_each_element_from_the_device(cpu: Cpu) -> None:
    answer, view = _buffer(4)
    cpu.run(IoIn(PORT_BASE + 1, view, count=2))
    assert (cpu.port.reads, bytes(answer)) == ([(1, 2), (1, 2)], b"\x41" * 4)


def test_an_mmio_write_reaches_the_mmio_device_at_its_offset(cpu: Cpu) -> None:
    cpu.run(MmioWrite(MMIO_BASE + 0x10, memoryview(b"\x01\x02\x03\x04")))
    assert cpu.mmio.writes == [(0x10, b"\x01\x02\x03\x04")]
    assert cpu.port.writes == []


def test_an_mmio_read_is_answered_by_the_mmio_device(cpu: Cpu) -> None:
    answer, view = _buffer(4)
    cpu.run(MmioRead(MMIO_BASE + 3, view))
    assert bytes(answer) == b"\x43" * 4


def test_a_read_of_mmio_no_device_claims_returns_all_ones(cpu: Cpu) -> None:
    answer, view = _buffer(8)
    cpu.run(MmioRead(MMIO_BASE + 0x1000, view))
    assert bytes(answer) == b"\xff" * 8


# Exits that stop the VM --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exit_", "reason", "detail"),
    [
        (Shutdown(), StopReason.GUEST_RESET, "vCPU 0 triple fault"),
        (SystemEvent(SystemEventType.RESET, ()), StopReason.GUEST_RESET, "reset requested"),
        (SystemEvent(SystemEventType.SHUTDOWN, ()), StopReason.GUEST_SHUTDOWN, "shutdown"),
        (SystemEvent(SystemEventType.CRASH, ()), StopReason.GUEST_CRASH, "reported a crash"),
        (Hlt(), StopReason.GUEST_SHUTDOWN, "vCPU 0 halted"),
        (FailEntry(0x21, 3), StopReason.ERROR, "(reason 0x21) on host CPU 3"),
    ],
)
def test_an_exit_that_ends_the_guest_stops_the_vm_with_its_reason(
    cpu: Cpu, exit_: ScriptItem, reason: StopReason, detail: str
) -> None:
    cpu.vcpu.feed(exit_)
    event = cpu.stopped()
    assert event.reason is reason
    assert detail in event.detail


def test_a_kvm_internal_error_names_the_suberror_and_the_guest_rip(cpu: Cpu) -> None:
    cpu.vcpu.regs.rip = 0xFFFF_1234
    cpu.vcpu.feed(InternalError(1, (0x0F, 0x0B)))
    event = cpu.stopped()
    assert event.reason is StopReason.ERROR
    assert event.detail == (
        "vCPU 0: KVM internal error (emulation) at rip 0xffff1234, data ['0xf', '0xb']"
    )


def test_a_guest_crash_is_a_failure_exit_status(cpu: Cpu) -> None:
    cpu.vcpu.feed(SystemEvent(SystemEventType.CRASH, ()))
    assert cpu.stopped().exit_status == 1


def test_a_failing_kvm_run_stops_the_vm_with_an_error(cpu: Cpu) -> None:
    cpu.vcpu.feed(KvmError("KVM_RUN", errno.EFAULT))
    event = cpu.stopped()
    assert event.reason is StopReason.ERROR
    assert event.detail.startswith("vCPU 0: KVM_RUN failed")


def test_a_device_that_raises_stops_the_vm_instead_of_hanging_it(cpu: Cpu) -> None:
    cpu.port.fail = ValueError("broken device")
    cpu.vcpu.feed(IoOut(PORT_BASE, memoryview(b"x")))
    event = cpu.stopped()
    assert (event.reason, event.detail) == (
        StopReason.ERROR,
        "vCPU 0: ValueError('broken device')",
    )


def test_an_unknown_system_event_is_ignored_and_the_vcpu_runs_on(cpu: Cpu) -> None:
    cpu.run(SystemEvent(SystemEventType.WAKEUP, ()), IoOut(PORT_BASE, memoryview(b"y")))
    assert not cpu.stop.requested
    assert cpu.port.writes == [(0, b"y")]


def test_only_the_first_stop_counts(cpu: Cpu) -> None:
    cpu.stop.request(StopReason.SIGNAL, "first")
    cpu.vcpu.feed(Shutdown())
    assert cpu.stopped() == StopEvent(StopReason.SIGNAL, "first")


# Kicks, pause, state reports ---------------------------------------------------------------


def test_a_kick_after_a_stop_request_ends_the_thread(cpu: Cpu) -> None:
    assert cpu.vcpu.wait_idle(WAIT)
    cpu.stop.request(StopReason.SIGNAL, "stopped by the VMM")
    cpu.thread.kick()
    assert cpu.stopped().reason is StopReason.SIGNAL


class StopInTheWindow(FakeVcpu):
    """A vCPU back from KVM_RUN with `Intr` before the stop: the stop request and its kick
    land while the thread handles that exit, just before it clears immediate_exit."""

    def __init__(self, stop: StopSignal) -> None:
        super().__init__(0, [Intr()])
        self._stop = stop
        self._landed = False

    def set_immediate_exit(self, value: bool) -> None:
        if not value and not self._landed:
            self._landed = True
            self._stop.request(StopReason.SIGNAL, "stopped by the VMM")
            self.kick()
        super().set_immediate_exit(value)


def test_a_stop_requested_while_the_vcpu_handles_a_kick_ends_it_without_another_kick() -> None:
    stop = StopSignal()
    vcpu = StopInTheWindow(stop)
    thread = VcpuThread(vcpu, PioBus(), MmioBus(), stop)
    thread.start()
    thread.join(1.0)
    lost = thread.thread.is_alive()
    if lost:  # let the thread go before failing
        thread.kick()
        thread.join(WAIT)
    assert not lost, "the stop's kick was lost"
    assert vcpu.kicks == 1


def test_waiting_for_a_stop_kicks_again_until_the_vcpu_ends() -> None:
    stop = StopSignal()
    vcpu = FakeVcpu(0, lost_kicks=3)
    thread = VcpuThread(vcpu, PioBus(), MmioBus(), stop)
    thread.start()
    assert vcpu.wait_idle(WAIT)
    stop.request(StopReason.SIGNAL)
    thread.kick()
    assert thread.wait_stopped(1.0)
    assert vcpu.kicks >= 4


def test_waiting_for_a_pause_kicks_again_until_the_vcpu_parks() -> None:
    stop = StopSignal()
    vcpu = FakeVcpu(0, lost_kicks=3)
    thread = VcpuThread(vcpu, PioBus(), MmioBus(), stop)
    thread.start()
    assert vcpu.wait_idle(WAIT)
    thread.request_pause()
    assert thread.wait_parked(1.0)
    assert vcpu.kicks >= 4
    stop.request(StopReason.SIGNAL)
    assert thread.wait_stopped(WAIT)


def test_a_kick_without_a_stop_lets_the_vcpu_run_on(cpu: Cpu) -> None:
    assert cpu.vcpu.wait_idle(WAIT)
    cpu.thread.kick()
    cpu.run(IoOut(PORT_BASE, memoryview(b"z")))
    assert cpu.port.writes == [(0, b"z")]
    assert cpu.thread.thread.is_alive()


def test_a_paused_vcpu_takes_no_exit_until_resumed(cpu: Cpu) -> None:
    cpu.thread.request_pause()
    assert cpu.thread.wait_parked(WAIT)
    assert cpu.thread.parked
    cpu.vcpu.feed(IoOut(PORT_BASE, memoryview(b"p")))
    assert not cpu.vcpu.wait_idle(0.1)
    assert cpu.port.writes == []
    cpu.thread.resume()
    assert cpu.vcpu.wait_idle(WAIT)
    assert (cpu.port.writes, cpu.thread.parked) == ([(0, b"p")], False)


def test_a_stop_request_ends_a_paused_vcpu(cpu: Cpu) -> None:
    cpu.thread.request_pause()
    assert cpu.thread.wait_parked(WAIT)
    cpu.stop.request(StopReason.SIGNAL)
    cpu.thread.kick()
    assert cpu.stopped().reason is StopReason.SIGNAL


def test_a_state_report_logs_the_registers_at_the_next_exit(
    cpu: Cpu, caplog: pytest.LogCaptureFixture
) -> None:
    cpu.vcpu.regs.rip, cpu.vcpu.sregs.cr0 = 0x10_0040, 0x11
    with caplog.at_level(logging.WARNING, logger="vmm.vcpu"):
        cpu.thread.report_state()
        assert cpu.vcpu.wait_idle(WAIT)
    (record,) = [r for r in caplog.records if "rip" in r.getMessage()]
    assert "vCPU 0: rip 0x100040" in record.getMessage()
    assert "cr0 0x11" in record.getMessage()
    assert "exits 0" in record.getMessage()


def test_the_stats_fd_opened_for_a_report_is_closed_when_the_thread_ends(cpu: Cpu) -> None:
    cpu.thread.report_state()
    assert cpu.vcpu.wait_idle(WAIT)
    cpu.stop.request(StopReason.SIGNAL)
    cpu.thread.kick()
    cpu.stopped()
    assert [stats.closed for stats in cpu.vcpu.stats] == [True]


def test_an_affinity_to_a_missing_host_cpu_stops_the_vm_with_an_error() -> None:
    stop = StopSignal()
    thread = VcpuThread(FakeVcpu(1), PioBus(), MmioBus(), stop, host_cpus=(4095,))
    thread.start()
    thread.join(WAIT)
    event = stop.wait(0)
    assert event is not None
    assert event.reason is StopReason.ERROR
    assert event.detail.startswith("vCPU 1: cannot run on host CPUs 4095: ")
