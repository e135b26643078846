"""KVM's GSI routing table follows the guest's MSI-X tables: the irqchip's own routes, then one
MSI route per unmasked vector, written whole on every change (no KVM: `vmm.testing.fake_kvm`)."""

from __future__ import annotations

import logging

import pytest
from kvm_ioctls import MsiRoute
from vmm.errors import VmmError
from vmm.interrupts import IOAPIC_PINS, MAX_GSI, GsiRouting, default_irqchip_routes
from vmm.testing.fake_kvm import FakeKvm, FakeVm

APIC = 0xFEE0_0000


def _vm(kvm: FakeKvm | None = None) -> FakeVm:
    return (kvm or FakeKvm()).create_vm()


def _writes(vm: FakeVm) -> int:
    return sum(call.method == "set_gsi_routing" for call in vm.kvm.calls)


def test_msi_gsis_are_handed_out_above_the_ioapic_pins_in_blocks() -> None:
    routing = GsiRouting(_vm())
    assert (routing.allocate(3), routing.allocate(2)) == (IOAPIC_PINS, IOAPIC_PINS + 3)


def test_gsis_run_out_at_the_table_size() -> None:
    routing = GsiRouting(_vm())
    routing.allocate(MAX_GSI - IOAPIC_PINS)
    with pytest.raises(VmmError, match="out of interrupt routes"):
        routing.allocate(1)


def test_an_unmasked_vector_adds_its_route_after_the_irqchip_routes() -> None:
    vm = _vm()
    routing = GsiRouting(vm)
    routing.msi_updater(first_gsi=30)(1, APIC, 0x41, False)  # vector 1: GSI 31
    assert vm.gsi_routes == [*default_irqchip_routes(), MsiRoute(31, APIC, 0x41)]


def test_routes_are_written_in_gsi_order() -> None:
    vm = _vm()
    routing = GsiRouting(vm)
    routing.set_msi(40, APIC, 0x42, masked=False)
    routing.set_msi(30, APIC, 0x41, masked=False)
    assert [route.gsi for route in vm.gsi_routes[-2:]] == [30, 40]


def test_a_masked_vector_drops_its_route() -> None:
    vm = _vm()
    routing = GsiRouting(vm)
    routing.set_msi(30, APIC, 0x41, masked=False)
    routing.set_msi(30, APIC, 0x41, masked=True)
    assert vm.gsi_routes == default_irqchip_routes()


def test_an_unchanged_route_or_an_absent_masked_one_is_not_written_again() -> None:
    vm = _vm()
    routing = GsiRouting(vm)
    routing.set_msi(30, APIC, 0x41, masked=False)
    routing.set_msi(30, APIC, 0x41, masked=False)
    routing.set_msi(31, APIC, 0x42, masked=True)
    assert _writes(vm) == 1


def test_a_table_kvm_refuses_is_logged_not_raised_into_the_vcpu(
    caplog: pytest.LogCaptureFixture,
) -> None:
    vm = _vm(FakeKvm(fail_at=("set_gsi_routing", 1)))
    routing = GsiRouting(vm)
    with caplog.at_level(logging.ERROR, logger="vmm.interrupts"):
        routing.set_msi(30, APIC, 0x41, masked=False)
    assert "cannot update the interrupt routes: set_gsi_routing failed" in caplog.text
