"""CONF1 ports and ECAM reach the bus's functions as the PCI and PCIe specs address them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vm_devices import MmioBus, PioBus
from vm_devices.pci import (
    CONF1_ADDRESS_PORT,
    CONF1_LENGTH,
    ECAM_BUS_SIZE,
    BarAllocator,
    BarKind,
    BarReprogram,
    CapabilityId,
    PciBar,
    PciBus,
    PciClass,
    PciConfigIo,
    PciConfigMmio,
    PciConfiguration,
    conf1_address,
    ecam_offset,
)
from vm_devices.testing import PortIo

ECAM_BASE = 0xE000_0000


class PlainDevice:
    """A function with a configuration space and nothing else."""

    def __init__(self, device_id: int = 0x1234) -> None:
        self.config = PciConfiguration(0x1B36, device_id, class_code=PciClass.OTHER)
        self.writes: list[tuple[int, int, bytes]] = []

    def read_config_register(self, reg: int) -> int:
        return self.config.read_dword(reg)

    def write_config_register(
        self, reg: int, offset: int, data: bytes | memoryview
    ) -> BarReprogram | None:
        self.writes.append((reg, offset, bytes(data)))
        return self.config.write(reg * 4 + offset, data)

    def bars(self) -> Sequence[PciBar]:
        return self.config.bars()

    def allocate_bars(self, allocator: BarAllocator) -> Sequence[PciBar]:
        return ()

    def move_bar(self, old_base: int, new_base: int) -> None:
        pass


def conf1() -> tuple[PciBus, PortIo]:
    pci = PciBus()
    pio = PioBus()
    pio.insert(PciConfigIo(pci), CONF1_ADDRESS_PORT, CONF1_LENGTH)
    return pci, PortIo(pio)


def ecam() -> tuple[PciBus, MmioBus]:
    pci = PciBus()
    mmio = MmioBus()
    mmio.insert(PciConfigMmio(pci), ECAM_BASE, ECAM_BUS_SIZE)
    return pci, mmio


def ecam_read(mmio: MmioBus, address: int, size: int) -> int:
    data = bytearray(size)
    assert mmio.read(address, memoryview(data))
    return int.from_bytes(data, "little")


def find_capability(read: Callable[[int, int], int], cap_id: int) -> int:
    """Linux's pci_find_capability: status bit, pointer at 0x34, at most 48 hops."""
    if not read(0x06, 2) & 0x10:
        return 0
    position = read(0x34, 1)
    for _ in range(48):
        if position < 0x40:
            break
        position &= ~3
        entry = read(position, 2)
        if entry & 0xFF == 0xFF:
            break
        if entry & 0xFF == cap_id:
            return position
        position = entry >> 8
    return 0


def test_host_bridge_answers_at_00_00_0() -> None:
    _, io = conf1()
    io.outl(0xCF8, conf1_address(0, 0, 0, 0))
    assert io.inl(0xCFC) == 0x0D57_8086
    io.outl(0xCF8, conf1_address(0, 0, 0, 0x08))
    assert io.inl(0xCFC) >> 16 == 0x0600  # bridge, host


def test_conf1_address_register_reads_back_as_linux_probes_it() -> None:
    _, io = conf1()
    io.outb(0xCFB, 0x01)  # pci_check_type1 writes this byte first
    io.outl(0xCF8, 0x8000_0000)
    assert io.inl(0xCF8) == 0x8000_0000


def test_conf1_data_ports_reach_bytes_and_words_of_the_dword() -> None:
    pci, io = conf1()
    pci.add_device(PlainDevice(0xBEEF), slot=3)
    io.outl(0xCF8, conf1_address(0, 3, 0, 0))
    assert io.inw(0xCFC) == 0x1B36
    assert io.inw(0xCFE) == 0xBEEF
    assert io.inb(0xCFF) == 0xBE


def test_conf1_without_the_enable_bit_reads_all_ones() -> None:
    _, io = conf1()
    io.outl(0xCF8, conf1_address(0, 0, 0, 0) & 0x7FFF_FFFF)
    assert io.inl(0xCFC) == 0xFFFF_FFFF


def test_absent_slot_function_and_bus_read_all_ones() -> None:
    pci, io = conf1()
    pci.add_device(PlainDevice(), slot=1)
    for bus, slot, function in ((0, 2, 0), (0, 1, 1), (1, 1, 0), (0, 31, 7)):
        io.outl(0xCF8, conf1_address(bus, slot, function, 0))
        assert io.inl(0xCFC) == 0xFFFF_FFFF


def test_conf1_writes_reach_the_device_with_their_byte_offset() -> None:
    pci, io = conf1()
    device = PlainDevice()
    pci.add_device(device, slot=2)
    io.outl(0xCF8, conf1_address(0, 2, 0, 0x3C))
    io.outb(0xCFC, 0x0A)
    io.outw(0xCFE, 0x1234)
    assert device.writes == [(15, 0, b"\x0a"), (15, 2, b"\x34\x12")]


def test_ecam_offsets_select_bus_device_function_and_register() -> None:
    pci, mmio = ecam()
    pci.add_device(PlainDevice(0xCAFE), slot=5)
    assert ecam_offset(0, 5, 0, 2) == 5 << 15 | 2
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 5, 0, 0), 4) == 0xCAFE_1B36
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 5, 0, 2), 2) == 0xCAFE
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 5, 1, 0), 4) == 0xFFFF_FFFF
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 6, 0, 0), 4) == 0xFFFF_FFFF


def test_ecam_reaches_extended_space_which_reads_zero() -> None:
    _, mmio = ecam()
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 0, 0, 0x100), 4) == 0


def test_ecam_accesses_straddling_a_dword_read_all_ones_and_write_nothing() -> None:
    pci, mmio = ecam()
    device = PlainDevice()
    pci.add_device(device, slot=1)
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 1, 0, 3), 2) == 0xFFFF
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 1, 0, 0), 8) == 2**64 - 1
    mmio.write(ECAM_BASE + ecam_offset(0, 1, 0, 0x3E), b"\x01\x02\x03\x04")
    assert device.writes == []


def test_ecam_writes_reach_the_device() -> None:
    pci, mmio = ecam()
    device = PlainDevice()
    pci.add_device(device, slot=1)
    mmio.write(ECAM_BASE + ecam_offset(0, 1, 0, 0x3D), b"\x07")
    assert device.writes == [(15, 1, b"\x07")]


def test_ecam_bus_numbers_start_at_start_bus() -> None:
    pci = PciBus(bus=1)
    mmio = MmioBus()
    mmio.insert(PciConfigMmio(pci, start_bus=1), ECAM_BASE, ECAM_BUS_SIZE)
    assert ecam_read(mmio, ECAM_BASE, 2) == 0x8086


def test_capability_walk_as_linux_does_it_over_conf1() -> None:
    pci, io = conf1()
    device = PlainDevice()
    device.config.add_capability(CapabilityId.VENDOR_SPECIFIC, bytes(14))
    device.config.add_capability(CapabilityId.VENDOR_SPECIFIC, bytes(18))
    msix = device.config.add_capability(CapabilityId.MSIX, bytes(10))
    pci.add_device(device, slot=4)

    def read(offset: int, size: int) -> int:
        io.outl(0xCF8, conf1_address(0, 4, 0, offset))
        return io.read(0xCFC + (offset & 3), size)

    assert find_capability(read, CapabilityId.MSIX) == msix
    assert find_capability(read, CapabilityId.VENDOR_SPECIFIC) == 0x40
    assert find_capability(read, CapabilityId.PCI_EXPRESS) == 0


def test_host_bridge_has_no_capabilities_and_no_bars() -> None:
    _, mmio = ecam()

    def read(offset: int, size: int) -> int:
        return ecam_read(mmio, ECAM_BASE + offset, size)

    assert find_capability(read, CapabilityId.MSIX) == 0
    for bar in range(6):
        mmio.write(ECAM_BASE + 0x10 + 4 * bar, b"\xff\xff\xff\xff")
        assert read(0x10 + 4 * bar, 4) == 0


def test_bar_sizing_through_ecam() -> None:
    pci, mmio = ecam()
    device = PlainDevice()
    device.config.add_bar(0, 0x10_0000, BarKind.MEMORY32)
    pci.add_device(device, slot=1)
    mmio.write(ECAM_BASE + ecam_offset(0, 1, 0, 0x10), b"\xff\xff\xff\xff")
    assert ecam_read(mmio, ECAM_BASE + ecam_offset(0, 1, 0, 0x10), 4) == 0xFFF0_0000
