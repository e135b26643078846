"""What a PCI function is to its bus, and what the VMM does when a guest moves a BAR.

Shaped like Cloud Hypervisor's ``PciDevice`` and ``DeviceRelocation`` traits.
A device owns its configuration space and answers dword reads and (partial)
writes of it; the bus routes CONF1/ECAM accesses to it. When a write
reprograms a BAR the device reports a :class:`~vm_devices.pci.config.BarReprogram`;
the bus asks the VMM's :class:`DeviceRelocation` to move the MMIO bus range
(and the device's ioeventfds), then tells the device with :meth:`PciDevice.move_bar`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vm_devices.pci.allocator import BarAllocator
from vm_devices.pci.config import BarReprogram, PciBar, PciConfiguration
from vm_devices.pci.defs import PciClass

__all__ = ["DeviceRelocation", "PciAddress", "PciDevice", "PciHostBridge"]


@dataclass(frozen=True, slots=True, order=True)
class PciAddress:
    """Segment, bus, device (slot) and function of a PCI function: ``0000:00:01.0``."""

    segment: int
    bus: int
    device: int
    function: int = 0

    @property
    def devfn(self) -> int:
        return self.device << 3 | self.function

    def __str__(self) -> str:
        return f"{self.segment:04x}:{self.bus:02x}:{self.device:02x}.{self.function:x}"


class PciDevice(Protocol):
    """A PCI function on a :class:`~vm_devices.pci.bus.PciBus`.

    ``reg`` is a dword index into configuration space (0-63 conventional, up to
    1023 through ECAM); ``offset`` (0-3) and ``len(data)`` (1, 2 or 4, within
    the dword) locate a partial write. Like bus devices, neither may raise for
    any guest-chosen value.
    """

    def read_config_register(self, reg: int) -> int:
        """The dword at ``reg``; registers the device does not implement read as 0."""
        ...

    def write_config_register(
        self, reg: int, offset: int, data: bytes | memoryview
    ) -> BarReprogram | None:
        """Apply a guest write; return the BAR move it asks for, if any."""
        ...

    def bars(self) -> Sequence[PciBar]:
        """The device's BARs with the addresses they are mapped at."""
        ...

    def allocate_bars(self, allocator: BarAllocator) -> Sequence[PciBar]:
        """Give every BAR an address from ``allocator`` (done once, before boot)."""
        ...

    def move_bar(self, old_base: int, new_base: int) -> None:
        """The VMM now decodes the BAR that was at ``old_base`` at ``new_base``."""
        ...


class DeviceRelocation(Protocol):
    """The VMM's side of a BAR move (Cloud Hypervisor's ``DeviceRelocation``).

    ``move_bar`` must move the MMIO bus range from ``reprogram.old_base`` to
    ``reprogram.new_base`` and re-register any ioeventfds inside the BAR (e.g.
    a virtio-pci device's ``ioeventfds(old_base)`` off, ``ioeventfds(new_base)``
    on). It raises to refuse the move (overlap, outside the MMIO windows): the
    BAR then stays decoded where it was. The bus calls
    :meth:`PciDevice.move_bar` afterwards; ``move_bar`` must not.
    """

    def move_bar(self, device: PciDevice, reprogram: BarReprogram) -> None: ...


HOST_BRIDGE_VENDOR_ID = 0x8086
HOST_BRIDGE_DEVICE_ID = 0x0D57


class PciHostBridge:
    """The host bridge at 00:00.0: a header with IDs and class 06/00, no BARs."""

    def __init__(self) -> None:
        self.config = PciConfiguration(
            HOST_BRIDGE_VENDOR_ID, HOST_BRIDGE_DEVICE_ID, class_code=PciClass.BRIDGE, subclass=0
        )

    def read_config_register(self, reg: int) -> int:
        return self.config.read_dword(reg)

    def write_config_register(
        self, reg: int, offset: int, data: bytes | memoryview
    ) -> BarReprogram | None:
        return self.config.write(reg * 4 + offset, data)

    def bars(self) -> Sequence[PciBar]:
        return ()

    def allocate_bars(self, allocator: BarAllocator) -> Sequence[PciBar]:
        return ()

    def move_bar(self, old_base: int, new_base: int) -> None:
        """The host bridge has no BARs to move."""
