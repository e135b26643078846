"""One virtual machine: KVM VM, guest RAM, payload, legacy devices and vCPU threads.

Created in the order KVM needs (identity map and irqchip before vCPUs),
started with `start()`, and stopped, whoever decides it (the guest, a
signal, an error), through its `StopSignal`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO

from kvm_ioctls import Kvm, KvmError, install_kick_handler
from vm_devices import MmioBus, PioBus

from vmm.arch import layout
from vmm.arch.cpuid import CpuTopology
from vmm.arch.mptable import mptable_bytes
from vmm.cpus import create_vcpus
from vmm.errors import VmmError
from vmm.legacy import LegacyDevices
from vmm.lifecycle import StopEvent, StopReason, StopSignal
from vmm.memory import create_guest_ram, map_into_vm
from vmm.payload import Payload, load_payload
from vmm.vcpu import VcpuThread

log = logging.getLogger(__name__)

TSS_ADDRESS = 0xFFFB_D000  # three pages KVM needs on Intel, just below the BIOS area
IDENTITY_MAP_ADDRESS = 0xFFFB_C000
VCPU_JOIN_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class VmSpec:
    """What this VMM needs to build a VM, taken from the user's `VmConfig`."""

    vcpus: int
    topology: CpuTopology
    memory_size: int
    payload: Payload
    shared_memory: bool = False
    hugepages: bool = False
    thp: bool = True
    serial_enabled: bool = True


class Vm:
    def __init__(
        self, spec: VmSpec, *, start_time: float, serial_output: BinaryIO | None = None
    ) -> None:
        self.spec = spec
        self.stop = StopSignal()
        try:
            self._kvm = Kvm()
            self._vm = self._kvm.create_vm()
            self._vm.set_tss_address(TSS_ADDRESS)
            self._vm.set_identity_map_address(IDENTITY_MAP_ADDRESS)
            self._vm.create_irq_chip()
            self._vm.create_pit2()
        except KvmError as error:
            raise VmmError(f"cannot create the VM: {error}") from None
        self.memory = create_guest_ram(
            spec.memory_size, shared=spec.shared_memory, hugepages=spec.hugepages, thp=spec.thp
        )
        map_into_vm(self._vm, self.memory)
        boot = load_payload(self.memory, spec.payload, spec.memory_size)
        self.memory.write(layout.EBDA, mptable_bytes(spec.vcpus))
        self.pio_bus = PioBus()
        self.mmio_bus = MmioBus()
        self.legacy = LegacyDevices(
            self._vm,
            self.pio_bus,
            self.stop,
            memory_size=spec.memory_size,
            start_time=start_time,
            serial_output=serial_output,
            serial_enabled=spec.serial_enabled,
        )
        vcpus = create_vcpus(
            self._vm,
            spec.vcpus,
            supported_cpuid=self._kvm.get_supported_cpuid(),
            topology=spec.topology,
            boot=boot,
            memory=self.memory,
        )
        self._threads = [VcpuThread(v, self.pio_bus, self.mmio_bus, self.stop) for v in vcpus]

    def start(self) -> None:
        """Start every vCPU thread; vCPU 0 enters the payload, the others wait for SIPI."""
        install_kick_handler()
        for thread in self._threads:
            thread.start()

    def report_vcpu_states(self) -> None:
        """Each vCPU logs its registers (SIGUSR2 asks for it, like QEMU's `info registers`)."""
        for thread in self._threads:
            thread.report_state()

    def wait(self, timeout: float | None = None) -> StopEvent | None:
        return self.stop.wait(timeout)

    def shutdown(self) -> StopEvent:
        """Stop the vCPUs (kick, join) and release KVM and guest memory."""
        self.stop.request(StopReason.SIGNAL, "stopped by the VMM")
        for thread in self._threads:
            thread.kick()
        for thread in self._threads:
            thread.join(VCPU_JOIN_TIMEOUT)
            if thread.thread.is_alive():
                log.warning("vCPU %d did not stop within %.0f s", thread.vcpu.id, VCPU_JOIN_TIMEOUT)
        self.legacy.close()
        for thread in self._threads:
            if not thread.thread.is_alive():
                thread.vcpu.close()
        self._vm.close()
        self._kvm.close()
        event = self.stop.wait(0)
        assert event is not None
        return event
