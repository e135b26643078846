"""The VMM's signal handlers only queue work for the control loop.

A Python signal handler runs in the main thread, between two bytecodes of
whatever that thread was doing, perhaps while it holds a lock. A handler that
takes that lock waits for a thread that will never release it: the main
thread, which it interrupted. So SIGINT and SIGTERM only queue `vmm.shutdown`
(a `queue.SimpleQueue.put`, reentrant by design) and SIGUSR2 only sets a flag
and kicks the vCPUs; the control loop and the vCPU threads do the rest.

Here the signals land while the main thread, serving `vm.info`, holds the
running VM's stop lock (a non-reentrant lock, the one an earlier handler took
through `vm.stop.request`). A handler that blocked would hang the test: a
watchdog turns that into a failure.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import vmm
from vmm.api.actions import Action, ControlError, VmActionError
from vmm.arch.cpuid import CpuTopology
from vmm.config import VmConfig, VmParams, parse_vm_config
from vmm.lifecycle import StopEvent
from vmm.payload import Payload
from vmm.testing import echo_kernel
from vmm.testing.fake_kvm import FakeKvm
from vmm.vm import Vm, VmSpec

CONFIG = parse_vm_config(VmParams(kernel="/k", memory="size=64M"))
WAIT = 10.0


@contextmanager
def deadlock_watchdog(seconds: float = 2.0) -> Iterator[None]:
    """A handler blocked on a lock its own thread holds raises TimeoutError after
    `seconds` (SIGALRM interrupts the lock wait) instead of hanging."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("a signal handler blocked on a lock its own thread holds")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class VmOnFakes:
    """The control loop's `RunningVm` over a real `Vm` on fake KVM; `on_info` runs in the
    control loop's thread (the main thread) each time `vm.info` asks for the devices."""

    def __init__(self, vm: Vm, on_info: Callable[[Vm], None]) -> None:
        self.vm = vm
        self._on_info = on_info

    def start(self) -> None:
        self.vm.start()

    def wait(self, timeout: float | None = None) -> StopEvent | None:
        return self.vm.wait(timeout)

    def stop(self) -> StopEvent:
        return self.vm.shutdown()

    def pause(self) -> None:
        self.vm.pause()

    def resume(self) -> None:
        self.vm.resume()

    def counters(self) -> dict[str, dict[str, int]]:
        return self.vm.counters()

    def device_tree(self) -> dict[str, dict[str, object]]:
        self._on_info(self.vm)
        return self.vm.device_tree()

    def report_vcpu_states(self) -> None:
        self.vm.report_vcpu_states()

    def power_button(self) -> None:
        self.vm.power_button()


class Requests:
    """An API service stand-in: once attached, a thread sends `actions` in order and keeps
    the answers."""

    def __init__(self, *actions: Action) -> None:
        self._actions = actions
        self.answers: list[object] = []
        self._thread: threading.Thread | None = None

    def attach(self, submit: Callable[[Action, object], object]) -> None:
        def send() -> None:
            for action in self._actions:
                try:
                    self.answers.append(submit(action, None))
                except ControlError as error:
                    self.answers.append(error)

        self._thread = threading.Thread(target=send, daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join(WAIT)


def test_signals_landing_while_the_main_thread_holds_the_vm_s_stop_lock_only_queue_work(
    tmp_path: Path,
) -> None:
    kernel = tmp_path / "echo.elf"
    kernel.write_bytes(echo_kernel())
    spec = VmSpec(
        vcpus=2, topology=CpuTopology.flat(2), memory_size=64 << 20, payload=Payload(str(kernel))
    )
    kvm = FakeKvm()
    kicks_at_sigusr2: list[int] = []
    blocked: list[TimeoutError] = []

    def signals_while_holding_the_stop_lock(vm: Vm) -> None:
        try:
            with vm.stop._lock, deadlock_watchdog():  # as inside StopSignal.request
                signal.raise_signal(signal.SIGUSR2)
                kicks_at_sigusr2.extend(vcpu.kicks for vcpu in kvm.vcpus())
                signal.raise_signal(signal.SIGTERM)
        except TimeoutError as error:
            blocked.append(error)

    def launch(config: VmConfig) -> VmOnFakes:
        vm = Vm(spec, start_time=0.0, open_hypervisor=kvm.open)
        return VmOnFakes(vm, signals_while_holding_the_stop_lock)

    # vm.info lands the signals; vmm.shutdown after it ends the test should they be lost.
    requests = Requests(Action.INFO, Action.VMM_SHUTDOWN)
    status = vmm.run(CONFIG, api=requests, launcher=launch)
    assert blocked == []
    assert kicks_at_sigusr2 == [1, 1]  # SIGUSR2 kicked each vCPU to report its registers
    assert status == 0
    assert isinstance(requests.answers[-1], VmActionError)  # SIGTERM had ended the VMM
    assert kvm.open_handles() == []  # the loop stopped the VM and released it
