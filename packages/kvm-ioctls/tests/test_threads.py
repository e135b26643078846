"""vCPUs in threads: parallel vCPUs, KVM_RUN without the GIL, kicks."""

from __future__ import annotations

import threading
import time

import pytest
from kvm_ioctls import Intr, IoOut, Kvm, install_kick_handler
from kvm_ioctls.testing import CODE, CpuMode, TinyGuest

pytestmark = pytest.mark.kvm

SPIN = bytes.fromhex("ebfe")  # 1: jmp 1b
# real mode: 1: out dx, al; jmp 1b   (dx is set per vCPU)
OUT_LOOP = bytes.fromhex("eeebfd")


def test_two_vcpus_run_in_two_threads_and_each_sees_its_own_port() -> None:
    exits_each = 2000
    with Kvm() as kvm:
        guest = TinyGuest(kvm, OUT_LOOP, CpuMode.REAL)
        second = guest.vm.create_vcpu(1)
        guest.enter_mode(second, CpuMode.REAL)
        ports: dict[int, set[int]] = {0: set(), 1: set()}
        for vcpu in (guest.vcpu, second):
            regs = vcpu.get_regs()
            regs.rdx = 0x100 + vcpu.id
            vcpu.set_regs(regs)

        def loop(index: int) -> None:
            vcpu = (guest.vcpu, second)[index]
            for _ in range(exits_each):
                exit_ = vcpu.run()
                assert isinstance(exit_, IoOut)
                ports[index].add(exit_.port)

        threads = [threading.Thread(target=loop, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert ports == {0: {0x100}, 1: {0x101}}
        second.close()
        guest.close()


def test_kvm_run_releases_the_gil_while_the_guest_runs() -> None:
    install_kick_handler()
    with Kvm() as kvm:
        guest = TinyGuest(kvm, SPIN, CpuMode.REAL)
        entered = threading.Event()

        def run() -> None:
            entered.set()
            guest.vcpu.run()

        runner = threading.Thread(target=run)
        runner.start()
        entered.wait()
        time.sleep(0.05)
        count = 0
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            count += 1
        assert runner.is_alive(), "the spinning guest never exits on its own"
        guest.vcpu.kick()
        runner.join()
        # Holding the GIL in KVM_RUN would freeze this thread until the kick.
        assert count > 10_000
        guest.close()


def test_kick_interrupts_a_running_vcpu_and_run_resumes_after_clearing_it() -> None:
    install_kick_handler()
    with Kvm() as kvm:
        guest = TinyGuest(kvm, SPIN, CpuMode.REAL)
        result: list[object] = []
        runner = threading.Thread(target=lambda: result.append(guest.vcpu.run()))
        runner.start()
        time.sleep(0.1)
        guest.vcpu.kick()
        runner.join(5)
        assert not runner.is_alive()
        assert result == [Intr()]
        assert guest.vcpu.get_regs().rip == CODE  # still spinning on its jmp

        guest.vcpu.set_immediate_exit(True)
        assert isinstance(guest.vcpu.run(), Intr), "immediate_exit returns at once"
        guest.vcpu.set_immediate_exit(False)
        guest.close()


def test_kick_before_run_is_not_lost() -> None:
    install_kick_handler()
    with Kvm() as kvm:
        guest = TinyGuest(kvm, SPIN, CpuMode.REAL)
        guest.vcpu.kick()  # no thread has run it yet: only immediate_exit is set
        assert isinstance(guest.vcpu.run(), Intr)
        guest.close()
