"""Any guest access, any value, in any order: virtio-pci and the PCI plumbing never raise,
and the device status never breaks the spec's rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import event, given, settings
from hypothesis import strategies as st
from vm_devices import MmioBus, PioBus
from vm_devices.pci import (
    CONF1_ADDRESS_PORT,
    CONF1_LENGTH,
    ECAM_BUS_SIZE,
    PciBus,
    PciConfigIo,
    PciConfigMmio,
    RecordingMsiGroup,
)
from vm_devices.virtio import ActiveQueue, VirtioDeviceBase, VirtioInterrupt
from vm_devices.virtio.pci import BAR_SIZE, VirtioPciDevice
from vm_memory import GuestMemoryMmap

BAR = 0x1_0000_0000
ECAM = 0xE000_0000
ACK, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8


class StubDevice(VirtioDeviceBase):
    def __init__(self) -> None:
        super().__init__(2, (8, 256), 1 << 3)
        self._config = bytearray(64)
        self.memory: GuestMemoryMmap | None = None
        self.activations: list[list[ActiveQueue]] = []

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        self.memory = memory
        self.activations.append(list(queues))
        interrupt.notify_queue(queues[0].index if queues else 0)
        interrupt.notify_config()


@dataclass(frozen=True)
class Access:
    where: str  # "bar", "cfg", "conf1" or "ecam"
    write: bool
    offset: int
    size: int
    value: int


COMMON = [*range(0x3C), 0x2000, 0x4000, 0x4004, 0x6000, 0x6004, 0x6008]
MSIX = [0x8000 + i for i in range(0, 0x40, 4)] + [0x48000, 0x48004]
bar_offsets = st.one_of(
    st.sampled_from(COMMON + MSIX), st.integers(0, BAR_SIZE - 8), st.sampled_from([0x14] * 4)
)
values = st.one_of(
    st.sampled_from([0, 1, 3, 0xB, 0xF, 0x80, 0xFFFF, 0xFFFF_FFFF, 8, 256, 0x10000, 0x8000]),
    st.integers(0, 2**64 - 1),
)
sizes = st.sampled_from([1, 2, 4, 8])
accesses = st.one_of(
    st.builds(Access, st.just("bar"), st.booleans(), bar_offsets, sizes, values),
    st.builds(Access, st.just("cfg"), st.booleans(), st.integers(0, 4095), sizes, values),
    st.builds(Access, st.just("conf1"), st.booleans(), st.integers(0, 7), sizes, values),
    st.builds(Access, st.just("ecam"), st.booleans(), st.integers(0, (1 << 21) - 1), sizes, values),
)


# A well-behaved driver's initialisation; each example starts with some of it, so the
# random accesses also hit a device that is negotiating, set up or live.
INIT = [
    Access("bar", True, offset, size, value)
    for offset, size, value in (
        (0x14, 1, ACK),
        (0x14, 1, ACK | DRIVER),
        (0x08, 4, 1),
        (0x0C, 4, 1),  # VERSION_1
        (0x14, 1, 0xB),
        (0x16, 2, 0),
        (0x18, 2, 8),
        (0x20, 4, 0x1000),
        (0x28, 4, 0x1080),
        (0x30, 4, 0x2000),
        (0x1C, 2, 1),
        (0x14, 1, 0xF),
    )
]
programs = st.tuples(st.integers(0, len(INIT)), st.lists(accesses, max_size=120)).map(
    lambda drawn: INIT[: drawn[0]] + drawn[1]
)


def check_status(status: int) -> None:
    if status & DRIVER_OK:
        assert status & FEATURES_OK
    if status & FEATURES_OK:
        assert status & DRIVER
    if status & DRIVER:
        assert status & ACK
    assert not status & 0x30


@given(programs)
@settings(max_examples=250, deadline=None)
def test_random_accesses_never_raise_and_keep_status_rules(steps: list[Access]) -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 1 << 20)])
    stub = StubDevice()
    msi = RecordingMsiGroup()
    device = VirtioPciDevice(stub, memory, msi)
    device.config.set_bar_address(0, BAR)
    pci = PciBus()
    slot = pci.add_device(device).device
    pio, mmio = PioBus(), MmioBus()
    pio.insert(PciConfigIo(pci), CONF1_ADDRESS_PORT, CONF1_LENGTH)
    mmio.insert(PciConfigMmio(pci), ECAM, 2 * ECAM_BUS_SIZE)
    try:
        for step in steps:
            size = step.size
            value = (step.value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            data = memoryview(bytearray(b"\xa5" * size))
            if step.where == "bar":
                offset = min(step.offset, BAR_SIZE - size)
                if step.write:
                    device.write(BAR, offset, value)
                else:
                    device.read(BAR, offset, data)
            elif step.where == "cfg":
                if step.write:
                    pci.write_config(0, slot, 0, step.offset, value[: 4 - (step.offset & 3)])
                else:
                    assert 0 <= pci.read_config(0, slot, 0, step.offset >> 2) < 1 << 32
            else:
                bus, base = (pio, CONF1_ADDRESS_PORT) if step.where == "conf1" else (mmio, ECAM)
                address = base + step.offset
                if step.write:
                    bus.write(address, value)
                else:
                    bus.read(address, data)
            check_status(device.transport.status)
        for queues in stub.activations:
            for active in queues:
                assert active.queue.is_valid(memory)
        event(f"activated {min(len(stub.activations), 2)} times")
    finally:
        device.close()
        memory.close()
