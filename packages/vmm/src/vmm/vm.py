"""One virtual machine: KVM VM, guest RAM, payload, legacy devices and vCPU threads.

Created in the order KVM needs (identity map and irqchip before vCPUs),
started with `start()`, and stopped, whoever decides it (the guest, a
signal, an error), through its `StopSignal`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from kvm_ioctls import CpuId, Kvm, KvmError, install_kick_handler
from vm_devices import MmioBus, PioBus
from vm_devices.legacy import SERIAL_COM1_BASE, SERIAL_COM1_IRQ, SERIAL_LENGTH
from vm_memory import MappingOptions, VmMemoryError

from vmm.acpi import AcpiPlatform, NumaNode, write_acpi_tables
from vmm.acpi.devices import GED_IRQ, AcpiDevices
from vmm.arch import layout
from vmm.arch.cpuid import DEFAULT_MAX_PHYS_BITS, CpuTopology, guest_phys_bits
from vmm.arch.mptable import mptable_bytes
from vmm.arch.smbios import SMBIOS_START, SmbiosInfo, smbios_bytes
from vmm.cpus import create_vcpus
from vmm.device_manager import MMIO32_SIZE, MMIO32_START, DeviceManager, DeviceSpec, device_node
from vmm.errors import VmmError
from vmm.legacy import LegacyDevices
from vmm.lifecycle import StopEvent, StopReason, StopSignal
from vmm.memory import create_guest_ram, map_into_vm
from vmm.memory_zones import RamZone, create_zoned_ram
from vmm.payload import Payload, load_payload
from vmm.vcpu import VcpuThread

if TYPE_CHECKING:
    from vmm.hypervisor import Hypervisor

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
    max_phys_bits: int = DEFAULT_MAX_PHYS_BITS
    vcpu_affinity: tuple[tuple[int, tuple[int, ...]], ...] = ()  # (vCPU, host CPUs)
    shared_memory: bool = False
    memory_options: MappingOptions | None = None  # guest_ram_options() when None
    serial_enabled: bool = True
    devices: tuple[DeviceSpec, ...] = ()
    memory_zones: tuple[RamZone, ...] = ()
    """`--memory-zone`s: guest RAM made of these (of `memory_size` in all) instead."""
    numa: tuple[NumaNode, ...] = ()
    smbios: SmbiosInfo = field(default_factory=SmbiosInfo)


def acpi_platform(spec: VmSpec, supported_cpuid: CpuId) -> AcpiPlatform:
    """The machine `spec` builds, as its ACPI tables describe it."""
    phys_bits = guest_phys_bits(supported_cpuid, spec.max_phys_bits)
    return AcpiPlatform(
        vcpus=spec.vcpus,
        mmio32=(MMIO32_START, MMIO32_START + MMIO32_SIZE - 1),
        mmio64=layout.mmio64_window(spec.memory_size, phys_bits),
        ged_irq=GED_IRQ,
        serial=spec.serial_enabled,
        numa=spec.numa,
    )


class Vm:
    """One VM: KVM's VM, guest RAM, the buses and devices, and the vCPU threads.

    Every resource is taken onto one ExitStack as it is made, so a VM that
    fails half-built releases everything it had (fds, guest RAM, taps), and
    `shutdown` releases the same.
    """

    def __init__(
        self,
        spec: VmSpec,
        *,
        start_time: float,
        serial_output: BinaryIO | None = None,
        open_hypervisor: Callable[[], Hypervisor] = Kvm,
    ) -> None:
        """`open_hypervisor` opens /dev/kvm; tests give `vmm.testing.fake_kvm`'s fakes instead."""
        self.spec = spec
        self.stop = StopSignal()
        self._threads: list[VcpuThread] = []
        self._resources = contextlib.ExitStack()
        try:
            self._build(spec, start_time, serial_output, open_hypervisor)
        except BaseException:
            self._resources.close()
            raise

    def _build(
        self,
        spec: VmSpec,
        start_time: float,
        serial_output: BinaryIO | None,
        open_hypervisor: Callable[[], Hypervisor],
    ) -> None:
        take = self._resources.callback
        try:
            self._kvm = open_hypervisor()
            take(self._kvm.close)
            self._vm = self._kvm.create_vm()
            take(self._vm.close)
            self._vm.set_tss_address(TSS_ADDRESS)
            self._vm.set_identity_map_address(IDENTITY_MAP_ADDRESS)
            self._vm.create_irq_chip()
            self._vm.create_pit2()
            supported_cpuid = self._kvm.get_supported_cpuid()
        except KvmError as error:
            raise VmmError(f"cannot create the VM: {error}") from None
        if spec.memory_zones:
            self.memory = create_zoned_ram(spec.memory_zones)
        else:
            self.memory = create_guest_ram(
                spec.memory_size, shared=spec.shared_memory, options=spec.memory_options
            )
        take(self._release_memory)
        map_into_vm(self._vm, self.memory)
        rsdp = write_acpi_tables(self.memory, acpi_platform(spec, supported_cpuid))
        boot = load_payload(self.memory, spec.payload, spec.memory_size, rsdp_address=rsdp)
        self.memory.write(layout.EBDA, mptable_bytes(spec.vcpus))  # for guests without ACPI
        self.memory.write(SMBIOS_START, smbios_bytes(spec.smbios))
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
        take(self.legacy.close)
        self.acpi = AcpiDevices(self._vm, self.pio_bus, self.mmio_bus, self.stop)
        take(self.acpi.close)
        self.devices = DeviceManager(self._vm, self.memory, self.pio_bus, self.mmio_bus)
        take(self.devices.close)
        # Devices given a slot go first, so that none is taken by one placed freely.
        for device in sorted(spec.devices, key=lambda d: d.pci_slot is None):
            self.devices.add(device)
        vcpus = create_vcpus(
            self._vm,
            spec.vcpus,
            supported_cpuid=supported_cpuid,
            topology=spec.topology,
            max_phys_bits=spec.max_phys_bits,
            boot=boot,
            memory=self.memory,
        )
        take(self._close_stopped_vcpus)
        affinity = dict(spec.vcpu_affinity)
        self._threads = [
            VcpuThread(v, self.pio_bus, self.mmio_bus, self.stop, host_cpus=affinity.get(v.id))
            for v in vcpus
        ]

    def _close_stopped_vcpus(self) -> None:
        for thread in self._threads:
            if not thread.thread.is_alive():
                thread.vcpu.close()

    def _release_memory(self) -> None:
        """Unmap guest RAM, unless a vCPU thread that would not stop may still touch it."""
        if any(thread.thread.is_alive() for thread in self._threads):
            log.warning("guest memory stays mapped: a vCPU thread did not stop")
            return
        try:
            self.memory.close()
        except VmMemoryError as error:  # a view still held somewhere: better kept than freed
            log.warning("guest memory stays mapped: %s", error)

    def start(self) -> None:
        """Start every vCPU thread; vCPU 0 enters the payload, the others wait for SIPI."""
        install_kick_handler()
        for thread in self._threads:
            thread.start()

    def power_button(self) -> None:
        """Press the ACPI power button (`vm.power-button`)."""
        self.acpi.power_button()

    def report_vcpu_states(self) -> None:
        """Each vCPU logs its registers (SIGUSR2 asks for it, like QEMU's `info registers`)."""
        for thread in self._threads:
            thread.report_state()

    def wait(self, timeout: float | None = None) -> StopEvent | None:
        return self.stop.wait(timeout)

    def shutdown(self) -> StopEvent:
        """Stop the vCPUs (kick, join) and release KVM, the devices and guest memory."""
        self.stop.request(StopReason.SIGNAL, "stopped by the VMM")
        for thread in self._threads:
            thread.kick()
        deadline = time.monotonic() + VCPU_JOIN_TIMEOUT
        for thread in self._threads:
            if not thread.wait_stopped(max(0.0, deadline - time.monotonic())):
                log.warning("vCPU %d did not stop within %.0f s", thread.vcpu.id, VCPU_JOIN_TIMEOUT)
        self._resources.close()
        event = self.stop.wait(0)
        assert event is not None
        return event

    # ------------------------------------------------------------ pause, resume, reports
    def pause(self, timeout: float = VCPU_JOIN_TIMEOUT) -> None:
        """Park every vCPU outside KVM_RUN, save the guest clock, then pause the devices'
        workers (CH's `vm.pause`, in its order).

        Returns once no vCPU runs guest code and no device serves a queue; `resume()`
        continues where they stopped.
        """
        for thread in self._threads:
            thread.request_pause()
        deadline = time.monotonic() + timeout
        late = [
            t.vcpu.id
            for t in self._threads
            if not t.wait_parked(max(0.0, deadline - time.monotonic()))
        ]
        if late:
            self.resume()
            raise VmmError(f"vCPU(s) {late} did not pause within {timeout:.0f} s")
        try:
            clock = self._vm.get_clock()
            clock.flags = 0  # KVM_SET_CLOCK takes none of the flags GET_CLOCK reports
            self._paused_clock: object = clock
        except KvmError as error:
            log.debug("the guest clock cannot be saved: %s", error)
            self._paused_clock = None
        try:
            self.devices.pause()
        except VmmError:
            self.resume()
            raise

    def resume(self) -> None:
        """Put the saved guest clock back, resume the devices, then let the parked
        vCPUs run again."""
        clock = getattr(self, "_paused_clock", None)
        self._paused_clock = None
        if clock is not None:
            try:
                self._vm.set_clock(clock)
            except KvmError as error:
                log.warning("the guest clock cannot be restored: %s", error)
        self.devices.resume()
        for thread in self._threads:
            thread.resume()

    @property
    def paused(self) -> bool:
        return bool(self._threads) and all(t.parked for t in self._threads)

    def register_device(
        self,
        device_id: str,
        *,
        resources: Sequence[Mapping[str, object]] = (),
        counters: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        """Name a device for `vm.info`'s device tree and, with `counters`, for `vm.counters`."""
        registry: dict[
            str, tuple[list[Mapping[str, object]], Callable[[], Mapping[str, int]] | None]
        ]
        registry = self.__dict__.setdefault("_device_registry", {})
        registry[device_id] = (list(resources), counters)

    def counters(self) -> dict[str, dict[str, int]]:
        """Each registered device's counters (CH reports its virtio devices' here)."""
        registry = self.__dict__.get("_device_registry", {})
        counters = self.devices.counters()
        counters.update(
            (device_id, dict(source()))
            for device_id, (_, source) in registry.items()
            if source is not None
        )
        return counters

    def device_tree(self) -> dict[str, dict[str, object]]:
        """The devices as CH's `DeviceNode`s: id, resources, parent, children, pci_bdf."""
        nodes: dict[str, dict[str, object]] = {}
        if self.legacy.serial is not None:
            nodes["__serial"] = device_node(
                "__serial",
                [
                    {"PioAddressRange": {"base": SERIAL_COM1_BASE, "size": SERIAL_LENGTH}},
                    {"LegacyIrq": SERIAL_COM1_IRQ},
                ],
            )
        nodes.update(self.devices.device_nodes())
        for device_id, (resources, _) in self.__dict__.get("_device_registry", {}).items():
            nodes[device_id] = device_node(device_id, resources)
        return nodes
