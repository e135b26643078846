"""Run one VM from a `VmConfig` until it stops, the way the `cloud-hypervisor` command does.

Sets up the serial console (raw terminal and an input thread for `--serial tty`),
turns SIGINT/SIGTERM into a clean stop, and maps the stop reason to the
command's exit status.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import time
from types import FrameType
from typing import TYPE_CHECKING

from vmm.arch.cpuid import CpuTopology
from vmm.config import ConsoleOutputMode, VmConfig
from vmm.errors import VmmError
from vmm.legacy import open_serial_output
from vmm.lifecycle import StopEvent, StopReason
from vmm.memory import guest_ram_options
from vmm.payload import Payload
from vmm.virtio_devices import device_specs
from vmm.vm import Vm, VmSpec

if TYPE_CHECKING:
    from vmm.api.service import ApiService
    from vmm.config.vmm_options import EventMonitorConfig

log = logging.getLogger(__name__)

_SERIAL_MODES = {
    ConsoleOutputMode.TTY: "tty",
    ConsoleOutputMode.FILE: "file",
    ConsoleOutputMode.NULL: "null",
    ConsoleOutputMode.OFF: "off",
}


def vm_spec(config: VmConfig) -> VmSpec:
    """The parts of a validated `VmConfig` this VMM builds a VM from; refuses
    (ValidationError) a config that asks for anything this VMM does not build."""
    from vmm.config.capabilities import refuse_unbuilt

    refuse_unbuilt(config)
    payload = config.payload
    if payload is None or (payload.kernel is None and payload.firmware is None):
        raise VmmError("no payload: give --kernel or --firmware")
    kernel = payload.kernel if payload.kernel is not None else payload.firmware
    assert kernel is not None
    cpus = config.cpus
    topology = cpus.topology
    return VmSpec(
        vcpus=cpus.boot_vcpus,
        topology=(
            CpuTopology(
                topology.threads_per_core,
                topology.cores_per_die,
                topology.dies_per_package,
                topology.packages,
            )
            if topology is not None
            else CpuTopology.flat(cpus.max_vcpus)
        ),
        memory_size=config.memory.size,
        max_phys_bits=cpus.max_phys_bits,
        vcpu_affinity=tuple((a.vcpu, tuple(a.host_cpus)) for a in cpus.affinity or ()),
        payload=Payload(kernel, payload.cmdline or "", payload.initramfs),
        shared_memory=config.memory.shared,
        memory_options=guest_ram_options(
            hugepages=config.memory.hugepages,
            hugepage_size=config.memory.hugepage_size,
            thp=config.memory.thp,
            mergeable=config.memory.mergeable,
            prefault=config.memory.prefault,
        ),
        serial_enabled=config.serial.mode is not ConsoleOutputMode.OFF,
        devices=device_specs(config),
    )


class LaunchedVm:
    """A started VM with its serial console plumbing; `stop()` tears all of it down.

    The unit both the plain command (`run_vm`) and the API's `vm.boot` and
    `vm.reboot` start: a reboot stops one and launches another from the same config.
    """

    def __init__(self, config: VmConfig, *, start_time: float) -> None:
        self.config = config
        spec = vm_spec(config)
        serial_mode = _SERIAL_MODES.get(config.serial.mode, "off")
        self._cleanup = contextlib.ExitStack()
        serial_output = open_serial_output(serial_mode, config.serial.file)
        if serial_output is not None:
            self._cleanup.callback(serial_output.close)
        try:
            self.vm = Vm(spec, start_time=start_time, serial_output=serial_output)
        except BaseException:
            self._cleanup.close()
            raise
        self._stop_event: StopEvent | None = None
        self._attach_input = serial_mode == "tty" and self.vm.legacy.serial is not None

    def start(self) -> None:
        """Start the vCPUs (from the main thread: it installs the kick signal handler)."""
        try:
            if self._attach_input:
                _attach_stdin(self.vm, self._cleanup)
            self.vm.start()
        except BaseException:
            self.stop()
            raise
        spec = self.vm.spec
        log.info("VM started: %d vCPU(s), %d MiB", spec.vcpus, spec.memory_size >> 20)

    def wait(self, timeout: float | None = None) -> StopEvent | None:
        return self.vm.wait(timeout)

    def stop(self) -> StopEvent:
        """Stop the vCPUs, free the VM, close the console; safe to call twice."""
        try:
            if self._stop_event is None:
                self._stop_event = self.vm.shutdown()
            return self._stop_event
        finally:
            self._cleanup.close()

    def pause(self) -> None:
        self.vm.pause()

    def resume(self) -> None:
        self.vm.resume()

    def counters(self) -> dict[str, dict[str, int]]:
        return self.vm.counters()

    def device_tree(self) -> dict[str, dict[str, object]]:
        return self.vm.device_tree()


def boot(config: VmConfig, *, start_time: float | None = None) -> LaunchedVm:
    """Build `config`'s VM and start its vCPUs (call it from the main thread, which
    takes the vCPU kick signal); refuses what this VMM does not build. The VM runs
    until the guest stops it or `stop()` is called."""
    launched = LaunchedVm(config, start_time=time.monotonic() if start_time is None else start_time)
    launched.start()
    return launched


def run_vm(config: VmConfig, *, start_time: float | None = None) -> int:
    """Boot the VM, wait until it stops, return the exit status (0: clean stop)."""
    start = time.monotonic() if start_time is None else start_time
    launched = LaunchedVm(config, start_time=start)
    vm = launched.vm
    with contextlib.ExitStack() as cleanup:
        _stop_on_signals(vm, cleanup)
        launched.start()
        vm.wait()
        event = launched.stop()
    if event.reason is StopReason.ERROR:
        log.error("%s", event.detail)
    else:
        log.info("VM stopped: %s (%s)", event.reason.value, event.detail)
    return event.exit_status


def _stop_on_signals(vm: Vm, cleanup: contextlib.ExitStack) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        vm.stop.request(StopReason.SIGNAL, f"received {signal.Signals(signum).name}")

    def report(signum: int, frame: FrameType | None) -> None:
        vm.report_vcpu_states()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.signal(signum, stop)
        cleanup.callback(signal.signal, signum, previous)
    previous_usr2 = signal.signal(signal.SIGUSR2, report)
    cleanup.callback(signal.signal, signal.SIGUSR2, previous_usr2)


def _attach_stdin(vm: Vm, cleanup: contextlib.ExitStack) -> None:
    """Feed stdin to COM1: in raw mode when it is a terminal (restored at exit)."""
    from vm_devices.legacy.terminal import InputPump, RawTerminal

    serial = vm.legacy.serial
    assert serial is not None
    stdin = 0
    try:
        mode = os.fstat(stdin).st_mode
    except OSError:
        return
    if os.isatty(stdin):
        cleanup.enter_context(RawTerminal(stdin))
    elif not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return  # a regular file or /dev/null: nothing to wait for
    cleanup.enter_context(InputPump(stdin, serial))


def run_vmm(
    config: VmConfig | None,
    *,
    api: ApiService | None = None,
    event_monitor: EventMonitorConfig | None = None,
    no_shutdown: bool = False,
    start_time: float | None = None,
) -> int:
    """Run the VMM's control loop (CH with `--api-socket` or `--event-monitor`).

    With `api`, the VM is created and booted through the API (or from
    `config`, when given) and rebooted on a guest reset, as CH does; without
    it, `config` is booted and a guest reset ends the VMM with status 0, as
    the plain command does.
    """
    from vmm.control import Vmm
    from vmm.events import open_event_monitor

    start = time.monotonic() if start_time is None else start_time
    events = (
        None
        if event_monitor is None
        else open_event_monitor(path=event_monitor.path, fd=event_monitor.fd, start=start)
    )
    vmm = Vmm(
        events=events,
        no_shutdown=no_shutdown,
        start_time=start,
        exit_on_reset=api is None,
    )
    with contextlib.ExitStack() as cleanup:
        if events is not None:
            cleanup.callback(events.close)
        if api is not None:
            cleanup.callback(api.close)
            api.attach(vmm.submit)
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(signum, lambda signum, frame: vmm.request_shutdown())
            cleanup.callback(signal.signal, signum, previous)
        return vmm.run(config)
