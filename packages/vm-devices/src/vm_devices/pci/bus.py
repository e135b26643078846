"""A PCI bus (one segment, one bus number): 32 slots, the host bridge in slot 0.

Configuration accesses arrive from :class:`~vm_devices.pci.access.PciConfigIo`
(CONF1 ports) or :class:`~vm_devices.pci.access.PciConfigMmio` (ECAM) as
(bus, device, function, register). Each slot holds one single-function device;
an empty slot, another function or another bus number reads all ones, which is
how a guest's scan tells that nothing is there. A write that reprograms a BAR
goes to the VMM's :class:`~vm_devices.pci.device.DeviceRelocation` and then to
the device.
"""

from __future__ import annotations

import logging
import threading

from vm_devices.pci.config import BarReprogram
from vm_devices.pci.device import DeviceRelocation, PciAddress, PciDevice, PciHostBridge
from vm_devices.pci.errors import PciSlotError

__all__ = ["NO_DEVICE", "SLOTS", "PciBus"]

log = logging.getLogger(__name__)

SLOTS = 32
NO_DEVICE = 0xFFFF_FFFF
"""What a configuration read of an absent function returns."""


class PciBus:
    """Devices in slots 0-31 of bus ``bus`` in PCI segment ``segment``.

    ``relocation`` is told about BAR moves; without one, moves only update the
    device (enough for tests, not for a VMM that decodes BARs on an MMIO bus).
    """

    def __init__(
        self, relocation: DeviceRelocation | None = None, *, segment: int = 0, bus: int = 0
    ) -> None:
        if not 0 <= segment <= 0xFFFF or not 0 <= bus <= 0xFF:
            raise PciSlotError(None, f"segment {segment} / bus {bus} out of range")
        self.relocation = relocation
        self.segment = segment
        self.bus = bus
        self._slots: list[PciDevice | None] = [None] * SLOTS
        self._slots[0] = PciHostBridge()
        self._lock = threading.Lock()

    def add_device(self, device: PciDevice, slot: int | None = None) -> PciAddress:
        """Put ``device`` in ``slot`` (default: the lowest free one) as function 0."""
        with self._lock:
            if slot is None:
                free = [index for index, held in enumerate(self._slots) if held is None]
                if not free:
                    raise PciSlotError(None, f"all {SLOTS} slots are taken")
                slot = free[0]
            elif not 0 <= slot < SLOTS:
                raise PciSlotError(slot, f"is not a slot number 0-{SLOTS - 1}")
            elif self._slots[slot] is not None:
                raise PciSlotError(slot, "is taken")
            self._slots[slot] = device
        return PciAddress(self.segment, self.bus, slot)

    def remove_device(self, slot: int) -> PciDevice:
        """Empty ``slot`` and return its device."""
        with self._lock:
            device = self._slots[slot] if 0 <= slot < SLOTS else None
            if device is None:
                raise PciSlotError(slot, "holds no device")
            self._slots[slot] = None
            return device

    def device(self, slot: int) -> PciDevice | None:
        return self._slots[slot] if 0 <= slot < SLOTS else None

    def devices(self) -> list[tuple[PciAddress, PciDevice]]:
        """Every device with its address, by slot (the host bridge first)."""
        return [
            (PciAddress(self.segment, self.bus, slot), device)
            for slot, device in enumerate(self._slots)
            if device is not None
        ]

    def _find(self, bus: int, slot: int, function: int) -> PciDevice | None:
        if bus != self.bus or function != 0 or not 0 <= slot < SLOTS:
            return None
        return self._slots[slot]

    def read_config(self, bus: int, slot: int, function: int, reg: int) -> int:
        """Dword ``reg`` of a function's configuration space (all ones if absent)."""
        device = self._find(bus, slot, function)
        if device is None:
            return NO_DEVICE
        return device.read_config_register(reg) & 0xFFFF_FFFF

    def write_config(
        self, bus: int, slot: int, function: int, offset: int, data: bytes | memoryview
    ) -> None:
        """A guest write of ``data`` at byte ``offset`` of a function's configuration
        space, inside one dword (dropped if the function is absent)."""
        device = self._find(bus, slot, function)
        if device is None:
            return
        reprogram = device.write_config_register(offset >> 2, offset & 3, data)
        if reprogram is not None:
            self._move_bar(PciAddress(self.segment, bus, slot, function), device, reprogram)

    def _move_bar(self, address: PciAddress, device: PciDevice, reprogram: BarReprogram) -> None:
        log.debug(
            "%s: BAR %d moves from %#x to %#x",
            address,
            reprogram.index,
            reprogram.old_base,
            reprogram.new_base,
        )
        if self.relocation is not None:
            try:
                self.relocation.move_bar(device, reprogram)
            except Exception:  # the VMM refused: the BAR stays decoded where it was
                log.warning(
                    "%s: BAR %d not moved to %#x",
                    address,
                    reprogram.index,
                    reprogram.new_base,
                    exc_info=True,
                )
                return
        device.move_bar(reprogram.old_base, reprogram.new_base)
