"""virtio-mmio version 2 (VIRTIO 1.2 section 4.2), one rule per test, through the register block."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pytest
from vm_devices import CallbackInterrupt, MmioBus
from vm_devices.virtio import (
    VIRTIO_F_VERSION_1,
    ActiveQueue,
    DeviceType,
    VirtioDeviceBase,
    VirtioInterrupt,
)
from vm_devices.virtio.mmio import VirtioMmioDevice, mmio_cmdline
from vm_memory import GuestMemoryMmap

BASE = 0xD000_0000
ACK, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 64
MAGIC, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, DEVICE_FEATURES_SEL = (
    0x000,
    0x004,
    0x008,
    0x00C,
    0x010,
    0x014,
)
DRIVER_FEATURES, DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM = (
    0x020,
    0x024,
    0x030,
    0x034,
    0x038,
)
QUEUE_READY, QUEUE_NOTIFY, INTERRUPT_STATUS, INTERRUPT_ACK, STATUS = (
    0x044,
    0x050,
    0x060,
    0x064,
    0x070,
)
QUEUE_DESC, QUEUE_DRIVER, QUEUE_DEVICE, SHM_LEN, GENERATION = 0x080, 0x090, 0x0A0, 0x0B0, 0x0FC


class StubDevice(VirtioDeviceBase):
    def __init__(self, sizes: Sequence[int] = (256, 64)) -> None:
        super().__init__(DeviceType.NET, sizes, 1 << 5)
        self._config = bytearray(b"\x52\x54\x00\x12\x34\x56")
        self.activated: list[list[ActiveQueue]] = []
        self.resets = 0

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        self.activated.append(list(queues))

    def reset(self) -> None:
        self.resets += 1
        super().reset()


class Harness:
    def __init__(self) -> None:
        self.memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
        self.stub = StubDevice()
        self.levels: list[bool] = []
        self.mmio = VirtioMmioDevice(self.stub, self.memory, CallbackInterrupt(self.levels.append))
        self.bus = MmioBus()
        self.bus.insert(self.mmio, BASE, 0x1000)

    def reg(self, offset: int, size: int = 4) -> int:
        data = bytearray(size)
        assert self.bus.read(BASE + offset, memoryview(data))
        return int.from_bytes(data, "little")

    def set_reg(self, offset: int, value: int, size: int = 4) -> None:
        assert self.bus.write(BASE + offset, value.to_bytes(size, "little"))

    def negotiate(self, features: int = VIRTIO_F_VERSION_1) -> None:
        self.set_reg(STATUS, ACK)
        self.set_reg(STATUS, ACK | DRIVER)
        for word in (0, 1):
            self.set_reg(DRIVER_FEATURES_SEL, word)
            self.set_reg(DRIVER_FEATURES, features >> (32 * word) & 0xFFFF_FFFF)
        self.set_reg(STATUS, ACK | DRIVER | FEATURES_OK)

    def setup_queue(self, index: int, size: int, base: int) -> None:
        self.set_reg(QUEUE_SEL, index)
        self.set_reg(QUEUE_NUM, size)
        for offset, address in ((QUEUE_DESC, base), (QUEUE_DRIVER, base + 16 * size)):
            self.set_reg(offset, address)
            self.set_reg(offset + 4, 0)
        self.set_reg(QUEUE_DEVICE, base + 0x4000)
        self.set_reg(QUEUE_READY, 1)


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.mmio.close()
    harness.memory.close()


def test_identification_registers(h: Harness) -> None:
    assert h.reg(MAGIC) == 0x7472_6976
    assert h.reg(MAGIC, 4).to_bytes(4, "little") == b"virt"
    assert (h.reg(VERSION), h.reg(DEVICE_ID), h.reg(VENDOR_ID)) == (2, 1, 0x1AF4)


def test_registers_answer_only_aligned_32_bit_accesses(h: Harness) -> None:
    assert h.reg(MAGIC, 2) == 0
    assert h.reg(MAGIC + 1, 1) == 0
    h.set_reg(STATUS, ACK, 1)
    assert h.reg(STATUS) == 0


def test_device_features_by_select(h: Harness) -> None:
    words = []
    for select in (0, 1, 2):
        h.set_reg(DEVICE_FEATURES_SEL, select)
        words.append(h.reg(DEVICE_FEATURES))
    assert words[1] << 32 | words[0] == h.stub.device_features
    assert words[2] == 0


def test_features_ok_follows_the_same_rules_as_pci(h: Harness) -> None:
    h.negotiate(1 << 5)
    assert h.reg(STATUS) == ACK | DRIVER
    h.set_reg(STATUS, 0)
    h.negotiate(VIRTIO_F_VERSION_1 | 1 << 5)
    assert h.reg(STATUS) == ACK | DRIVER | FEATURES_OK
    assert h.stub.acked_features == VIRTIO_F_VERSION_1 | 1 << 5


def test_queue_num_max_is_per_queue_and_0_past_the_last(h: Harness) -> None:
    sizes = []
    for index in (0, 1, 2):
        h.set_reg(QUEUE_SEL, index)
        sizes.append(h.reg(QUEUE_NUM_MAX))
    assert sizes == [256, 64, 0]


def test_driver_ok_activates_the_ready_queues(h: Harness) -> None:
    h.negotiate()
    h.setup_queue(0, 128, 0x10000)
    h.set_reg(STATUS, 0xF)
    ((active,),) = h.stub.activated
    assert (active.index, active.queue.size, active.queue.used_ring) == (0, 128, 0x14000)
    assert active.eventfd == h.mmio.ioeventfds(BASE)[0].eventfd


@pytest.mark.parametrize("size", [0, 96, 512])
def test_an_invalid_queue_num_makes_driver_ok_ask_for_a_reset(h: Harness, size: int) -> None:
    h.negotiate()
    h.setup_queue(0, size, 0x10000)
    h.set_reg(STATUS, 0xF)
    assert h.reg(STATUS) == 0xF | NEEDS_RESET
    assert h.stub.activated == []
    assert h.reg(INTERRUPT_STATUS) == 2
    assert h.reg(GENERATION) == 1


def test_queue_ready_reads_back_and_can_be_cleared_before_driver_ok(h: Harness) -> None:
    h.setup_queue(0, 16, 0x10000)
    assert h.reg(QUEUE_READY) == 1
    h.set_reg(QUEUE_READY, 0)
    assert h.reg(QUEUE_READY) == 0


def test_reset_goes_back_to_defaults(h: Harness) -> None:
    h.negotiate()
    h.setup_queue(0, 16, 0x10000)
    h.set_reg(STATUS, 0xF)
    h.mmio.interrupt.notify_queue(0)
    h.set_reg(STATUS, 0)
    assert (h.reg(STATUS), h.reg(INTERRUPT_STATUS), h.stub.resets) == (0, 0, 1)
    h.set_reg(QUEUE_SEL, 0)
    assert h.reg(QUEUE_READY) == 0


def test_notify_signals_the_queue_named_by_the_value(h: Harness) -> None:
    h.set_reg(QUEUE_NOTIFY, 1)
    first, second = h.mmio.ioeventfds(BASE)
    assert os.eventfd_read(second.eventfd) == 1
    with pytest.raises(BlockingIOError):
        os.eventfd_read(first.eventfd)
    h.set_reg(QUEUE_NOTIFY, 7)  # no such queue: ignored


def test_ioeventfds_match_each_queue_index_at_queue_notify(h: Harness) -> None:
    entries = h.mmio.ioeventfds(BASE)
    assert [(e.address, e.datamatch) for e in entries] == [(BASE + 0x50, 0), (BASE + 0x50, 1)]


def test_interrupts_set_status_bits_trigger_the_line_and_are_acked(h: Harness) -> None:
    h.mmio.interrupt.notify_queue(0)
    h.mmio.interrupt.notify_config()
    assert h.reg(INTERRUPT_STATUS) == 3
    assert h.levels == [True, False, True, False]  # one edge per notification
    h.set_reg(INTERRUPT_ACK, 1)
    assert h.reg(INTERRUPT_STATUS) == 2
    assert h.reg(GENERATION) == 1


def test_no_shared_memory_regions(h: Harness) -> None:
    assert h.reg(SHM_LEN) == h.reg(SHM_LEN + 4) == 0xFFFF_FFFF


def test_device_configuration_at_0x100_in_any_size(h: Harness) -> None:
    assert h.reg(0x100, 1) == 0x52
    assert h.reg(0x104, 2) == 0x5634
    assert h.reg(0x106, 2) == 0


def test_cmdline_names_size_base_and_irq() -> None:
    assert mmio_cmdline(0xD000_0000, 5) == "virtio_mmio.device=4K@0xd0000000:5"
    assert mmio_cmdline(0xD000_0000, 12, 1 << 20) == "virtio_mmio.device=1M@0xd0000000:12"
    assert mmio_cmdline(0x1000, 3, 0x200) == "virtio_mmio.device=512@0x1000:3"
    with pytest.raises(ValueError, match="not valid"):
        mmio_cmdline(0x1000, -1)
