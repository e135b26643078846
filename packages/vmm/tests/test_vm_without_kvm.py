"""A VM built, run and stopped against `vmm.testing.fake_kvm`: the order of its KVM calls, what
each vCPU is given, guest I/O through the real buses and devices, and that every resource is
released when it shuts down or fails half-built, whichever call fails (no /dev/kvm needed)."""

from __future__ import annotations

import io
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from kvm_bindings import SystemEventType
from kvm_ioctls import IoIn, IoOut, KvmError, MmioRead, MmioWrite, SystemEvent
from vm_devices.acpi import GedEvent
from vm_devices.virtio.devices import PauseTimeoutError
from vm_devices.virtio.devices.rng import Rng
from vmm.acpi.devices import GED_IRQ
from vmm.arch import layout
from vmm.arch.cpuid import CpuTopology
from vmm.device_manager import DeviceSpec
from vmm.errors import VmmError
from vmm.lifecycle import StopEvent, StopReason
from vmm.payload import Payload
from vmm.testing import LOAD_ADDRESS, echo_kernel
from vmm.testing.fake_kvm import FakeKvm, ScriptItem
from vmm.vm import IDENTITY_MAP_ADDRESS, TSS_ADDRESS, Vm, VmSpec

WAIT = 5.0
COM1 = 0x3F8


@pytest.fixture
def spec(tmp_path: Path) -> VmSpec:
    """Two vCPUs, 64 MiB, the echo guest and a virtio-rng device."""
    kernel = tmp_path / "echo.elf"
    kernel.write_bytes(echo_kernel())
    return VmSpec(
        vcpus=2,
        topology=CpuTopology.flat(2),
        memory_size=64 << 20,
        payload=Payload(str(kernel)),
        devices=(DeviceSpec("_rng", lambda stack: Rng()),),
    )


@dataclass
class Running:
    kvm: FakeKvm
    vm: Vm
    serial: io.BytesIO

    def idle(self) -> None:
        """Wait until every vCPU has taken its exits and waits in KVM_RUN."""
        for vcpu in self.kvm.vcpus():
            assert vcpu.wait_idle(WAIT), f"vCPU {vcpu.id} did not take its exits"

    def stopped(self) -> StopEvent:
        event = self.vm.wait(WAIT)
        assert event is not None, "the VM did not stop"
        return event


Boot = Callable[..., Running]


@pytest.fixture
def boot(spec: VmSpec) -> Iterator[Boot]:
    """`boot(*exits)`: build and start a VM whose vCPU 0 plays `exits`; shut down afterwards."""
    started: list[Vm] = []

    def start(*exits: ScriptItem) -> Running:
        kvm, serial = FakeKvm(exits={0: exits}), io.BytesIO()
        vm = Vm(spec, start_time=0.0, serial_output=serial, open_hypervisor=kvm.open)
        started.append(vm)
        vm.start()
        return Running(kvm, vm, serial)

    yield start
    for vm in started:
        vm.shutdown()


def _holdings() -> tuple[int, int, list[str]]:
    """Open fds, memory mappings and thread names of this process."""
    with open("/proc/self/maps") as maps:
        mappings = sum(1 for _ in maps)
    names = sorted(thread.name for thread in threading.enumerate())
    return len(os.listdir("/proc/self/fd")), mappings, names


# Building ----------------------------------------------------------------------------------


def test_the_platform_is_made_before_any_vcpu(spec: VmSpec) -> None:
    kvm = FakeKvm()
    Vm(spec, start_time=0.0, open_hypervisor=kvm.open).shutdown()
    methods = [call.method for call in kvm.calls]
    first_vcpu = methods.index("create_vcpu")
    for step in ("set_tss_address", "set_identity_map_address", "create_irq_chip", "create_pit2"):
        assert methods.index(step) < first_vcpu, step
    assert methods.index("create_irq_chip") < methods.index("create_pit2")
    (fake_vm,) = kvm.vms
    assert (fake_vm.tss_address, fake_vm.identity_map_address) == (
        TSS_ADDRESS,
        IDENTITY_MAP_ADDRESS,
    )


def test_guest_ram_is_given_to_kvm_one_slot_per_region(spec: VmSpec) -> None:
    kvm = FakeKvm()
    vm = Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
    expected = {
        slot.slot: (slot.guest_phys_addr, slot.memory_size, slot.userspace_addr, int(slot.flags))
        for slot in vm.memory.memory_slots(0)
    }
    vm.shutdown()
    assert kvm.vms[0].memory_slots == expected
    assert expected[0][:2] == (0, 64 << 20)


def test_each_vcpu_gets_a_cpuid_table_with_its_own_apic_id(spec: VmSpec) -> None:
    kvm = FakeKvm()
    Vm(spec, start_time=0.0, open_hypervisor=kvm.open).shutdown()
    for vcpu in kvm.vcpus():
        assert vcpu.cpuid is not None
        leaf1, topology = vcpu.cpuid.get(0x1), vcpu.cpuid.get(0xB, 0)
        assert leaf1 is not None
        assert topology is not None
        assert (leaf1.ebx >> 24, topology.edx) == (vcpu.id, vcpu.id)


def test_the_boot_vcpu_enters_the_pvh_entry_and_the_others_wait_for_sipi(spec: VmSpec) -> None:
    kvm = FakeKvm()
    Vm(spec, start_time=0.0, open_hypervisor=kvm.open).shutdown()
    boot, other = kvm.vcpus()
    assert (boot.regs.rip, boot.regs.rbx) == (LOAD_ADDRESS, layout.PVH_START_INFO)
    assert boot.sregs.cr0 & 1, "protected mode"
    assert (other.regs.rip, other.sregs.cr0) == (0, 0)
    assert all(vcpu.fpu is not None and vcpu.fpu.fcw == 0x37F for vcpu in (boot, other))


# Running -----------------------------------------------------------------------------------


def test_what_the_guest_writes_to_com1_reaches_the_serial_output(boot: Boot) -> None:
    running = boot(
        IoOut(COM1, memoryview(b"h")),
        IoOut(COM1, memoryview(b"i")),
        SystemEvent(SystemEventType.SHUTDOWN, ()),
    )
    assert running.stopped().reason is StopReason.GUEST_SHUTDOWN
    assert running.serial.getvalue() == b"hi"


def test_a_reset_through_the_i8042_stops_the_vm_as_a_guest_reset(boot: Boot) -> None:
    running = boot(IoOut(0x64, memoryview(b"\xfe")))
    assert running.stopped() == StopEvent(StopReason.GUEST_RESET, "the guest reset the i8042")


def test_the_guest_finds_the_virtio_device_through_the_pci_config_ports(
    boot: Boot,
) -> None:
    answer = bytearray(4)
    running = boot(
        IoOut(0xCF8, memoryview((0x8000_0000 | 1 << 11).to_bytes(4, "little"))),  # slot 1, reg 0
        IoIn(0xCFC, memoryview(answer)),
    )
    running.idle()
    assert int.from_bytes(answer, "little") == 0x1044_1AF4  # virtio (0x1AF4), rng (0x1040 + 4)


def test_a_failing_vcpu_stops_the_vm_with_an_error(boot: Boot) -> None:
    running = boot(KvmError("KVM_RUN", 14))
    event = running.stopped()
    assert (event.reason, event.exit_status) == (StopReason.ERROR, 1)
    assert event.detail.startswith("vCPU 0: KVM_RUN failed")


def test_pause_parks_every_vcpu_and_saves_the_guest_clock(boot: Boot) -> None:
    running = boot()
    running.idle()
    running.vm.pause()
    assert running.vm.paused
    assert [call.method for call in running.kvm.calls].count("get_clock") == 1


def test_resume_restores_the_clock_without_flags_and_the_vcpus_run_on(
    boot: Boot,
) -> None:
    running = boot()
    running.idle()
    running.vm.pause()
    running.vm.resume()
    (clock,) = running.kvm.vms[0].clocks_set
    assert (clock.clock, clock.flags) == (123_456_789, 0)
    running.kvm.vcpus()[0].feed(IoOut(COM1, memoryview(b"!")))
    running.idle()
    assert not running.vm.paused
    assert running.serial.getvalue() == b"!"


class PauseProbe(Rng):
    """virtio-rng that notes each pause and resume, and whether the vCPUs were parked then;
    `refuse` makes its pause fail as a device stuck in host I/O would."""

    def __init__(self, refuse: bool = False) -> None:
        super().__init__()
        self.vm: Vm | None = None
        self.calls: list[tuple[str, bool]] = []
        self.refuse = refuse

    def pause(self) -> None:
        assert self.vm is not None
        self.calls.append(("pause", self.vm.paused))
        if self.refuse:
            raise PauseTimeoutError("virtio-rng", ["virtio-rng"], 5.0)
        super().pause()

    def resume(self) -> None:
        assert self.vm is not None
        self.calls.append(("resume", self.vm.paused))
        super().resume()


def _with_probe(spec: VmSpec, probe: PauseProbe) -> tuple[Vm, FakeKvm]:
    kvm = FakeKvm()
    vm = Vm(
        replace(spec, devices=(DeviceSpec("_rng", lambda stack: probe),)),
        start_time=0.0,
        open_hypervisor=kvm.open,
    )
    probe.vm = vm
    vm.start()
    return vm, kvm


def test_pause_pauses_the_devices_after_the_vcpus_and_resume_resumes_them_first(
    spec: VmSpec,
) -> None:
    probe = PauseProbe()
    vm, _ = _with_probe(spec, probe)
    try:
        vm.pause()
        vm.resume()
    finally:
        vm.shutdown()
    assert probe.calls == [("pause", True), ("resume", True)]


def test_a_device_that_cannot_pause_fails_the_pause_and_the_vm_runs_on(spec: VmSpec) -> None:
    probe = PauseProbe(refuse=True)
    vm, kvm = _with_probe(spec, probe)
    try:
        with pytest.raises(VmmError, match=r"^_rng: cannot pause: virtio-rng: virtio-rng did"):
            vm.pause()
        vcpu = kvm.vcpus()[0]
        vcpu.feed(IoOut(COM1, memoryview(b"!")))
        assert vcpu.wait_idle(WAIT), "the vCPUs stayed parked"
    finally:
        vm.shutdown()
    assert probe.calls == [("pause", True), ("resume", True)]


# Releasing ---------------------------------------------------------------------------------


def test_shutdown_stops_the_vcpus_and_releases_kvm_memory_and_devices(spec: VmSpec) -> None:
    Vm(spec, start_time=0.0, open_hypervisor=FakeKvm().open).shutdown()  # warm caches
    before = _holdings()
    kvm = FakeKvm()
    vm = Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
    vm.start()
    for vcpu in kvm.vcpus():
        assert vcpu.wait_idle(WAIT)
    assert _holdings() != before
    assert vm.shutdown() == StopEvent(StopReason.SIGNAL, "stopped by the VMM")
    assert kvm.open_handles() == []
    assert _holdings() == before


def test_shutdown_kicks_again_until_every_vcpu_has_stopped(spec: VmSpec) -> None:
    kvm = FakeKvm(lost_kicks={0: 1, 1: 3})
    vm = Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
    vm.start()
    for vcpu in kvm.vcpus():
        assert vcpu.wait_idle(WAIT)
    started = time.monotonic()
    vm.shutdown()
    assert time.monotonic() - started < 1.0
    assert kvm.open_handles() == []


def test_pause_kicks_again_until_every_vcpu_has_parked(spec: VmSpec) -> None:
    kvm = FakeKvm(lost_kicks={0: 2, 1: 1})
    vm = Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
    vm.start()
    try:
        for vcpu in kvm.vcpus():
            assert vcpu.wait_idle(WAIT)
        vm.pause(timeout=1.0)
        assert vm.paused
    finally:
        vm.shutdown()


def test_shutdown_after_the_guest_stopped_reports_the_guest_s_reason(
    boot: Boot,
) -> None:
    running = boot(SystemEvent(SystemEventType.SHUTDOWN, ()))
    running.stopped()
    assert running.vm.shutdown().reason is StopReason.GUEST_SHUTDOWN
    assert running.kvm.open_handles() == []


# Every KVM call the build makes, failing in turn, with the error the user sees.
FAILURES = [
    (("open", 1), "cannot create the VM: open failed"),
    (("create_vm", 1), "cannot create the VM"),
    (("set_tss_address", 1), "cannot create the VM"),
    (("set_identity_map_address", 1), "cannot create the VM"),
    (("create_irq_chip", 1), "cannot create the VM"),
    (("create_pit2", 1), "cannot create the VM"),
    (("get_supported_cpuid", 1), "cannot create the VM: get_supported_cpuid failed"),
    (("set_user_memory_region", 1), "KVM refused guest memory slot 0"),
    (("register_irqfd", 1), "cannot wire the serial port's IRQ"),
    (("register_irqfd", 2), "cannot wire the ACPI GED's IRQ"),
    (("register_irqfd", 3), "_rng: cannot attach to the PCI bus"),
    (("register_ioevent", 1), "_rng: cannot attach to the PCI bus"),
    (("create_vcpu", 1), "cannot set up vCPU 0"),
    (("create_vcpu", 2), "cannot set up vCPU 1"),
    (("set_cpuid2", 2), "cannot set up vCPU 1"),
    (("set_msrs", 1), "cannot set up vCPU 0"),
    (("set_fpu", 2), "cannot set up vCPU 1"),
    (("get_lapic", 1), "cannot set up vCPU 0"),
    (("set_lapic", 2), "cannot set up vCPU 1"),
    (("get_sregs", 1), "cannot set up vCPU 0"),
    (("set_sregs", 1), "cannot set up vCPU 0"),
    (("set_regs", 1), "cannot set up vCPU 0"),
]


def test_the_failures_below_cover_every_kvm_call_a_build_makes(spec: VmSpec) -> None:
    kvm = FakeKvm()
    Vm(spec, start_time=0.0, open_hypervisor=kvm.open).shutdown()
    assert {method for method, _ in kvm.methods()} == {method for (method, _), _ in FAILURES}


@pytest.mark.parametrize(
    ("fail_at", "message"), FAILURES, ids=[f"{m}#{n}" for (m, n), _ in FAILURES]
)
def test_a_vm_failing_at_any_kvm_call_releases_everything_it_took(
    spec: VmSpec, fail_at: tuple[str, int], message: str
) -> None:
    with pytest.raises(VmmError):
        Vm(spec, start_time=0.0, open_hypervisor=FakeKvm(fail_at=fail_at).open)  # warm caches
    before = _holdings()
    kvm = FakeKvm(fail_at=fail_at)
    with pytest.raises(VmmError, match=message):
        Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
    assert kvm.open_handles() == []
    assert _holdings() == before


def test_a_device_that_cannot_open_fails_the_build_naming_it_and_releases_everything(
    spec: VmSpec,
) -> None:
    broken = DeviceSpec("entropy", lambda stack: Rng("/nonexistent"))
    spec = replace(spec, devices=(*spec.devices, broken))
    with pytest.raises(VmmError):
        Vm(spec, start_time=0.0, open_hypervisor=FakeKvm().open)
    before = _holdings()
    kvm = FakeKvm()
    with pytest.raises(VmmError, match=r"^entropy: .*/nonexistent"):
        Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
    assert kvm.open_handles() == []
    assert _holdings() == before


# ACPI ----------------------------------------------------------------------------------------


def test_the_guest_finds_the_rsdp_in_the_bios_area_and_in_the_pvh_start_info(
    spec: VmSpec,
) -> None:
    vm = Vm(spec, start_time=0.0, open_hypervisor=FakeKvm().open)
    try:
        rsdp = vm.memory.read(layout.RSDP_ADDRESS, 36)
        rsdp_paddr = int.from_bytes(vm.memory.read(layout.PVH_START_INFO + 32, 8), "little")
    finally:
        vm.shutdown()
    assert rsdp[:8] == b"RSD PTR "
    assert rsdp_paddr == layout.RSDP_ADDRESS


def test_an_acpi_s5_write_powers_off_and_the_reset_value_reboots(boot: Boot) -> None:
    running = boot(IoOut(0x600, memoryview(b"\x34")))
    assert running.stopped() == StopEvent(
        StopReason.GUEST_SHUTDOWN, "the guest powered off (ACPI S5)"
    )
    running = boot(IoOut(0x600, memoryview(b"\x01")))
    assert running.stopped() == StopEvent(StopReason.GUEST_RESET, "the guest reset through ACPI")


def test_garbage_in_the_acpi_registers_changes_nothing(boot: Boot) -> None:
    running = boot(
        IoOut(0x600, memoryview(b"\x14")),  # S5 without SLP_EN
        IoOut(0x600, memoryview(b"\x01\x00")),  # the reset value, as a word
        IoOut(0x600, memoryview(b"\xff\xff\xff\xff")),
        IoIn(0x600, memoryview(bytearray(4))),
        MmioWrite(layout.ACPI_GED_ADDRESS, memoryview(b"\xff")),
        MmioRead(layout.ACPI_GED_ADDRESS, memoryview(bytearray(1))),
        IoOut(COM1, memoryview(b"k")),
        SystemEvent(SystemEventType.SHUTDOWN, ()),
    )
    assert running.stopped().reason is StopReason.GUEST_SHUTDOWN
    assert running.serial.getvalue() == b"k"
    shutdown = running.vm.acpi.shutdown
    assert (shutdown.shutdown_requests, shutdown.reset_requests) == (0, 0)


def test_the_power_button_raises_the_ged_interrupt_and_sets_its_status(boot: Boot) -> None:
    running = boot()
    running.vm.power_button()
    (fake_vm,) = running.kvm.vms
    (eventfd,) = [fd for fd, gsi in fake_vm.irqfds.items() if gsi == GED_IRQ]
    assert select.select([eventfd], [], [], 0)[0] == [eventfd]
    assert os.eventfd_read(eventfd) == 1
    assert running.vm.acpi.ged.pending == GedEvent.POWER_BUTTON_CHANGED
