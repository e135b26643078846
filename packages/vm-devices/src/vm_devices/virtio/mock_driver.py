"""Guest-side virtio drivers for tests: Linux's probe and init sequence over the buses.

:class:`MockPciDriver` finds a virtio-pci function through ECAM, walks its
capability list as Linux does, enables MSI-X, and runs the device
initialisation of VIRTIO 1.2 section 3.1.1 through the BAR on the MMIO bus.
:class:`MockMmioDriver` does the same through a virtio-mmio register block.
Both take :class:`virtio_queue.MockSplitQueue` objects for the rings, so a test
can publish requests and read the used ring. Every step is a bus access the
guest could make; nothing reaches into the device objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from virtio_queue import MockSplitQueue

from vm_devices.bus import Bus
from vm_devices.pci.access import ecam_offset
from vm_devices.pci.msi import MsiMessage

__all__ = ["MockDriverError", "MockMmioDriver", "MockPciDriver"]

_ACK, _DRIVER, _DRIVER_OK, _FEATURES_OK = 1, 2, 4, 8


class MockDriverError(AssertionError):
    """The device did not behave as the driver expects (what Linux would fail on)."""


class _BusAccess:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def read(self, address: int, size: int) -> int:
        data = bytearray(size)
        if not self.bus.read(address, memoryview(data)):
            return (1 << (8 * size)) - 1
        return int.from_bytes(data, "little")

    def write(self, address: int, value: int, size: int) -> None:
        self.bus.write(address, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))


class MockPciDriver(_BusAccess):
    """The modern virtio-pci driver for the function in ``slot`` of the bus whose
    ECAM space is at ``ecam_base`` on ``mmio``."""

    def __init__(self, mmio: Bus, ecam_base: int, slot: int) -> None:
        super().__init__(mmio)
        self.config_base = ecam_base + ecam_offset(0, slot, 0, 0)
        self.structures: dict[int, int] = {}  # cfg_type -> guest address
        self.notify_multiplier = 0
        self.msix_cap = 0
        self.bar = 0
        self.queues: list[MockSplitQueue] = []

    def config_read(self, offset: int, size: int) -> int:
        return self.read(self.config_base + offset, size)

    def config_write(self, offset: int, value: int, size: int) -> None:
        self.write(self.config_base + offset, value, size)

    def capabilities(self) -> list[tuple[int, int]]:
        """``(cap_id, offset)`` of each capability, walked as pci_find_capability does."""
        found: list[tuple[int, int]] = []
        if not self.config_read(0x06, 2) & 0x10:
            return found
        position = self.config_read(0x34, 1)
        for _ in range(48):
            if position < 0x40:
                break
            position &= ~3
            entry = self.config_read(position, 2)
            if entry & 0xFF == 0xFF:
                break
            found.append((entry & 0xFF, position))
            position = entry >> 8
        return found

    def probe(self) -> int:
        """Check the IDs, map the BAR and find the virtio structures; the device type."""
        vendor, device = self.config_read(0, 2), self.config_read(2, 2)
        if vendor != 0x1AF4 or not 0x1040 <= device <= 0x107F:
            raise MockDriverError(f"{vendor:04x}:{device:04x} is not a modern virtio device")
        if self.config_read(0x08, 1) < 1:
            raise MockDriverError("a non-transitional device has revision 1 or more")
        low = self.config_read(0x10, 4)
        if low & 0b110 != 0b100:
            raise MockDriverError(f"BAR 0 ({low:#x}) is not a 64-bit memory BAR")
        self.bar = self.config_read(0x14, 4) << 32 | (low & ~0xF)
        self.config_write(0x04, 0x6, 2)  # memory space, bus master
        for cap_id, position in self.capabilities():
            if cap_id == 0x11:
                self.msix_cap = position
            elif cap_id == 0x09:
                cfg_type, bar = self.config_read(position + 3, 1), self.config_read(position + 4, 1)
                offset = self.config_read(position + 8, 4)
                if bar == 0 and cfg_type not in self.structures:
                    self.structures[cfg_type] = self.bar + offset
                if cfg_type == 2:
                    self.notify_multiplier = self.config_read(position + 16, 4)
        if not {1, 2, 3, 4} <= set(self.structures) or not self.msix_cap:
            raise MockDriverError(f"missing virtio structures: found {sorted(self.structures)}")
        return device - 0x1040

    # MSI-X -------------------------------------------------------------------------

    def enable_msix(self, messages: Sequence[MsiMessage]) -> None:
        """Enable MSI-X as Linux does: enable with all masked, program, unmask."""
        control = self.config_read(self.msix_cap + 2, 2)
        table_size = (control & 0x7FF) + 1
        if len(messages) > table_size:
            raise MockDriverError(f"{len(messages)} vectors wanted, the table has {table_size}")
        table = self.config_read(self.msix_cap + 4, 4)
        table_address = self.bar + (table & ~7)
        self.config_write(self.msix_cap + 2, 0xC000, 2)  # enable + function mask
        for vector, message in enumerate(messages):
            entry = table_address + 16 * vector
            self.write(entry, message.address & 0xFFFF_FFFF, 4)
            self.write(entry + 4, message.address >> 32, 4)
            self.write(entry + 8, message.data, 4)
            self.write(entry + 12, 0, 4)  # unmask
        self.config_write(self.msix_cap + 2, 0x8000, 2)

    # The common configuration --------------------------------------------------------

    def common_read(self, offset: int, size: int) -> int:
        return self.read(self.structures[1] + offset, size)

    def common_write(self, offset: int, value: int, size: int) -> None:
        self.write(self.structures[1] + offset, value, size)

    @property
    def status(self) -> int:
        return self.common_read(0x14, 1)

    def set_status(self, bits: int) -> None:
        self.common_write(0x14, bits, 1)

    def device_features(self) -> int:
        features = 0
        for word in (0, 1):
            self.common_write(0x00, word, 4)
            features |= self.common_read(0x04, 4) << (32 * word)
        return features

    def initialize(self, wanted: int, queues: Sequence[MockSplitQueue]) -> int:
        """Reset, negotiate ``wanted & offered`` features, set up ``queues`` with
        vectors 1, 2, ... (0 for configuration changes), and set DRIVER_OK."""
        self.set_status(0)
        if self.status != 0:
            raise MockDriverError("the device did not reset")
        self.set_status(_ACK)
        self.set_status(_ACK | _DRIVER)
        features = self.device_features() & wanted
        for word in (0, 1):
            self.common_write(0x08, word, 4)
            self.common_write(0x0C, features >> (32 * word), 4)
        self.set_status(_ACK | _DRIVER | _FEATURES_OK)
        if not self.status & _FEATURES_OK:
            raise MockDriverError(f"the device refused features {features:#x}")
        self.common_write(0x10, 0, 2)
        if self.common_read(0x10, 2) != 0:
            raise MockDriverError("the configuration vector did not stick")
        if len(queues) > self.common_read(0x12, 2):
            raise MockDriverError("the device has fewer queues")
        for index, ring in enumerate(queues):
            self.common_write(0x16, index, 2)
            if self.common_read(0x18, 2) < ring.size:
                raise MockDriverError(f"queue {index} is smaller than {ring.size}")
            self.common_write(0x18, ring.size, 2)
            self.common_write(0x1A, index + 1, 2)
            if self.common_read(0x1A, 2) != index + 1:
                raise MockDriverError(f"queue {index}'s vector did not stick")
            for offset, address in ((0x20, ring.desc_table), (0x28, ring.avail_ring)):
                self.common_write(offset, address & 0xFFFF_FFFF, 4)
                self.common_write(offset + 4, address >> 32, 4)
            self.common_write(0x30, ring.used_ring & 0xFFFF_FFFF, 4)
            self.common_write(0x34, ring.used_ring >> 32, 4)
        for index in range(len(queues)):
            self.common_write(0x16, index, 2)
            self.common_write(0x1C, 1, 2)
        self.queues = list(queues)
        self.set_status(_ACK | _DRIVER | _FEATURES_OK | _DRIVER_OK)
        return features

    def notify_address(self, index: int) -> int:
        self.common_write(0x16, index, 2)
        return self.structures[2] + self.common_read(0x1E, 2) * self.notify_multiplier

    def kick(self, index: int) -> None:
        """vp_notify: write the queue index to its notify address."""
        self.write(self.notify_address(index), index, 2)

    def read_isr(self) -> int:
        return self.read(self.structures[3], 1)

    def device_config(self, offset: int, size: int) -> int:
        return self.read(self.structures[4] + offset, size)


class MockMmioDriver(_BusAccess):
    """The virtio-mmio driver for the register block at ``base`` on ``mmio``."""

    def __init__(self, mmio: Bus, base: int) -> None:
        super().__init__(mmio)
        self.base = base

    def reg(self, offset: int) -> int:
        return self.read(self.base + offset, 4)

    def set_reg(self, offset: int, value: int) -> None:
        self.write(self.base + offset, value, 4)

    def probe(self) -> int:
        """Check magic and version; the device type (0: a placeholder)."""
        magic, version = self.reg(0x000), self.reg(0x004)
        if magic != 0x7472_6976 or version != 2:
            raise MockDriverError(f"magic {magic:#x} version {version} is not virtio-mmio v2")
        return self.reg(0x008)

    def initialize(self, wanted: int, queues: Sequence[MockSplitQueue]) -> int:
        """virtio_mmio's probe, find_vqs and DRIVER_OK for ``queues``."""
        self.set_reg(0x070, 0)
        self.set_reg(0x070, _ACK)
        self.set_reg(0x070, _ACK | _DRIVER)
        features = 0
        for word in (0, 1):
            self.set_reg(0x014, word)
            features |= self.reg(0x010) << (32 * word)
        features &= wanted
        for word in (0, 1):
            self.set_reg(0x024, word)
            self.set_reg(0x020, features >> (32 * word) & 0xFFFF_FFFF)
        self.set_reg(0x070, _ACK | _DRIVER | _FEATURES_OK)
        if not self.reg(0x070) & _FEATURES_OK:
            raise MockDriverError(f"the device refused features {features:#x}")
        for index, ring in enumerate(queues):
            self.set_reg(0x030, index)
            if self.reg(0x044):
                raise MockDriverError(f"queue {index} is already ready")
            if self.reg(0x034) < ring.size:
                raise MockDriverError(f"queue {index} is smaller than {ring.size}")
            self.set_reg(0x038, ring.size)
            for offset, address in (
                (0x080, ring.desc_table),
                (0x090, ring.avail_ring),
                (0x0A0, ring.used_ring),
            ):
                self.set_reg(offset, address & 0xFFFF_FFFF)
                self.set_reg(offset + 4, address >> 32)
            self.set_reg(0x044, 1)
        self.set_reg(0x070, _ACK | _DRIVER | _FEATURES_OK | _DRIVER_OK)
        return features

    def kick(self, index: int) -> None:
        self.set_reg(0x050, index)

    def acknowledge(self) -> int:
        """vm_interrupt: read InterruptStatus and acknowledge it; the bits read."""
        status = self.reg(0x060)
        self.set_reg(0x064, status)
        return status

    def device_config(self, offset: int, size: int) -> int:
        return self.read(self.base + 0x100 + offset, size)
