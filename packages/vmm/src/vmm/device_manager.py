"""The VM's PCI bus and its virtio devices, built from the user's `--disk`, `--net`, `--rng` and
`--console` options.

Each device sits behind a modern virtio-pci function: its BAR on the MMIO bus,
each queue's notify address registered with KVM as an ioeventfd (a guest kick
wakes the device's worker without a vCPU exit), each MSI-X vector an irqfd on
a GSI whose MSI route follows the guest's MSI-X table. The guest finds the bus
through CONF1 (ports 0xCF8-0xCFF) and ECAM at `layout.PCI_MMCONFIG_START`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kvm_ioctls import KvmError, MmioAddress
from vm_devices import MmioBus, PioBus
from vm_devices.errors import VmDevicesError
from vm_devices.pci import (
    CONF1_ADDRESS_PORT,
    CONF1_LENGTH,
    ECAM_BUS_SIZE,
    AddressAllocator,
    BarAllocator,
    BarReprogram,
    EventFdMsiGroup,
    PciBus,
    PciConfigIo,
    PciConfigMmio,
    PciDevice,
)
from vm_devices.virtio.device import VirtioDevice
from vm_devices.virtio.pci import VirtioPciDevice
from vm_memory import GuestMemoryMmap

from vmm.arch import layout
from vmm.errors import VmmError
from vmm.interrupts import GsiRouting

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVm

log = logging.getLogger(__name__)

# 32-bit BARs, between the end of the RAM below the hole and ECAM: a guest
# without ACPI (no _CRS telling it the 64-bit window) accepts BARs there.
MMIO32_START = layout.MEM_32BIT_HOLE_START
MMIO32_SIZE = layout.PCI_MMCONFIG_START - layout.MEM_32BIT_HOLE_START


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A virtio device to create, under the id `vm.info` and `vm.counters` show it by."""

    id: str
    build: Callable[[contextlib.ExitStack], VirtioDevice]
    """Opens the host side; what the device does not own goes on the stack to be closed."""
    pci_slot: int | None = None
    """`pci_device_id=`: the slot on bus 0 (else the lowest free one)."""


@dataclass
class _Attached:
    id: str
    transport: VirtioPciDevice
    msi: EventFdMsiGroup
    first_gsi: int
    bdf: str
    bar_base: int
    bar_size: int
    ioeventfds: list[tuple[int, int]] = field(default_factory=list)


class DeviceManager:
    """Owns the PCI bus and the virtio-pci functions on it."""

    def __init__(
        self, vm: HypervisorVm, memory: GuestMemoryMmap, pio_bus: PioBus, mmio_bus: MmioBus
    ) -> None:
        self._vm = vm
        self._memory = memory
        self._mmio = mmio_bus
        self.routing = GsiRouting(vm)
        self.pci = PciBus(self)
        self._bars = BarAllocator(AddressAllocator(MMIO32_START, MMIO32_SIZE), None)
        self._devices: list[_Attached] = []
        self._cleanup = contextlib.ExitStack()
        pio_bus.insert(PciConfigIo(self.pci), CONF1_ADDRESS_PORT, CONF1_LENGTH)
        mmio_bus.insert(PciConfigMmio(self.pci), layout.PCI_MMCONFIG_START, ECAM_BUS_SIZE)

    def add(self, spec: DeviceSpec) -> None:
        """Create the device and plug it into the bus, KVM's routes and its ioeventfds."""
        try:
            device = spec.build(self._cleanup)
        except (VmDevicesError, OSError, ValueError) as error:
            raise VmmError(f"{spec.id}: {error}") from None
        vectors = len(device.queue_max_sizes) + 1
        first_gsi = self.routing.allocate(vectors)
        msi = EventFdMsiGroup(vectors, self.routing.msi_updater(first_gsi))
        transport = VirtioPciDevice(device, self._memory, msi)
        try:
            for vector, eventfd in enumerate(msi.eventfds):
                self._vm.register_irqfd(eventfd, first_gsi + vector)
            address = self.pci.add_device(transport, spec.pci_slot)
            (bar,) = transport.allocate_bars(self._bars)
            self._mmio.insert(transport, bar.address, bar.size)
            attached = _Attached(
                spec.id, transport, msi, first_gsi, str(address), bar.address, bar.size
            )
            self._register_notifiers(attached, bar.address)
        except (KvmError, VmDevicesError) as error:
            transport.close()
            msi.close()
            raise VmmError(f"{spec.id}: cannot attach to the PCI bus: {error}") from None
        self._devices.append(attached)
        log.info("%s at %s, BAR %#x", spec.id, address, bar.address)

    def _register_notifiers(self, attached: _Attached, bar_base: int) -> None:
        for notify in attached.transport.ioeventfds(bar_base):
            self._vm.register_ioevent(notify.eventfd, MmioAddress(notify.address))
            attached.ioeventfds.append((notify.address, notify.eventfd))

    def _unregister_notifiers(self, attached: _Attached) -> None:
        for address, eventfd in attached.ioeventfds:
            self._vm.unregister_ioevent(eventfd, MmioAddress(address))
        attached.ioeventfds.clear()

    # ------------------------------------------------------- DeviceRelocation
    def move_bar(self, device: PciDevice, reprogram: BarReprogram) -> None:
        """The guest moved a BAR: decode it at the new address, notifiers included."""
        attached = next((a for a in self._devices if a.transport is device), None)
        if attached is None:
            raise VmmError("BAR move for a device this VM does not manage")
        self._unregister_notifiers(attached)
        self._mmio.remove(reprogram.old_base)
        self._mmio.insert(attached.transport, reprogram.new_base, reprogram.length)
        self._register_notifiers(attached, reprogram.new_base)
        attached.bar_base = reprogram.new_base
        log.info("%s: BAR moved %#x -> %#x", attached.id, reprogram.old_base, reprogram.new_base)

    # ------------------------------------------------------------ pause, resume
    def pause(self) -> None:
        """Pause every device: no queue served, no host input taken, until `resume()`
        (the VM pauses them after its vCPUs, as CH does). A device that cannot pause
        fails it; the caller then resumes them all (resuming one not paused is harmless)."""
        for attached in self._devices:
            try:
                attached.transport.device.pause()
            except VmDevicesError as error:
                raise VmmError(f"{attached.id}: cannot pause: {error}") from None

    def resume(self) -> None:
        for attached in self._devices:
            attached.transport.device.resume()

    # ------------------------------------------------------------ reporting
    def counters(self) -> dict[str, dict[str, int]]:
        return {a.id: dict(a.transport.device.counters()) for a in self._devices}

    def device_nodes(self) -> Mapping[str, dict[str, object]]:
        """Cloud Hypervisor's `DeviceNode`s for `vm.info`."""
        return {
            a.id: device_node(
                a.id,
                [
                    {"MmioAddressRange": {"base": a.bar_base, "size": a.bar_size}},
                    {"MsiIrqs": {"first": a.first_gsi, "count": len(a.msi.eventfds)}},
                ],
                a.bdf,
            )
            for a in self._devices
        }

    def close(self) -> None:
        """Stop every device's workers and release its eventfds (KVM goes with the VM fd)."""
        for attached in self._devices:
            attached.transport.close()
            attached.msi.close()
        self._devices.clear()
        self._cleanup.close()


def device_node(
    device_id: str, resources: Sequence[Mapping[str, object]], pci_bdf: str | None = None
) -> dict[str, object]:
    """One of Cloud Hypervisor's `DeviceNode`s, as `vm.info` shows it."""
    return {
        "id": device_id,
        "resources": list(resources),
        "parent": None,
        "children": [],
        "pci_bdf": pci_bdf,
    }
