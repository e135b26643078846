"""Any guest access, any value, in any order: virtio-mmio never raises, keeps the status rules."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import event, given, settings
from hypothesis import strategies as st
from vm_devices import CallbackInterrupt, MmioBus
from vm_devices.virtio import ActiveQueue, VirtioDeviceBase, VirtioInterrupt
from vm_devices.virtio.mmio import VirtioMmioDevice
from vm_memory import GuestMemoryMmap

BASE = 0xD000_0000
ACK, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8


class StubDevice(VirtioDeviceBase):
    def __init__(self) -> None:
        super().__init__(1, (8, 256), 1 << 5)
        self._config = bytearray(12)
        self.activations: list[list[ActiveQueue]] = []

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        self.activations.append(list(queues))
        interrupt.notify_queue(0)
        interrupt.notify_config()


REGISTERS = [*range(0, 0x100, 4), 0x100, 0x104]
offsets = st.one_of(st.sampled_from(REGISTERS), st.integers(0, 0xFF8))
values = st.one_of(
    st.sampled_from([0, 1, 3, 0xB, 0xF, 8, 256, 0xFFFF_FFFF, 0x1000]), st.integers(0, 2**64 - 1)
)
# A well-behaved driver's initialisation; each example starts with some of it.
INIT = [
    (True, offset, 4, value)
    for offset, value in (
        (0x070, ACK),
        (0x070, ACK | DRIVER),
        (0x024, 1),
        (0x020, 1),  # VERSION_1
        (0x070, 0xB),
        (0x030, 0),
        (0x038, 8),
        (0x080, 0x1000),
        (0x090, 0x1080),
        (0x0A0, 0x2000),
        (0x044, 1),
        (0x070, 0xF),
    )
]
accesses = st.tuples(st.booleans(), offsets, st.sampled_from([1, 2, 4, 8]), values)
steps = st.tuples(st.integers(0, len(INIT)), st.lists(accesses, max_size=150)).map(
    lambda drawn: INIT[: drawn[0]] + drawn[1]
)


@given(steps)
@settings(max_examples=300, deadline=None)
def test_random_accesses_never_raise_and_keep_status_rules(
    sequence: list[tuple[bool, int, int, int]],
) -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
    stub = StubDevice()
    edges: list[bool] = []
    device = VirtioMmioDevice(stub, memory, CallbackInterrupt(edges.append))
    bus = MmioBus()
    bus.insert(device, BASE, 0x1000)
    try:
        for write, offset, size, value in sequence:
            if write:
                bus.write(BASE + offset, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
            else:
                data = bytearray(size)
                assert bus.read(BASE + offset, memoryview(data))
            status = device.transport.status
            assert not status & DRIVER_OK or status & FEATURES_OK
            assert not status & FEATURES_OK or status & DRIVER
            assert not status & DRIVER or status & ACK
            assert 0 <= device.interrupt_status <= 3
        for queues in stub.activations:
            assert all(active.queue.is_valid(memory) for active in queues)
        event(f"activated {min(len(stub.activations), 2)} times")
    finally:
        device.close()
        memory.close()
