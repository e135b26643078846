"""The device manager puts each virtio device in a PCI slot, its BAR on the MMIO bus, its
vectors on irqfds and its queue notifications on ioeventfds (no KVM: `vmm.testing.fake_kvm`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kvm_ioctls import MmioAddress
from vm_devices import MmioBus, PioBus
from vm_devices.testing import PortIo
from vm_devices.virtio.devices.rng import Rng
from vm_memory import GuestMemoryMmap
from vmm.arch import layout
from vmm.device_manager import MMIO32_START, DeviceManager, DeviceSpec
from vmm.errors import VmmError
from vmm.testing.fake_kvm import FakeKvm, FakeVm

VIRTIO_RNG_ID = 0x1044_1AF4  # device 0x1040 + type 4, vendor 0x1AF4
BAR0 = 0x10


@dataclass
class Board:
    vm: FakeVm
    manager: DeviceManager
    ports: PortIo
    mmio: MmioBus

    def conf1_read(self, slot: int, register: int) -> int:
        self.ports.outl(0xCF8, 0x8000_0000 | slot << 11 | register)
        return self.ports.inl(0xCFC)

    def conf1_write(self, slot: int, register: int, value: int) -> None:
        self.ports.outl(0xCF8, 0x8000_0000 | slot << 11 | register)
        self.ports.outl(0xCFC, value)

    def decodes(self, address: int) -> bool:
        """Whether a device on the MMIO bus claims a read at `address`."""
        return self.mmio.read(address, memoryview(bytearray(4)))

    def node(self, device_id: str) -> dict[str, object]:
        return self.manager.device_nodes()[device_id]

    def resources(self, device_id: str) -> list[Any]:
        resources = self.node(device_id)["resources"]
        assert isinstance(resources, list)
        return resources

    def bar(self, device_id: str) -> range:
        (mmio, _) = self.resources(device_id)
        base, size = mmio["MmioAddressRange"]["base"], mmio["MmioAddressRange"]["size"]
        return range(base, base + size)

    def notify_addresses(self) -> list[int]:
        return [a.address for _, a in self.vm.ioevents if isinstance(a, MmioAddress)]


@contextlib.contextmanager
def _board(kvm: FakeKvm) -> Iterator[Board]:
    vm = kvm.create_vm()
    with GuestMemoryMmap.from_ranges([(0, 1 << 20)]) as memory:
        pio, mmio = PioBus(), MmioBus()
        manager = DeviceManager(vm, memory, pio, mmio)
        try:
            yield Board(vm, manager, PortIo(pio), mmio)
        finally:
            manager.close()


@pytest.fixture
def board() -> Iterator[Board]:
    with _board(FakeKvm()) as board:
        yield board


def rng(device_id: str, slot: int | None = None, src: str = "/dev/urandom") -> DeviceSpec:
    return DeviceSpec(device_id, lambda stack: Rng(src, name=device_id), pci_slot=slot)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# Slots and configuration space -------------------------------------------------------------


def test_the_pci_bus_answers_on_the_conf1_ports_and_in_ecam(board: Board) -> None:
    board.manager.add(rng("rng0", slot=3))
    ecam = bytearray(4)
    assert board.mmio.read(layout.PCI_MMCONFIG_START + (3 << 15), memoryview(ecam))
    assert board.conf1_read(3, 0) == int.from_bytes(ecam, "little") == VIRTIO_RNG_ID


def test_devices_take_the_lowest_free_slots_after_the_host_bridge(board: Board) -> None:
    board.manager.add(rng("rng0"))
    board.manager.add(rng("rng1"))
    assert [board.node(i)["pci_bdf"] for i in ("rng0", "rng1")] == ["0000:00:01.0", "0000:00:02.0"]


def test_a_device_given_a_slot_is_placed_there(board: Board) -> None:
    board.manager.add(rng("rng0", slot=7))
    assert board.node("rng0")["pci_bdf"] == "0000:00:07.0"
    assert board.conf1_read(7, 0) == VIRTIO_RNG_ID
    assert board.conf1_read(1, 0) == 0xFFFF_FFFF


def test_a_taken_slot_is_refused_naming_the_device_and_frees_it(board: Board) -> None:
    board.manager.add(rng("rng0", slot=5))
    before = _open_fds()
    with pytest.raises(VmmError, match=r"^rng1: cannot attach to the PCI bus: .*5"):
        board.manager.add(rng("rng1", slot=5))
    assert list(board.manager.device_nodes()) == ["rng0"]
    assert _open_fds() == before


def test_a_device_that_cannot_be_opened_is_refused_naming_it(board: Board) -> None:
    with pytest.raises(VmmError, match=r"^rng0: .*/nonexistent"):
        board.manager.add(rng("rng0", src="/nonexistent"))
    assert (board.vm.irqfds, board.vm.ioevents) == ({}, set())


def test_a_kvm_refusal_while_attaching_is_a_vmm_error_and_frees_the_device() -> None:
    with _board(FakeKvm(fail_at=("register_ioevent", 1))) as board:
        before = _open_fds()
        with pytest.raises(
            VmmError, match=r"^rng0: cannot attach to the PCI bus: register_ioevent"
        ):
            board.manager.add(rng("rng0"))
        assert _open_fds() == before
        assert board.manager.device_nodes() == {}


# Interrupts and notifications --------------------------------------------------------------


def test_each_msi_vector_is_an_irqfd_on_its_own_gsi_above_the_ioapic_pins(board: Board) -> None:
    board.manager.add(rng("rng0"))  # one queue: a config vector and a queue vector
    board.manager.add(rng("rng1"))
    assert sorted(board.vm.irqfds.values()) == [24, 25, 26, 27]
    resources = [board.resources(i)[1] for i in ("rng0", "rng1")]
    assert resources == [
        {"MsiIrqs": {"first": 24, "count": 2}},
        {"MsiIrqs": {"first": 26, "count": 2}},
    ]


def test_each_queue_notification_is_an_ioeventfd_inside_the_bar(board: Board) -> None:
    board.manager.add(rng("rng0"))
    (address,) = board.notify_addresses()
    assert address in board.bar("rng0")
    ((eventfd, _),) = board.vm.ioevents
    assert eventfd not in board.vm.irqfds


# The BAR -----------------------------------------------------------------------------------


def test_bars_are_placed_in_the_32bit_window_below_ecam(board: Board) -> None:
    board.manager.add(rng("rng0"))
    bar = board.bar("rng0")
    assert bar.start >= MMIO32_START
    assert bar.stop <= layout.PCI_MMCONFIG_START


def test_the_bar_is_decoded_on_the_mmio_bus(board: Board) -> None:
    board.manager.add(rng("rng0"))
    bar = board.bar("rng0")
    assert board.decodes(bar.start)
    assert board.decodes(bar.stop - 4)
    assert not board.decodes(bar.stop)


def test_a_bar_the_guest_moves_is_decoded_and_notified_at_its_new_address(board: Board) -> None:
    board.manager.add(rng("rng0", slot=2))
    old = board.bar("rng0")
    new_base = old.start + 0x10_0000
    board.conf1_write(2, BAR0, new_base)  # a 64-bit BAR moves when its high half is written,
    board.conf1_write(2, BAR0 + 4, 0)  # as Linux writes it: low, then high
    new = board.bar("rng0")
    assert new == range(new_base, new_base + len(old))
    assert not board.decodes(old.start)
    assert board.decodes(new.start)
    assert [address in new for address in board.notify_addresses()] == [True]


# Reports and release -----------------------------------------------------------------------


def test_counters_are_each_devices_own_under_its_id(board: Board) -> None:
    board.manager.add(rng("entropy"))
    counters = board.manager.counters()
    assert list(counters) == ["entropy"]
    assert all(isinstance(value, int) for value in counters["entropy"].values())


def test_close_releases_every_devices_fds(board: Board) -> None:
    before = _open_fds()
    board.manager.add(rng("rng0"))
    board.manager.add(rng("rng1"))
    assert _open_fds() > before
    board.manager.close()
    assert _open_fds() == before
    assert board.manager.device_nodes() == {}
