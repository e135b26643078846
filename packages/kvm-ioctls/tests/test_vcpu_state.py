"""vCPU and VM state round-trips through the get/set ioctls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kvm_bindings import MpState, kvm_pit_state2
from kvm_ioctls import Kvm
from kvm_ioctls.testing import CpuMode, TinyGuest

pytestmark = pytest.mark.kvm

EFER = 0xC0000080
LSTAR = 0xC0000082
TSC_DEADLINE = 0x6E0


@pytest.fixture
def guest() -> Iterator[TinyGuest]:
    with Kvm() as kvm:
        tiny = TinyGuest(kvm, b"\xf4", CpuMode.LONG, irqchip=True)
        yield tiny
        tiny.close()


def test_general_registers_round_trip(guest: TinyGuest) -> None:
    regs = guest.vcpu.get_regs()
    regs.r15, regs.rsi = 0x1122334455667788, 0x99
    guest.vcpu.set_regs(regs)
    again = guest.vcpu.get_regs()
    assert (again.r15, again.rsi) == (0x1122334455667788, 0x99)


def test_special_registers_hold_the_long_mode_set_up(guest: TinyGuest) -> None:
    sregs = guest.vcpu.get_sregs()
    assert sregs.efer & 0x500 == 0x500
    assert sregs.cs.l == 1
    assert sregs.cr3 == 0x2000


def test_msrs_round_trip(guest: TinyGuest) -> None:
    assert guest.vcpu.set_msrs({LSTAR: 0xFFFFFFFF81000000}) == 1
    assert guest.vcpu.get_msrs([LSTAR, EFER])[LSTAR] == 0xFFFFFFFF81000000


def test_cpuid_table_round_trips(guest: TinyGuest) -> None:
    with Kvm() as kvm:
        cpuid = kvm.get_supported_cpuid()
    guest.vcpu.set_cpuid2(cpuid)
    back = guest.vcpu.get_cpuid2()
    assert len(back) == len(cpuid)
    assert {(e.function, e.index) for e in back} == {(e.function, e.index) for e in cpuid}


def test_fpu_lapic_events_xsave_xcrs_and_debug_registers_round_trip(guest: TinyGuest) -> None:
    vcpu = guest.vcpu
    fpu = vcpu.get_fpu()
    fpu.fcw = 0x37F
    vcpu.set_fpu(fpu)
    assert vcpu.get_fpu().fcw == 0x37F
    lapic = vcpu.get_lapic()
    assert bytes(lapic.regs)[0x30] == 0x14  # the LAPIC version register of KVM's xAPIC
    lapic.regs[0x380] = 0x12  # the timer's initial count
    vcpu.set_lapic(lapic)
    assert bytes(vcpu.get_lapic().regs)[0x380:0x384] == b"\x12\0\0\0"
    vcpu.set_vcpu_events(vcpu.get_vcpu_events())
    vcpu.set_xsave(vcpu.get_xsave())
    vcpu.set_xcrs(vcpu.get_xcrs())
    debug = vcpu.get_debugregs()
    debug.db[0] = 0x1000
    vcpu.set_debugregs(debug)
    assert vcpu.get_debugregs().db[0] == 0x1000


def test_mp_state_round_trips(guest: TinyGuest) -> None:
    assert guest.vcpu.get_mp_state() == MpState.RUNNABLE
    guest.vcpu.set_mp_state(MpState.HALTED)
    assert guest.vcpu.get_mp_state() == MpState.HALTED


def test_kvm_clock_can_be_read_and_set(guest: TinyGuest) -> None:
    clock = guest.vm.get_clock()
    clock.clock += 1_000_000_000
    clock.flags = 0
    guest.vm.set_clock(clock)
    assert guest.vm.get_clock().clock >= clock.clock


def test_irqchip_and_pit_state_round_trip(guest: TinyGuest) -> None:
    ioapic = guest.vm.get_irqchip(2)
    guest.vm.set_irqchip(ioapic)
    assert guest.vm.get_irqchip(2).chip.ioapic.base_address == 0xFEC00000
    guest.vm.create_pit2()
    state = guest.vm.get_pit2()
    assert isinstance(state, kvm_pit_state2)
    guest.vm.set_pit2(state)
    guest.vm.set_irq_line(4, True)
    guest.vm.set_irq_line(4, False)


def test_tsc_frequency_is_known(guest: TinyGuest) -> None:
    assert guest.vcpu.get_tsc_khz() > 100_000


def test_binary_statistics_count_the_exits_a_guest_makes() -> None:
    with Kvm() as kvm:
        guest = TinyGuest(kvm, bytes.fromhex("eeeef4"), CpuMode.REAL)  # out; out; hlt
        stats = guest.vcpu.get_stats_fd()
        before = stats.read()
        for _ in range(3):
            guest.vcpu.run()
        after = stats.read()
        vm_stats = guest.vm.get_stats_fd()
        assert "remote_tlb_flush" in vm_stats.names
        vm_stats.close()
        stats.close()
        guest.close()
    exits_after, exits_before = after["exits"], before["exits"]
    assert isinstance(exits_after, int)
    assert isinstance(exits_before, int)
    assert exits_after - exits_before >= 3  # two port writes and the HLT, at least
    assert after["halt_exits"] == 1
    assert isinstance(after["halt_wait_hist"], tuple)
