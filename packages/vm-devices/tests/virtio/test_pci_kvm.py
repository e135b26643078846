"""Real KVM: guest kicks of a virtio-pci queue are ioeventfds and never leave the kernel,
and they follow the BAR when the guest moves it through CONF1.

A tiny 64-bit guest writes the queue notify addresses that
``VirtioPciDevice.ioeventfds`` gave the VMM; only its other accesses (a
status write, CONF1 port I/O) come back to Python and are routed through the
buses as a VMM routes them.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence

import pytest
from kvm_ioctls import Hlt, IoIn, IoOut, Kvm, MmioAddress, MmioRead, MmioWrite, VmFd
from kvm_ioctls.testing import CpuMode, TinyGuest
from vm_devices import MmioBus, PioBus
from vm_devices.pci import (
    CONF1_ADDRESS_PORT,
    CONF1_LENGTH,
    AddressAllocator,
    BarAllocator,
    BarReprogram,
    PciBus,
    PciConfigIo,
    PciDevice,
    RecordingMsiGroup,
    conf1_address,
)
from vm_devices.virtio import ActiveQueue, DeviceType, VirtioDeviceBase, VirtioInterrupt
from vm_devices.virtio.pci import NOTIFY_OFFSET, VirtioPciDevice
from vm_memory import GuestMemoryMmap

pytestmark = pytest.mark.kvm

MMIO32 = 0xC000_0000


class TwoQueues(VirtioDeviceBase):
    def __init__(self) -> None:
        super().__init__(DeviceType.BLOCK, (128, 128), 0)

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        """Not activated in these tests."""


class KvmRelocation:
    """What a VMM does on a BAR move: the MMIO bus range and the ioeventfds follow it."""

    def __init__(self, vm: VmFd, mmio: MmioBus) -> None:
        self.vm = vm
        self.mmio = mmio
        self.moves: list[BarReprogram] = []

    def move_bar(self, device: PciDevice, reprogram: BarReprogram) -> None:
        assert isinstance(device, VirtioPciDevice)
        for notify in device.ioeventfds(reprogram.old_base):
            self.vm.unregister_ioevent(notify.eventfd, MmioAddress(notify.address))
        self.mmio.remove(reprogram.old_base)
        self.mmio.insert(device, reprogram.new_base, reprogram.length)
        for notify in device.ioeventfds(reprogram.new_base):
            self.vm.register_ioevent(notify.eventfd, MmioAddress(notify.address))
        self.moves.append(reprogram)


class Machine:
    """A tiny guest with a virtio-pci device in slot 1, its BAR below 4 GiB."""

    def __init__(self, kvm: Kvm, code: bytes) -> None:
        self.guest = TinyGuest(kvm, code, CpuMode.LONG)
        self.memory = GuestMemoryMmap.from_ranges([(0, 1 << 16)])  # the device's view (unused)
        self.device = VirtioPciDevice(TwoQueues(), self.memory, RecordingMsiGroup())
        self.mmio, self.pio = MmioBus(), PioBus()
        self.relocation = KvmRelocation(self.guest.vm, self.mmio)
        self.pci = PciBus(self.relocation)
        self.slot = self.pci.add_device(self.device).device
        self.pio.insert(PciConfigIo(self.pci), CONF1_ADDRESS_PORT, CONF1_LENGTH)
        (bar,) = self.device.allocate_bars(BarAllocator(AddressAllocator(MMIO32, 1 << 28)))
        self.mmio.insert(self.device, bar.address, bar.size)
        for notify in self.device.ioeventfds(bar.address):
            self.guest.vm.register_ioevent(notify.eventfd, MmioAddress(notify.address))
        self.mmio_exits: list[int] = []

    def run(self) -> None:
        """The VMM's vCPU loop, until HLT."""
        for _ in range(100):
            match self.guest.vcpu.run():
                case Hlt():
                    return
                case IoOut(port, data):
                    self.pio.write(port, data)
                case IoIn(port, data):
                    if not self.pio.read(port, data):
                        data[:] = b"\xff" * len(data)
                case MmioWrite(address, data):
                    self.mmio_exits.append(address)
                    self.mmio.write(address, data)
                case MmioRead(address, data):
                    self.mmio_exits.append(address)
                    if not self.mmio.read(address, data):
                        data[:] = b"\xff" * len(data)
                case other:
                    raise AssertionError(f"unexpected exit {other!r}")
        raise AssertionError("the guest did not halt")

    def close(self) -> None:
        self.device.close()
        self.guest.close()
        self.memory.close()


def counter(fd: int) -> int:
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0


def mov_esi(value: int) -> bytes:
    return b"\xbe" + struct.pack("<I", value)


def out_dword(port: int, value: int) -> bytes:
    """mov dx, port; mov eax, value; out dx, eax"""
    return b"\x66\xba" + struct.pack("<H", port) + b"\xb8" + struct.pack("<I", value) + b"\xef"


STORE_WORD_0 = b"\x66\xc7\x06\x00\x00"  # mov word [rsi], 0
STORE_WORD_1_AT_4 = b"\x66\xc7\x46\x04\x01\x00"  # mov word [rsi+4], 1
HLT = b"\xf4"


@pytest.fixture
def kvm() -> Iterator[Kvm]:
    with Kvm() as kvm:
        yield kvm


def test_guest_kicks_signal_the_queue_eventfds_without_an_exit(kvm: Kvm) -> None:
    notify = MMIO32 + NOTIFY_OFFSET
    status_displacement = struct.pack("<i", 0x14 - NOTIFY_OFFSET)
    code = (
        mov_esi(notify)
        + STORE_WORD_0  # kick queue 0
        + STORE_WORD_1_AT_4  # kick queue 1
        + b"\xc6\x86"
        + status_displacement
        + b"\x01"  # mov byte [rsi-0x5fec], 1: status ACK
        + HLT
    )
    machine = Machine(kvm, code)
    try:
        assert machine.device.bar_address == MMIO32
        machine.run()
        first, second = machine.device.ioeventfds(MMIO32)
        assert (counter(first.eventfd), counter(second.eventfd)) == (1, 1)
        assert machine.mmio_exits == [MMIO32 + 0x14], "only the status write left KVM"
        assert machine.device.transport.status == 1
    finally:
        machine.close()


def test_ioeventfds_follow_a_bar_the_guest_moves_through_conf1(kvm: Kvm) -> None:
    moved = MMIO32 + 0x80000
    slot = 1
    code = (
        out_dword(0xCF8, conf1_address(0, slot, 0, 0x10))
        + out_dword(0xCFC, moved)
        + out_dword(0xCF8, conf1_address(0, slot, 0, 0x14))
        + out_dword(0xCFC, 0)
        + mov_esi(moved + NOTIFY_OFFSET)
        + STORE_WORD_0
        + HLT
    )
    machine = Machine(kvm, code)
    try:
        assert machine.slot == slot
        machine.run()
        assert [move.new_base for move in machine.relocation.moves] == [moved]
        assert machine.device.bar_address == moved
        assert counter(machine.device.ioeventfds(moved)[0].eventfd) == 1
        assert machine.mmio_exits == []
        assert [r.base for r, _ in machine.mmio.devices()] == [moved]
    finally:
        machine.close()
