"""A guest driver's whole life with a virtio-pci device, through ECAM and the BAR on the MMIO bus.

The mock driver probes the function over ECAM, walks its capabilities,
enables MSI-X and runs Linux's initialisation; the echo device's worker thread
answers a kick by copying each request's readable bytes into its writable
buffer, and the driver sees the used ring and an MSI-X message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pytest
from virtio_queue import MockSplitQueue, UsedElement
from vm_devices import MmioBus
from vm_devices.pci import (
    ECAM_BUS_SIZE,
    AddressAllocator,
    BarAllocator,
    BarKind,
    MsiMessage,
    PciBus,
    PciConfigMmio,
    RecordingMsiGroup,
)
from vm_devices.virtio import (
    VIRTIO_F_RING_EVENT_IDX,
    VIRTIO_F_VERSION_1,
    ActiveQueue,
    DeviceStatus,
    EpollWorker,
    VirtioDeviceBase,
    VirtioInterrupt,
    drain_eventfd,
)
from vm_devices.virtio.mock_driver import MockPciDriver
from vm_devices.virtio.pci import VirtioPciDevice
from vm_memory import GuestMemoryMmap

ECAM_BASE = 0xE000_0000
ECHO_TYPE = 42  # not a registered virtio device type: the test's own
MESSAGES = [MsiMessage(0xFEE0_0000, 0x40 + vector) for vector in range(2)]


class EchoDevice(VirtioDeviceBase):
    """One queue; each request's readable bytes are copied into its writable buffers."""

    def __init__(self) -> None:
        super().__init__(ECHO_TYPE, [16], features=1 << 0)
        self._config = bytearray(b"echo\x01\x00\x00\x00")
        self.worker: EpollWorker | None = None
        self.activations = 0
        self.resets = 0

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        (active,) = queues
        queue = active.queue

        def on_kick() -> None:
            drain_eventfd(active.eventfd)
            for chain in queue.iter(memory):
                data = chain.reader().read()
                written = chain.writer().write(data)
                queue.add_used(memory, chain.head_index, written)
            if queue.needs_notification(memory):
                interrupt.notify_queue(active.index)

        self.worker = EpollWorker("echo")
        self.worker.add(active.eventfd, on_kick)
        self.worker.start()
        self.activations += 1

    def reset(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.resets += 1
        super().reset()


class Rig:
    """The PCI bus, ECAM, the device's BAR on the MMIO bus, and the driver."""

    def __init__(self) -> None:
        self.memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
        self.echo = EchoDevice()
        self.msi = RecordingMsiGroup()
        self.device = VirtioPciDevice(self.echo, self.memory, self.msi)
        self.pci = PciBus()
        slot = self.pci.add_device(self.device).device
        allocator = BarAllocator(
            AddressAllocator(0xC000_0000, 0x1000_0000), AddressAllocator(1 << 36, 1 << 30)
        )
        (self.bar,) = self.device.allocate_bars(allocator)
        self.mmio = MmioBus()
        self.mmio.insert(PciConfigMmio(self.pci), ECAM_BASE, ECAM_BUS_SIZE)
        self.mmio.insert(self.device, self.bar.address, self.bar.size)
        self.driver = MockPciDriver(self.mmio, ECAM_BASE, slot)
        self.ring = MockSplitQueue(self.memory, 16, base=0x1000, event_idx=True)

    def start(self) -> int:
        assert self.driver.probe() == ECHO_TYPE
        self.driver.enable_msix(MESSAGES)
        wanted = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX | 1
        return self.driver.initialize(wanted, [self.ring])

    def close(self) -> None:
        self.device.close()
        self.memory.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.close()


def test_bar_is_a_64_bit_bar_in_the_64_bit_window(rig: Rig) -> None:
    assert rig.bar.kind is BarKind.MEMORY64
    assert rig.bar.address == 1 << 36
    assert rig.bar.size == 0x80000


def test_linux_init_sequence_reaches_driver_ok(rig: Rig) -> None:
    features = rig.start()
    assert features == VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX | 1
    assert rig.driver.status == 0xF
    assert rig.echo.acked_features == features
    assert rig.echo.activations == 1


def test_device_configuration_is_read_through_the_bar(rig: Rig) -> None:
    rig.start()
    assert rig.driver.device_config(0, 4) == int.from_bytes(b"echo", "little")


def test_a_kick_is_echoed_through_the_used_ring_with_an_msix_message(rig: Rig) -> None:
    rig.start()
    request = rig.ring.add_request([b"hello, ", b"virtio"], [16])
    rig.driver.kick(0)
    assert rig.msi.wait_for(1)
    assert rig.ring.collect_used() == [UsedElement(request.head, 13)]
    assert rig.ring.read_written(request, 13) == b"hello, virtio"
    assert rig.msi.delivered == [MESSAGES[1]]  # queue 0 was given vector 1


def test_ioeventfd_address_signals_the_queue_eventfd(rig: Rig) -> None:
    rig.driver.probe()
    (notify,) = rig.device.ioeventfds(rig.bar.address)
    assert notify.address == rig.driver.notify_address(0)
    rig.mmio.write(notify.address, b"\x00\x00")
    assert os.eventfd_read(notify.eventfd) == 1


def test_reset_stops_the_device_and_a_second_init_works(rig: Rig) -> None:
    rig.start()
    rig.driver.set_status(0)
    assert rig.driver.status == 0
    assert rig.echo.resets == 1
    assert rig.echo.worker is None
    rig.ring = MockSplitQueue(rig.memory, 8, base=0x8000)
    rig.driver.initialize(VIRTIO_F_VERSION_1, [rig.ring])
    request = rig.ring.add_request([b"again"], [5])
    rig.driver.kick(0)
    assert rig.msi.wait_for(1)
    assert rig.ring.read_written(request, 5) == b"again"


def test_a_queue_outside_guest_memory_asks_for_a_reset(rig: Rig) -> None:
    driver = rig.driver
    assert driver.probe() == ECHO_TYPE
    driver.enable_msix(MESSAGES)
    driver.set_status(DeviceStatus.ACKNOWLEDGE)
    driver.set_status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER)
    driver.common_write(0x08, 1, 4)
    driver.common_write(0x0C, VIRTIO_F_VERSION_1 >> 32, 4)
    driver.set_status(0xB)
    driver.common_write(0x10, 0, 2)  # configuration changes on vector 0
    driver.common_write(0x16, 0, 2)
    driver.common_write(0x20, 0xFFF0_0000, 4)  # descriptor table far outside the 1 MiB
    driver.common_write(0x1C, 1, 2)
    driver.set_status(0xF)
    assert driver.status == 0xF | DeviceStatus.DEVICE_NEEDS_RESET
    assert rig.echo.activations == 0
    assert rig.msi.delivered == [MESSAGES[0]]
    assert driver.common_read(0x15, 1) == 1, "config_generation moved with the change"
