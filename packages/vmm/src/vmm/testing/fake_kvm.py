"""Fakes of KVM with the surface the VMM core uses (`vmm.hypervisor`), for tests without /dev/kvm.

    kvm = FakeKvm(exits={0: [IoOut(0x3F8, memoryview(b"h")), Shutdown()]})
    vm = Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
    vm.start()
    assert vm.wait(5).reason is StopReason.GUEST_RESET

What the VMM asks for is kept as KVM would keep it (memory slots, irqfds,
ioeventfds, GSI routes, registers, CPUID) and every set-up call is written
to `FakeKvm.calls`, in order, across the VM and its vCPUs. `fail_at=
("create_vcpu", 2)` makes the second `create_vcpu` raise `KvmError`, as a
refusing kernel would, and `open_handles()` names what is still open.

A vCPU's `run()` returns its scripted exits one by one (an exception in the
script is raised instead), then waits, as a vCPU halted in KVM_RUN waits
for an interrupt, until `feed()` gives it more or `kick()` makes it return
`Intr`, which it keeps returning until the VMM clears `immediate_exit`.
`lost_kicks={1: 2}` makes the first two kicks of vCPU 1 do nothing, as kicks
that land where the vCPU thread cannot see them: the VMM must kick again.
"""

from __future__ import annotations

import collections
import errno
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvm_bindings import (
    ClockFlags,
    kvm_clock_data,
    kvm_cpuid_entry2,
    kvm_fpu,
    kvm_lapic_state,
    kvm_regs,
    kvm_sregs,
)
from kvm_ioctls import CpuId, Intr, IoEventAddress, IrqRoute, KvmError, VcpuExit

if TYPE_CHECKING:
    from vmm.hypervisor import Hypervisor, HypervisorVcpu, HypervisorVm

__all__ = ["Call", "FakeKvm", "FakeVcpu", "FakeVcpuStats", "FakeVm", "default_cpuid"]

ScriptItem = VcpuExit | BaseException


@dataclass(frozen=True)
class Call:
    """One call the VMM made: on `target` ("kvm", "vm", "vcpu0", ...), `method`, with `args`."""

    target: str
    method: str
    args: tuple[object, ...] = ()


def default_cpuid() -> CpuId:
    """A small host CPUID: the leaves the VMM's policy rewrites per vCPU, and 46 physical
    address bits."""
    return CpuId(
        [
            kvm_cpuid_entry2(function=0x0, eax=0xB),
            kvm_cpuid_entry2(function=0x1, eax=0x000806F8),
            kvm_cpuid_entry2(function=0xB, index=0),
            kvm_cpuid_entry2(function=0xB, index=1),
            kvm_cpuid_entry2(function=0x8000_0000, eax=0x8000_0008),
            kvm_cpuid_entry2(function=0x8000_0008, eax=0x3030),
        ]
    )


class FakeKvm:
    """/dev/kvm: `open` stands in for `Kvm()`; the VMs and vCPUs it makes report here."""

    def __init__(
        self,
        *,
        exits: Mapping[int, Iterable[ScriptItem]] | None = None,
        fail_at: tuple[str, int] | None = None,
        cpuid: CpuId | None = None,
        lost_kicks: Mapping[int, int] | None = None,
    ) -> None:
        self.calls: list[Call] = []
        self.vms: list[FakeVm] = []
        self.opened = self.closed = False
        self.cpuid = cpuid if cpuid is not None else default_cpuid()
        self._exits = {vcpu_id: list(script) for vcpu_id, script in (exits or {}).items()}
        self._fail_at = fail_at
        self.lost_kicks = dict(lost_kicks or {})
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    # ------------------------------------------------------------ bookkeeping
    def record(self, target: str, method: str, *args: object) -> None:
        """Write the call down; raise KvmError(EIO) if it is the one `fail_at` names."""
        with self._lock:
            self.calls.append(Call(target, method, args))
            self._counts[method] += 1
            failing = self._fail_at == (method, self._counts[method])
        if failing:
            raise KvmError(method, errno.EIO)

    def methods(self) -> list[tuple[str, int]]:
        """Each call so far as (method, how many calls of it up to this one)."""
        seen: collections.Counter[str] = collections.Counter()
        found = []
        for call in self.calls:
            seen[call.method] += 1
            found.append((call.method, seen[call.method]))
        return found

    def vcpus(self) -> list[FakeVcpu]:
        return [vcpu for vm in self.vms for vcpu in vm.vcpus.values()]

    def open_handles(self) -> list[str]:
        """What is still open: "kvm", "vm", "vcpu<N>"."""
        handles = ["kvm"] if self.opened and not self.closed else []
        for vm in self.vms:
            handles += [] if vm.closed else ["vm"]
            handles += [f"vcpu{v.id}" for v in vm.vcpus.values() if not v.closed]
        return handles

    # ------------------------------------------------------------ Hypervisor
    def open(self) -> FakeKvm:
        """`Kvm()`: open /dev/kvm."""
        self.record("kvm", "open")
        self.opened = True
        return self

    def get_supported_cpuid(self) -> CpuId:
        self.record("kvm", "get_supported_cpuid")
        return CpuId(kvm_cpuid_entry2.from_buffer_copy(entry) for entry in self.cpuid)

    def create_vm(self) -> FakeVm:
        self.record("kvm", "create_vm")
        vm = FakeVm(self)
        self.vms.append(vm)
        return vm

    def close(self) -> None:
        self.closed = True

    def script(self, vcpu_id: int) -> list[ScriptItem]:
        return list(self._exits.get(vcpu_id, ()))


class FakeVm:
    """A VM: its state is what the VMM set, readable by the test."""

    def __init__(self, kvm: FakeKvm) -> None:
        self.kvm = kvm
        self.closed = False
        self.tss_address: int | None = None
        self.identity_map_address: int | None = None
        self.irqchip = False
        self.pit = False
        self.memory_slots: dict[int, tuple[int, int, int, int]] = {}
        """slot -> (guest_phys_addr, memory_size, userspace_addr, flags)"""
        self.irqfds: dict[int, int] = {}
        """eventfd -> GSI"""
        self.ioevents: set[tuple[int, IoEventAddress]] = set()
        self.gsi_routes: list[IrqRoute] = []
        self.clock = kvm_clock_data(clock=123_456_789, flags=ClockFlags.TSC_STABLE)
        self.clocks_set: list[kvm_clock_data] = []
        self.vcpus: dict[int, FakeVcpu] = {}

    def _record(self, method: str, *args: object) -> None:
        if self.closed:
            raise KvmError(method, errno.EBADF)
        self.kvm.record("vm", method, *args)

    def set_tss_address(self, address: int) -> None:
        self._record("set_tss_address", address)
        self.tss_address = address

    def set_identity_map_address(self, address: int) -> None:
        self._record("set_identity_map_address", address)
        self.identity_map_address = address

    def create_irq_chip(self) -> None:
        self._record("create_irq_chip")
        if self.irqchip:
            raise KvmError("create_irq_chip", errno.EEXIST)
        self.irqchip = True

    def create_pit2(self) -> None:
        self._record("create_pit2")
        self.pit = True

    def set_user_memory_region(
        self,
        slot: int,
        guest_phys_addr: int,
        memory_size: int,
        userspace_addr: int,
        flags: int = 0,
    ) -> None:
        self._record("set_user_memory_region", slot, guest_phys_addr, memory_size)
        if memory_size == 0:
            self.memory_slots.pop(slot, None)
        else:
            self.memory_slots[slot] = (guest_phys_addr, memory_size, userspace_addr, flags)

    def register_irqfd(self, eventfd: int, gsi: int) -> None:
        self._record("register_irqfd", eventfd, gsi)
        if eventfd in self.irqfds:
            raise KvmError("register_irqfd", errno.EBUSY)
        self.irqfds[eventfd] = gsi

    def set_gsi_routing(self, routes: Sequence[IrqRoute]) -> None:
        self._record("set_gsi_routing", len(routes))
        self.gsi_routes = list(routes)

    def register_ioevent(self, eventfd: int, address: IoEventAddress) -> None:
        self._record("register_ioevent", eventfd, address)
        if (eventfd, address) in self.ioevents:
            raise KvmError("register_ioevent", errno.EEXIST)
        self.ioevents.add((eventfd, address))

    def unregister_ioevent(self, eventfd: int, address: IoEventAddress) -> None:
        self._record("unregister_ioevent", eventfd, address)
        if (eventfd, address) not in self.ioevents:
            raise KvmError("unregister_ioevent", errno.ENOENT)
        self.ioevents.remove((eventfd, address))

    def get_clock(self) -> kvm_clock_data:
        self._record("get_clock")
        return kvm_clock_data.from_buffer_copy(self.clock)

    def set_clock(self, clock: kvm_clock_data) -> None:
        self._record("set_clock", clock.clock, clock.flags)
        self.clocks_set.append(kvm_clock_data.from_buffer_copy(clock))

    def create_vcpu(self, vcpu_id: int) -> FakeVcpu:
        self._record("create_vcpu", vcpu_id)
        if vcpu_id in self.vcpus:
            raise KvmError("create_vcpu", errno.EEXIST)
        vcpu = FakeVcpu(
            vcpu_id,
            self.kvm.script(vcpu_id),
            kvm=self.kvm,
            lost_kicks=self.kvm.lost_kicks.get(vcpu_id, 0),
        )
        self.vcpus[vcpu_id] = vcpu
        return vcpu

    def close(self) -> None:
        self.closed = True


class FakeVcpuStats:
    """KVM's binary stats of a fake vCPU: its exits so far."""

    def __init__(self, vcpu: FakeVcpu) -> None:
        self._vcpu = vcpu
        self.closed = False

    def read(self) -> dict[str, int | tuple[int, ...]]:
        return {"exits": self._vcpu.exits_taken, "halt_exits": 0}

    def close(self) -> None:
        self.closed = True


class FakeVcpu:
    """A vCPU whose `run()` plays a script of exits; see the module's docstring."""

    def __init__(
        self,
        vcpu_id: int,
        script: Iterable[ScriptItem] = (),
        *,
        kvm: FakeKvm | None = None,
        lost_kicks: int = 0,
    ) -> None:
        self._id = vcpu_id
        self._kvm = kvm
        self.closed = False
        self.regs = kvm_regs()
        self.sregs = kvm_sregs()
        self.fpu: kvm_fpu | None = None
        self.msrs: dict[int, int] = {}
        self.lapic = kvm_lapic_state()
        self.cpuid: CpuId | None = None
        self.mp_state = 0
        self.exits_taken = 0
        self.stats: list[FakeVcpuStats] = []
        self._script: collections.deque[ScriptItem] = collections.deque(script)
        self._immediate_exit = False
        self._lost_kicks = lost_kicks
        self.kicks = 0
        self._waiting = False
        self._changed = threading.Condition()

    @property
    def id(self) -> int:
        return self._id

    def _record(self, method: str, *args: object) -> None:
        if self.closed:
            raise KvmError(method, errno.EBADF)
        if self._kvm is not None:
            self._kvm.record(f"vcpu{self._id}", method, *args)

    # ------------------------------------------------------------ running
    def run(self) -> VcpuExit:
        """The next scripted exit; with none left, wait for `feed` or a kick."""
        with self._changed:
            while not self._immediate_exit and not self._script:
                self._waiting = True
                self._changed.notify_all()
                self._changed.wait()
            self._waiting = False
            if self._immediate_exit:
                return Intr()
            item = self._script.popleft()
            self.exits_taken += 1
        if isinstance(item, BaseException):
            raise item
        return item

    def feed(self, *items: ScriptItem) -> None:
        """More exits for `run()` to return, in order."""
        with self._changed:
            self._script.extend(items)
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the script is played out, no kick is pending and a thread waits in
        `run()`; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._waiting and not self._script and not self._immediate_exit, timeout
            )

    def set_immediate_exit(self, value: bool) -> None:
        with self._changed:
            self._immediate_exit = value
            self._changed.notify_all()

    def kick(self) -> None:
        with self._changed:
            self.kicks += 1
            if self.kicks <= self._lost_kicks:
                return
        self.set_immediate_exit(True)

    # ------------------------------------------------------------ state
    def get_regs(self) -> kvm_regs:
        self._record("get_regs")
        return kvm_regs.from_buffer_copy(self.regs)

    def set_regs(self, regs: kvm_regs) -> None:
        self._record("set_regs")
        self.regs = kvm_regs.from_buffer_copy(regs)

    def get_sregs(self) -> kvm_sregs:
        self._record("get_sregs")
        return kvm_sregs.from_buffer_copy(self.sregs)

    def set_sregs(self, sregs: kvm_sregs) -> None:
        self._record("set_sregs")
        self.sregs = kvm_sregs.from_buffer_copy(sregs)

    def set_fpu(self, fpu: kvm_fpu) -> None:
        self._record("set_fpu")
        self.fpu = kvm_fpu.from_buffer_copy(fpu)

    def set_msrs(self, values: Mapping[int, int]) -> int:
        self._record("set_msrs", len(values))
        self.msrs.update(values)
        return len(values)

    def get_lapic(self) -> kvm_lapic_state:
        self._record("get_lapic")
        return kvm_lapic_state.from_buffer_copy(self.lapic)

    def set_lapic(self, lapic: kvm_lapic_state) -> None:
        self._record("set_lapic")
        self.lapic = kvm_lapic_state.from_buffer_copy(lapic)

    def set_cpuid2(self, cpuid: CpuId) -> None:
        self._record("set_cpuid2", len(cpuid))
        self.cpuid = CpuId(kvm_cpuid_entry2.from_buffer_copy(entry) for entry in cpuid)

    def get_mp_state(self) -> int:
        return self.mp_state

    def get_stats_fd(self) -> FakeVcpuStats:
        stats = FakeVcpuStats(self)
        self.stats.append(stats)
        return stats

    def close(self) -> None:
        self.closed = True


if TYPE_CHECKING:

    def _same_surface(
        kvm: FakeKvm, vm: FakeVm, vcpu: FakeVcpu
    ) -> tuple[Hypervisor, HypervisorVm, HypervisorVcpu]:
        """mypy checks here that the fakes have the surface the VMM core uses."""
        return kvm, vm, vcpu
