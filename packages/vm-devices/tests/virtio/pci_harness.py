"""The device side of virtio-pci for the transport tests: a stub device and a harness that
reads and writes its BAR and configuration space as a driver would."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from vm_devices.pci import BarReprogram, CapabilityId, RecordingMsiGroup
from vm_devices.virtio import (
    VIRTIO_F_VERSION_1,
    ActiveQueue,
    DeviceType,
    VirtioDeviceBase,
    VirtioInterrupt,
)
from vm_devices.virtio.pci import VirtioPciDevice
from vm_memory import GuestMemoryMmap

BAR = 0x1_0000_0000
NO_VECTOR = 0xFFFF
ACK, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
NEEDS_RESET, FAILED = 64, 128
FEATURE_A = 1 << 3
# common configuration offsets
DF_SELECT, DF, GF_SELECT, GF, CONFIG_VECTOR, NUM_QUEUES = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x12
STATUS, GENERATION, Q_SELECT, Q_SIZE, Q_VECTOR, Q_ENABLE, Q_NOTIFY_OFF = (
    0x14,
    0x15,
    0x16,
    0x18,
    0x1A,
    0x1C,
    0x1E,
)
Q_DESC, Q_DRIVER, Q_DEVICE = 0x20, 0x28, 0x30


class StubDevice(VirtioDeviceBase):
    """Records activations and resets; no worker."""

    def __init__(self, device_type: int = DeviceType.BLOCK, sizes: Sequence[int] = (256, 64)):
        super().__init__(device_type, sizes, FEATURE_A)
        self._config = bytearray(range(16))
        self.activated: list[list[ActiveQueue]] = []
        self.interrupt: VirtioInterrupt | None = None
        self.resets = 0
        self.fail = False

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        if self.fail:
            raise RuntimeError("device refuses")
        self.activated.append(list(queues))
        self.interrupt = interrupt

    def reset(self) -> None:
        self.resets += 1
        super().reset()


class Harness:
    def __init__(self, device: StubDevice | None = None) -> None:
        self.memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
        self.stub = device or StubDevice()
        self.msi = RecordingMsiGroup()
        self.pci = VirtioPciDevice(self.stub, self.memory, self.msi)
        self.pci.config.set_bar_address(0, BAR)

    def read(self, offset: int, size: int) -> int:
        data = bytearray(size)
        self.pci.read(BAR, offset, memoryview(data))
        return int.from_bytes(data, "little")

    def write(self, offset: int, value: int, size: int) -> None:
        self.pci.write(BAR, offset, value.to_bytes(size, "little"))

    def cfg(self, offset: int, size: int) -> int:
        return self.pci.read_config_register(offset >> 2) >> (8 * (offset & 3)) & (
            (1 << (8 * size)) - 1
        )

    def cfg_write(self, offset: int, value: int, size: int) -> BarReprogram | None:
        return self.pci.write_config_register(
            offset >> 2, offset & 3, value.to_bytes(size, "little")
        )

    def status(self) -> int:
        return self.read(STATUS, 1)

    def set_status(self, value: int) -> None:
        self.write(STATUS, value, 1)

    def negotiate(self, features: int = VIRTIO_F_VERSION_1) -> None:
        self.set_status(ACK)
        self.set_status(ACK | DRIVER)
        for word in (0, 1):
            self.write(GF_SELECT, word, 4)
            self.write(GF, features >> (32 * word) & 0xFFFF_FFFF, 4)
        self.set_status(ACK | DRIVER | FEATURES_OK)

    def setup_queue(self, index: int, size: int, base: int) -> None:
        self.write(Q_SELECT, index, 2)
        self.write(Q_SIZE, size, 2)
        self.write(Q_DESC, base, 8)
        self.write(Q_DRIVER, base + 16 * size, 8)
        self.write(Q_DEVICE, base + 0x4000, 8)
        self.write(Q_ENABLE, 1, 2)

    def capabilities(self) -> dict[int, int]:
        """cfg_type -> capability offset, for the vendor capabilities."""
        found: dict[int, int] = {}
        position = self.cfg(0x34, 1)
        while position:
            if self.cfg(position, 1) == CapabilityId.VENDOR_SPECIFIC:
                found.setdefault(self.cfg(position + 3, 1), position)
            position = self.cfg(position + 1, 1)
        return found

    def enable_msix(self) -> None:
        cap = next(
            position
            for position in range(0x40, 0x100, 4)
            if self.cfg(position, 1) == CapabilityId.MSIX
        )
        self.cfg_write(cap + 2, 0x8000, 2)
        for vector in range(3):
            entry = struct.pack("<IIII", 0xFEE0_0000, 0, 0x40 + vector, 0)
            self.pci.write(BAR, 0x8000 + 16 * vector, entry)
