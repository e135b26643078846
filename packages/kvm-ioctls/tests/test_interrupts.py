"""Interrupts reach a 64-bit guest's handler through irqfd + MSI routing and KVM_SIGNAL_MSI.

The guest enables its LAPIC, waits in HLT (inside the kernel, with the
in-kernel irqchip), and its handler for vector 0x40 stores 0x42 at DATA.
After the interrupt it reads DATA and writes it to port 0x10.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest
from kvm_ioctls import IoOut, Kvm, MsiRoute, VcpuExit, install_kick_handler
from kvm_ioctls.testing import CODE, CpuMode, TinyGuest

pytestmark = pytest.mark.kvm

VECTOR = 0x40
HANDLER = CODE + 0x100
MAIN = bytes.fromhex(
    "b8f000e0fe"  # mov eax, 0xfee000f0     ; LAPIC spurious-interrupt register
    "c700ff010000"  # mov dword [rax], 0x1ff  ; software-enable the LAPIC
    "fb"  # sti
    "f4"  # hlt                     ; woken by the interrupt
    "bb00800000"  # mov ebx, 0x8000        ; DATA
    "8a03"  # mov al, [rbx]
    "66ba1000"  # mov dx, 0x10
    "ee"  # out dx, al
    "f4"  # hlt
)
HANDLER_CODE = bytes.fromhex(
    "bb00800000"  # mov ebx, 0x8000
    "c60342"  # mov byte [rbx], 0x42
    "b8b000e0fe"  # mov eax, 0xfee000b0     ; LAPIC EOI register
    "c70000000000"  # mov dword [rax], 0
    "48cf"  # iretq
)
PROGRAM = MAIN.ljust(HANDLER - CODE, b"\x90") + HANDLER_CODE


def _run_until_port_write(guest: TinyGuest, trigger: Callable[[], None]) -> VcpuExit:
    """Run the vCPU in a thread, fire `trigger` once it halts, return its first exit."""
    install_kick_handler()
    result: list[VcpuExit] = []
    runner = threading.Thread(target=lambda: result.append(guest.vcpu.run()))
    runner.start()
    runner.join(0.3)  # the guest is now halted inside KVM_RUN
    assert runner.is_alive(), f"the guest should wait for the interrupt, but exited: {result}"
    trigger()
    runner.join(10)
    if runner.is_alive():
        guest.vcpu.kick()
        runner.join()
    return result[0]


def _interrupt_guest(kvm: Kvm) -> TinyGuest:
    guest = TinyGuest(kvm, PROGRAM, CpuMode.LONG, irqchip=True)
    guest.set_interrupt_gate(VECTOR, HANDLER)
    return guest


def test_irqfd_with_msi_route_runs_the_guest_handler() -> None:
    with Kvm() as kvm:
        guest = _interrupt_guest(kvm)
        guest.vm.set_gsi_routing([MsiRoute(gsi=5, address=0xFEE00000, data=VECTOR)])
        eventfd = os.eventfd(0)
        guest.vm.register_irqfd(eventfd, gsi=5)
        exit_ = _run_until_port_write(guest, lambda: os.eventfd_write(eventfd, 1))
        assert isinstance(exit_, IoOut)
        assert (exit_.port, bytes(exit_.data)) == (0x10, b"\x42")
        guest.vm.unregister_irqfd(eventfd, gsi=5)
        os.close(eventfd)
        guest.close()


def test_signal_msi_runs_the_guest_handler() -> None:
    with Kvm() as kvm:
        guest = _interrupt_guest(kvm)
        delivered: list[int] = []
        exit_ = _run_until_port_write(
            guest, lambda: delivered.append(guest.vm.signal_msi(0xFEE00000, VECTOR))
        )
        assert delivered == [1]
        assert isinstance(exit_, IoOut)
        assert bytes(exit_.data) == b"\x42"
        guest.close()
