"""virtio-pci (VIRTIO 1.2 section 4.1): queue set-up, notifications, interrupts, the PCI_CFG
window and BAR moves, one rule per test through the BAR and config space."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence

import pytest
from vm_devices.pci import (
    BarKind,
    BarReprogram,
    CapabilityId,
    MsiMessage,
    PciBus,
    PciDevice,
    RecordingMsiGroup,
)
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


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.pci.close()
    harness.memory.close()


# Queues -------------------------------------------------------------------------------


def test_num_queues_and_notify_offsets(h: Harness) -> None:
    assert h.read(NUM_QUEUES, 2) == 2
    h.write(Q_SELECT, 1, 2)
    assert h.read(Q_NOTIFY_OFF, 2) == 1
    assert h.read(Q_SIZE, 2) == 64


def test_a_queue_past_the_last_reads_size_0_and_ignores_writes(h: Harness) -> None:
    h.write(Q_SELECT, 2, 2)
    h.write(Q_SIZE, 16, 2)
    h.write(Q_ENABLE, 1, 2)
    assert (h.read(Q_SIZE, 2), h.read(Q_ENABLE, 2), h.read(Q_VECTOR, 2)) == (0, 0, NO_VECTOR)


@pytest.mark.parametrize("size", [0, 3, 100, 512])
def test_an_invalid_queue_size_leaves_the_queue_unusable(h: Harness, size: int) -> None:
    h.negotiate()
    h.setup_queue(0, 256, 0x10000)
    h.setup_queue(1, size, 0x20000)
    h.write(Q_SELECT, 1, 2)
    assert h.read(Q_SIZE, 2) == size
    h.set_status(0xF)
    assert h.status() & NEEDS_RESET
    assert h.stub.activated == []


def test_a_smaller_power_of_two_size_is_accepted(h: Harness) -> None:
    h.negotiate()
    h.setup_queue(0, 8, 0x10000)
    h.set_status(0xF)
    assert h.stub.activated[0][0].queue.size == 8


def test_queue_registers_are_frozen_once_enabled(h: Harness) -> None:
    h.setup_queue(0, 128, 0x10000)
    h.write(Q_SIZE, 16, 2)
    h.write(Q_DESC, 0x30000, 4)
    assert (h.read(Q_SIZE, 2), h.read(Q_DESC, 8)) == (128, 0x10000)


def test_queue_addresses_take_32_bit_halves(h: Harness) -> None:
    h.write(Q_DEVICE, 0x89AB_CDEF, 4)
    h.write(Q_DEVICE + 4, 0x1, 4)
    assert h.read(Q_DEVICE, 8) == 0x1_89AB_CDEF
    assert h.read(Q_DEVICE + 4, 4) == 1


def test_vectors_past_the_table_read_back_as_no_vector(h: Harness) -> None:
    h.write(CONFIG_VECTOR, 3, 2)
    assert h.read(CONFIG_VECTOR, 2) == NO_VECTOR
    h.write(Q_VECTOR, 2, 2)
    assert h.read(Q_VECTOR, 2) == 2


def test_misaligned_or_missized_common_accesses_are_ignored(h: Harness) -> None:
    h.write(STATUS - 1, 0x0101, 2)
    h.write(Q_SELECT, 0x1, 1)
    assert (h.read(STATUS, 1), h.read(Q_SELECT, 2)) == (0, 0)
    assert h.read(Q_SELECT + 1, 1) == 0
    assert h.read(0x38, 4) == 0


# Notifications and interrupts ------------------------------------------------------


def test_a_notify_write_signals_that_queues_eventfd(h: Harness) -> None:
    first, second = h.pci.ioeventfds(BAR)
    assert (first.address, second.address) == (BAR + 0x6000, BAR + 0x6004)
    h.write(0x6004, 1, 2)
    assert os.eventfd_read(second.eventfd) == 1
    with pytest.raises(BlockingIOError):
        os.eventfd_read(first.eventfd)


def test_a_notify_write_past_the_queues_is_ignored(h: Harness) -> None:
    h.write(0x6008, 2, 2)
    for notify in h.pci.ioeventfds(BAR):
        with pytest.raises(BlockingIOError):
            os.eventfd_read(notify.eventfd)


def test_queue_interrupt_goes_to_the_queue_vector(h: Harness) -> None:
    h.enable_msix()
    h.write(Q_SELECT, 1, 2)
    h.write(Q_VECTOR, 2, 2)
    h.pci.interrupt.notify_queue(1)
    h.pci.interrupt.notify_queue(0)  # NO_VECTOR: nothing
    assert h.msi.delivered == [MsiMessage(0xFEE0_0000, 0x42)]
    assert h.read(0x2000, 1) == 0, "with MSI-X the queue bit stays clear"


def test_config_interrupt_bumps_generation_sets_isr_and_uses_the_config_vector(
    h: Harness,
) -> None:
    h.enable_msix()
    h.write(CONFIG_VECTOR, 0, 2)
    h.pci.interrupt.notify_config()
    assert h.read(GENERATION, 1) == 1
    assert h.msi.delivered == [MsiMessage(0xFEE0_0000, 0x40)]
    assert h.read(0x2000, 1) == 2
    assert h.read(0x2000, 1) == 0, "reading the ISR clears it"


def test_without_msix_a_queue_interrupt_only_sets_the_isr(h: Harness) -> None:
    h.pci.interrupt.notify_queue(0)
    assert h.msi.delivered == []
    assert h.read(0x2000, 1) == 1


# Device configuration, PCI_CFG window, BAR moves ----------------------------------------


def test_device_configuration_is_at_0x4000(h: Harness) -> None:
    assert h.read(0x4004, 4) == 0x0706_0504
    assert h.read(0x4FFC, 4) == 0


def test_pci_cfg_capability_reads_and_writes_the_bar(h: Harness) -> None:
    cap = h.capabilities()[5]
    h.cfg_write(cap + 4, 0, 1)  # bar
    h.cfg_write(cap + 8, NUM_QUEUES, 4)  # offset
    h.cfg_write(cap + 12, 2, 4)  # length
    assert h.cfg(cap + 16, 2) == 2
    h.cfg_write(cap + 8, STATUS, 4)
    h.cfg_write(cap + 12, 1, 4)
    h.cfg_write(cap + 16, ACK, 4)
    assert h.status() == ACK


def test_pci_cfg_window_ignores_misaligned_requests(h: Harness) -> None:
    cap = h.capabilities()[5]
    h.cfg_write(cap + 8, STATUS + 1, 4)
    h.cfg_write(cap + 12, 2, 4)
    h.cfg_write(cap + 16, 0xFFFF, 4)
    assert h.status() == 0


def test_a_guest_bar_move_moves_the_notify_addresses(h: Harness) -> None:
    moves: list[BarReprogram] = []

    class Relocation:
        def move_bar(self, device: PciDevice, reprogram: BarReprogram) -> None:
            moves.append(reprogram)

    bus = PciBus(Relocation())
    slot = bus.add_device(h.pci).device
    bus.write_config(0, slot, 0, 0x10, (0xC000_0000).to_bytes(4, "little"))
    assert moves == []  # the low half alone does not move a 64-bit BAR
    bus.write_config(0, slot, 0, 0x14, b"\x00\x00\x00\x00")
    assert moves == [BarReprogram(0, BarKind.MEMORY64, BAR, 0xC000_0000, 0x80000)]
    assert h.pci.bar_address == 0xC000_0000
    assert h.pci.ioeventfds(h.pci.bar_address)[0].address == 0xC000_6000
