"""The devices behind the real transports: virtio-blk on virtio-pci (MSI-X) and
virtio-rng on virtio-mmio (an interrupt line), driven over the buses as Linux
drives them. The transports call activate() and reset(); the devices serve."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

from virtio_queue import MockSplitQueue
from vm_devices import CallbackInterrupt, MmioBus
from vm_devices.pci import (
    ECAM_BUS_SIZE,
    AddressAllocator,
    BarAllocator,
    MsiMessage,
    PciBus,
    PciConfigMmio,
    RecordingMsiGroup,
)
from vm_devices.virtio import (
    MMIO_SIZE,
    VIRTIO_F_RING_EVENT_IDX,
    VIRTIO_F_VERSION_1,
    VirtioMmioDevice,
    VirtioPciDevice,
)
from vm_devices.virtio.devices import Block, Rng
from vm_devices.virtio.mock_driver import MockMmioDriver, MockPciDriver
from vm_memory import GuestMemoryMmap

ECAM = 0xE000_0000
HEADER = struct.Struct("<IIQ")


def test_block_on_virtio_pci_reads_a_sector_and_raises_its_msi(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(os.urandom(64 << 10))
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
    mmio = MmioBus()
    pci = PciBus()
    mmio.insert(PciConfigMmio(pci), ECAM, ECAM_BUS_SIZE)
    bars = BarAllocator(
        AddressAllocator(0xC000_0000, 0x1000_0000), AddressAllocator(1 << 36, 1 << 36)
    )
    msi = RecordingMsiGroup()
    block = Block(image)
    device = VirtioPciDevice(block, memory, msi)
    address = pci.add_device(device)
    (bar,) = device.allocate_bars(bars)
    mmio.insert(device, bar.address, bar.size)
    try:
        driver = MockPciDriver(mmio, ECAM, address.device)
        assert driver.probe() == 2  # virtio-blk
        driver.enable_msix([MsiMessage(0xFEE0_0000, vector) for vector in range(2)])
        ring = MockSplitQueue(memory, 64, base=0x1000, event_idx=True)
        features = driver.initialize(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX, [ring])
        assert features == VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX
        assert driver.device_config(0, 8) == 128  # capacity in sectors
        request = ring.add_request([HEADER.pack(0, 0, 3)], [512, 1])
        driver.kick(0)
        assert msi.wait_for(1)
        assert msi.vectors == [1]  # queue 0's vector
        assert ring.collect_used()[0].len == 513
        assert ring.read_written(request, 512) == image.read_bytes()[1536:2048]
        driver.set_status(0)  # the driver resets: the device stops serving
        assert not block.active
    finally:
        device.close()
        block.shutdown()
        memory.close()


def test_rng_on_virtio_mmio_fills_a_buffer_and_raises_its_line() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
    levels: list[bool] = []
    raised = threading.Event()

    def line(level: bool) -> None:
        levels.append(level)
        raised.set()

    mmio = MmioBus()
    rng = Rng()
    device = VirtioMmioDevice(rng, memory, CallbackInterrupt(line))
    mmio.insert(device, 0xD000_0000, MMIO_SIZE)
    try:
        driver = MockMmioDriver(mmio, 0xD000_0000)
        assert driver.probe() == 4  # virtio-rng
        ring = MockSplitQueue(memory, 16, base=0x1000)
        driver.initialize(VIRTIO_F_VERSION_1, [ring])
        request = ring.add_request(writable=[64])
        driver.kick(0)
        assert raised.wait(5)
        assert levels[0] is True
        assert driver.acknowledge() & 1  # a used buffer
        assert ring.collect_used()[0].len == 64
        assert ring.read_written(request, 64) != bytes(64)
    finally:
        device.close()
        rng.shutdown()
        memory.close()
