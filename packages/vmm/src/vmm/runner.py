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

from vmm.arch.cpuid import CpuTopology
from vmm.config import ConsoleOutputMode, VmConfig
from vmm.errors import VmmError
from vmm.legacy import open_serial_output
from vmm.lifecycle import StopReason
from vmm.payload import Payload
from vmm.vm import Vm, VmSpec

log = logging.getLogger(__name__)

_SERIAL_MODES = {
    ConsoleOutputMode.TTY: "tty",
    ConsoleOutputMode.FILE: "file",
    ConsoleOutputMode.NULL: "null",
    ConsoleOutputMode.OFF: "off",
}


def vm_spec(config: VmConfig) -> VmSpec:
    """The parts of a validated `VmConfig` this VMM builds a VM from."""
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
        payload=Payload(kernel, payload.cmdline or "", payload.initramfs),
        shared_memory=config.memory.shared,
        hugepages=config.memory.hugepages,
        thp=config.memory.thp,
        serial_enabled=config.serial.mode is not ConsoleOutputMode.OFF,
    )


def run_vm(config: VmConfig, *, start_time: float | None = None) -> int:
    """Boot the VM, wait until it stops, return the exit status (0: clean stop)."""
    start = time.monotonic() if start_time is None else start_time
    spec = vm_spec(config)
    serial_mode = _SERIAL_MODES.get(config.serial.mode, "off")
    serial_output = open_serial_output(serial_mode, config.serial.file)
    try:
        vm = Vm(spec, start_time=start, serial_output=serial_output)
    except BaseException:
        if serial_output is not None:
            serial_output.close()
        raise
    with contextlib.ExitStack() as cleanup:
        if serial_output is not None:
            cleanup.callback(serial_output.close)
        _stop_on_signals(vm, cleanup)
        if serial_mode == "tty" and vm.legacy.serial is not None:
            _attach_stdin(vm, cleanup)
        vm.start()
        log.info("VM started: %d vCPU(s), %d MiB", spec.vcpus, spec.memory_size >> 20)
        vm.wait()
        event = vm.shutdown()
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
