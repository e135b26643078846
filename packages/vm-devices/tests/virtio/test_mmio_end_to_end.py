"""A guest driver's whole life with a virtio-mmio device: probe, init, kick, interrupt, echo."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from virtio_queue import MockSplitQueue, UsedElement
from vm_devices import CallbackInterrupt, MmioBus
from vm_devices.virtio import (
    VIRTIO_F_RING_EVENT_IDX,
    VIRTIO_F_VERSION_1,
    ActiveQueue,
    EpollWorker,
    VirtioDeviceBase,
    VirtioInterrupt,
    drain_eventfd,
)
from vm_devices.virtio.mmio import VirtioMmioDevice, mmio_cmdline
from vm_devices.virtio.mock_driver import MockMmioDriver
from vm_memory import GuestMemoryMmap

BASE = 0xD000_0000
ECHO_TYPE = 42


class EchoDevice(VirtioDeviceBase):
    """One queue; each request's readable bytes are copied into its writable buffers."""

    def __init__(self) -> None:
        super().__init__(ECHO_TYPE, [16], features=0)
        self.worker: EpollWorker | None = None

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        (active,) = queues

        def on_kick() -> None:
            drain_eventfd(active.eventfd)
            for chain in active.queue.iter(memory):
                written = chain.writer().write(chain.reader().read())
                active.queue.add_used(memory, chain.head_index, written)
            if active.queue.needs_notification(memory):
                interrupt.notify_queue(active.index)

        self.worker = EpollWorker("echo")
        self.worker.add(active.eventfd, on_kick)
        self.worker.start()

    def reset(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        super().reset()


def test_echo_round_trip_through_virtio_mmio() -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
    interrupted = threading.Event()

    def line(level: bool) -> None:
        if level:
            interrupted.set()

    device = VirtioMmioDevice(EchoDevice(), memory, CallbackInterrupt(line))
    bus = MmioBus()
    bus.insert(device, BASE, 0x1000)
    assert mmio_cmdline(BASE, 5) == "virtio_mmio.device=4K@0xd0000000:5"
    driver = MockMmioDriver(bus, BASE)
    ring = MockSplitQueue(memory, 16, base=0x1000, event_idx=True)
    try:
        assert driver.probe() == ECHO_TYPE
        features = driver.initialize(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX, [ring])
        assert features == VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX
        assert driver.reg(0x070) == 0xF
        request = ring.add_request([b"ping"], [8])
        driver.kick(0)
        assert interrupted.wait(5)
        assert driver.acknowledge() == 1
        assert driver.reg(0x060) == 0
        assert ring.collect_used() == [UsedElement(request.head, 4)]
        assert ring.read_written(request, 4) == b"ping"
    finally:
        device.close()
        memory.close()
