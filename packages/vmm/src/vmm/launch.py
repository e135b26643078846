"""Build one VM from a validated `VmConfig` and start it, with its serial console plumbing.

The one place a config becomes a VM: the control loop (`vmm.control.Vmm`)
launches every VM through here, whether the command line or `vm.boot` asked
for it, and so does `vmm.boot()` for a program that drives a VM itself.
A config that asks for something this VMM does not build is refused here,
before anything is built.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time

from vmm.acpi import NumaNode
from vmm.arch.cpuid import CpuTopology
from vmm.arch.smbios import SmbiosInfo
from vmm.config import ConsoleOutputMode, VmConfig
from vmm.errors import VmmError
from vmm.legacy import open_serial_output
from vmm.lifecycle import StopEvent
from vmm.memory import guest_ram_options
from vmm.memory_zones import RamZone, lay_out
from vmm.payload import Payload
from vmm.virtio_devices import device_specs
from vmm.vm import Vm, VmSpec

__all__ = ["LaunchedVm", "boot", "vm_spec"]

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
    zones = ram_zones(config)
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
        memory_size=config.memory.total_size(),
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
        memory_zones=zones,
        numa=numa_nodes(config, zones),
        smbios=smbios_info(config),
    )


def smbios_info(config: VmConfig) -> SmbiosInfo:
    """`--platform`'s DMI strings (CH's defaults for what is not given)."""
    return SmbiosInfo() if config.platform is None else SmbiosInfo.of(config.platform)


def ram_zones(config: VmConfig) -> tuple[RamZone, ...]:
    """The `--memory-zone`s, each with the mapping options its keys ask for."""
    return tuple(
        RamZone(
            zone.id,
            zone.size,
            file=zone.file,
            shared=zone.shared,
            options=guest_ram_options(
                hugepages=zone.hugepages,
                hugepage_size=zone.hugepage_size,
                thp=config.memory.thp,
                mergeable=zone.mergeable,
                prefault=zone.prefault,
            ),
        )
        for zone in config.memory.zones or ()
    )


def numa_nodes(config: VmConfig, zones: tuple[RamZone, ...]) -> tuple[NumaNode, ...]:
    """`--numa` as the SRAT/SLIT see it: each node's vCPUs, its zones' RAM, its distances."""
    pieces = lay_out(zones)
    return tuple(
        NumaNode(
            node.guest_numa_id,
            cpus=tuple(node.cpus or ()),
            memory=tuple(
                (piece.start, piece.size)
                for piece in pieces
                if piece.zone in (node.memory_zones or ())
            ),
            distances=tuple((d.destination, d.distance) for d in node.distances or ()),
        )
        for node in sorted(config.numa or (), key=lambda node: node.guest_numa_id)
    )


class LaunchedVm:
    """A built VM with its serial console plumbing; `stop()` tears all of it down.

    What the control loop starts for `vm.boot` (and again for each reboot,
    from the same config). With `--serial tty`, `start()` puts the terminal in
    raw mode and pumps stdin into COM1, and `stop()` gives the terminal back:
    the console belongs to the VM, so a VM the API boots gets it too.
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

    def report_vcpu_states(self) -> None:
        self.vm.report_vcpu_states()

    def power_button(self) -> None:
        self.vm.power_button()


def boot(config: VmConfig, *, start_time: float | None = None) -> LaunchedVm:
    """Build `config`'s VM and start its vCPUs (call it from the main thread, which
    takes the vCPU kick signal); refuses what this VMM does not build. The VM runs
    until the guest stops it or `stop()` is called."""
    launched = LaunchedVm(config, start_time=time.monotonic() if start_time is None else start_time)
    launched.start()
    return launched


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
