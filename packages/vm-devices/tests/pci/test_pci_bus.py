"""Slots of the PCI bus, and BAR moves passed to the VMM and then to the device."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from vm_devices.pci import (
    BarAllocator,
    BarKind,
    BarReprogram,
    PciAddress,
    PciBar,
    PciBus,
    PciClass,
    PciConfiguration,
    PciDevice,
    PciHostBridge,
    PciSlotError,
)


class BarDevice:
    """A function with one 32-bit BAR that records the moves it is told about."""

    def __init__(self) -> None:
        self.config = PciConfiguration(0x1B36, 1, class_code=PciClass.OTHER)
        self.config.add_bar(0, 0x1000, BarKind.MEMORY32)
        self.config.set_bar_address(0, 0xC000_0000)
        self.moves: list[tuple[int, int]] = []

    def read_config_register(self, reg: int) -> int:
        return self.config.read_dword(reg)

    def write_config_register(
        self, reg: int, offset: int, data: bytes | memoryview
    ) -> BarReprogram | None:
        return self.config.write(reg * 4 + offset, data)

    def bars(self) -> Sequence[PciBar]:
        return self.config.bars()

    def allocate_bars(self, allocator: BarAllocator) -> Sequence[PciBar]:
        return ()

    def move_bar(self, old_base: int, new_base: int) -> None:
        self.moves.append((old_base, new_base))
        self.config.set_bar_address(0, new_base)


class Relocation:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.calls: list[tuple[PciDevice, BarReprogram]] = []

    def move_bar(self, device: PciDevice, reprogram: BarReprogram) -> None:
        self.calls.append((device, reprogram))
        if self.refuse:
            raise ValueError("overlaps RAM")


def test_host_bridge_sits_in_slot_0() -> None:
    pci = PciBus()
    assert isinstance(pci.device(0), PciHostBridge)
    assert [str(address) for address, _ in pci.devices()] == ["0000:00:00.0"]


def test_devices_take_the_lowest_free_slot() -> None:
    pci = PciBus(segment=1)
    first = pci.add_device(BarDevice())
    second = pci.add_device(BarDevice())
    assert (first, second) == (PciAddress(1, 0, 1), PciAddress(1, 0, 2))
    assert str(second) == "0001:00:02.0"
    assert second.devfn == 0x10


def test_a_taken_or_invalid_slot_is_refused() -> None:
    pci = PciBus()
    with pytest.raises(PciSlotError) as error:
        pci.add_device(BarDevice(), slot=0)
    assert error.value.slot == 0
    with pytest.raises(PciSlotError):
        pci.add_device(BarDevice(), slot=32)


def test_a_full_bus_is_refused() -> None:
    pci = PciBus()
    for _ in range(31):
        pci.add_device(BarDevice())
    with pytest.raises(PciSlotError, match="all 32 slots"):
        pci.add_device(BarDevice())


def test_removing_frees_the_slot() -> None:
    pci = PciBus()
    device = BarDevice()
    pci.add_device(device, slot=7)
    assert pci.remove_device(7) is device
    assert pci.read_config(0, 7, 0, 0) == 0xFFFF_FFFF
    with pytest.raises(PciSlotError):
        pci.remove_device(7)


def test_bar_move_goes_to_the_vmm_then_to_the_device() -> None:
    relocation = Relocation()
    pci = PciBus(relocation)
    device = BarDevice()
    pci.add_device(device, slot=1)
    pci.write_config(0, 1, 0, 0x10, (0xC010_0000).to_bytes(4, "little"))
    assert relocation.calls == [
        (device, BarReprogram(0, BarKind.MEMORY32, 0xC000_0000, 0xC010_0000, 0x1000))
    ]
    assert device.moves == [(0xC000_0000, 0xC010_0000)]


def test_a_refused_move_leaves_the_bar_where_it_was_decoded() -> None:
    relocation = Relocation(refuse=True)
    pci = PciBus(relocation)
    device = BarDevice()
    pci.add_device(device, slot=1)
    pci.write_config(0, 1, 0, 0x10, b"\x00\x00\x00\x00")
    assert len(relocation.calls) == 1
    assert device.moves == []
    assert device.config.bar(0).address == 0xC000_0000


def test_sizing_probe_does_not_reach_the_vmm() -> None:
    relocation = Relocation()
    pci = PciBus(relocation)
    pci.add_device(BarDevice(), slot=1)
    pci.write_config(0, 1, 0, 0x10, b"\xff\xff\xff\xff")
    assert pci.read_config(0, 1, 0, 4) == 0xFFFF_F000
    pci.write_config(0, 1, 0, 0x10, (0xC000_0000).to_bytes(4, "little"))
    assert relocation.calls == []
