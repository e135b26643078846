"""The type-0 configuration space: read-only fields, writable masks, BAR sizing and moves."""

from __future__ import annotations

import pytest
from vm_devices.errors import DeviceConfigError
from vm_devices.pci import (
    BarKind,
    BarReprogram,
    CapabilityId,
    CapabilitySpaceFullError,
    InvalidBarError,
    PciClass,
    PciConfiguration,
)


def make_config() -> PciConfiguration:
    return PciConfiguration(
        0x1AF4,
        0x1042,
        class_code=PciClass.MASS_STORAGE,
        subclass=0x80,
        prog_if=0x01,
        revision=1,
        subsystem_vendor_id=0x1AF4,
        subsystem_id=0x42,
    )


def write_dword(config: PciConfiguration, offset: int, value: int) -> BarReprogram | None:
    return config.write(offset, value.to_bytes(4, "little"))


def test_header_holds_ids_class_revision_and_subsystem() -> None:
    config = make_config()
    assert config.read_dword(0) == 0x1042_1AF4
    assert config.read_dword(2) == 0x0180_0101  # class 01, subclass 80, prog-if 01, rev 1
    assert config.read_dword(0x2C // 4) == 0x0042_1AF4
    assert config.read(0x0E, 1) == 0  # header type 0, single function


def test_guest_cannot_change_read_only_fields() -> None:
    config = make_config()
    before = [config.read_dword(reg) for reg in range(64)]
    for offset in (0x00, 0x08, 0x0C, 0x2C, 0x30, 0x34):
        write_dword(config, offset, 0xFFFF_FFFF)
    after = [config.read_dword(reg) for reg in range(64)]
    changed = {reg for reg in range(64) if before[reg] != after[reg]}
    assert changed == {0x0C // 4}  # cache line size and latency timer only
    assert config.read(0x0C, 2) == 0xFFFF
    assert config.read(0x0E, 2) == 0


def test_command_register_keeps_only_the_defined_bits() -> None:
    config = make_config()
    config.write(0x04, b"\xff\xff")
    assert config.read(0x04, 2) == 0x0547
    assert config.read(0x06, 2) == 0, "status is read-only"


def test_interrupt_line_is_writable_and_pin_is_not() -> None:
    config = PciConfiguration(1, 2, class_code=0xFF, interrupt_pin=1)
    config.write(0x3C, b"\x0b\x04")
    assert config.read(0x3C, 2) == 0x010B


def test_out_of_range_ids_are_refused() -> None:
    with pytest.raises(DeviceConfigError):
        PciConfiguration(0x1_0000, 0, class_code=0)
    with pytest.raises(DeviceConfigError):
        PciConfiguration(0, 0, class_code=0, interrupt_pin=5)


def test_outside_config_space_reads_zero_and_writes_nothing() -> None:
    config = make_config()
    assert config.read_dword(64) == 0
    assert config.read(254, 4) == 0
    assert config.write(255, b"\xff\xff") is None


def test_32_bit_bar_sizing_reads_back_the_size_mask() -> None:
    config = make_config()
    config.add_bar(1, 0x4000, BarKind.MEMORY32)
    config.set_bar_address(1, 0xC000_0000)
    assert write_dword(config, 0x14, 0xFFFF_FFFF) is None, "a sizing probe is not a move"
    assert config.read_dword(5) == 0xFFFF_C000
    assert write_dword(config, 0x14, 0xC000_0000) is None, "restoring is not a move"
    assert config.bar(1).address == 0xC000_0000


def test_64_bit_bar_sizing_in_both_registers_as_linux_does() -> None:
    config = make_config()
    config.add_bar(0, 0x8_0000, BarKind.MEMORY64, prefetchable=True)
    config.set_bar_address(0, 0x1_2008_0000)
    low, high = config.read_dword(4), config.read_dword(5)
    assert low == 0x2008_0000 | 0b1100  # 64-bit, prefetchable
    assert high == 1
    assert write_dword(config, 0x10, 0xFFFF_FFFF) is None
    size_low = config.read_dword(4)
    assert write_dword(config, 0x10, low) is None
    assert write_dword(config, 0x14, 0xFFFF_FFFF) is None
    size_high = config.read_dword(5)
    assert write_dword(config, 0x14, high) is None
    assert (size_low, size_high) == (0xFFF8_000C, 0xFFFF_FFFF)
    assert (~(size_high << 32 | size_low & ~0xF) & (2**64 - 1)) + 1 == 0x8_0000
    assert config.bar(0).address == 0x1_2008_0000


def test_bar_larger_than_4g_masks_its_low_register_entirely() -> None:
    config = make_config()
    config.add_bar(2, 1 << 33, BarKind.MEMORY64)
    write_dword(config, 0x18, 0xFFFF_FFFF)
    write_dword(config, 0x1C, 0xFFFF_FFFF)
    assert (config.read_dword(6), config.read_dword(7)) == (0x4, 0xFFFF_FFFE)


def test_moving_a_32_bit_bar_is_reported_but_not_applied() -> None:
    config = make_config()
    config.add_bar(0, 0x1000, BarKind.MEMORY32)
    config.set_bar_address(0, 0xD000_0000)
    move = write_dword(config, 0x10, 0xD010_0123)  # low bits are read-only
    assert move == BarReprogram(0, BarKind.MEMORY32, 0xD000_0000, 0xD010_0000, 0x1000)
    assert config.read_dword(4) == 0xD010_0000
    assert config.bar(0).address == 0xD000_0000, "mapped only once the owner moves it"
    config.set_bar_address(0, move.new_base)
    assert config.bar(0).address == 0xD010_0000


def test_moving_a_64_bit_bar_is_reported_once_the_high_half_is_written() -> None:
    config = make_config()
    config.add_bar(0, 0x8_0000, BarKind.MEMORY64)
    config.set_bar_address(0, 0x1_0000_0000)
    assert write_dword(config, 0x10, 0x0008_0000) is None
    move = write_dword(config, 0x14, 0x2)
    assert move == BarReprogram(0, BarKind.MEMORY64, 0x1_0000_0000, 0x2_0008_0000, 0x8_0000)


def test_rewriting_the_same_address_is_not_a_move() -> None:
    config = make_config()
    config.add_bar(0, 0x1000, BarKind.MEMORY32)
    config.set_bar_address(0, 0xE000_0000)
    assert write_dword(config, 0x10, 0xE000_0000) is None
    assert config.write(0x11, b"\x00") is None


def test_a_byte_write_can_move_a_32_bit_bar() -> None:
    config = make_config()
    config.add_bar(0, 0x1000, BarKind.MEMORY32)
    config.set_bar_address(0, 0xE000_0000)
    move = config.write(0x13, b"\xe1")
    assert move is not None
    assert move.new_base == 0xE100_0000


def test_bar_declarations_are_checked() -> None:
    config = make_config()
    config.add_bar(0, 0x1000, BarKind.MEMORY64)
    with pytest.raises(InvalidBarError, match="overlaps BAR 0"):
        config.add_bar(1, 0x1000, BarKind.MEMORY32)
    with pytest.raises(InvalidBarError, match="power of two"):
        config.add_bar(2, 0x1800, BarKind.MEMORY32)
    with pytest.raises(InvalidBarError, match="no room"):
        config.add_bar(5, 0x1000, BarKind.MEMORY64)
    with pytest.raises(InvalidBarError, match="power of two"):
        config.add_bar(3, 1 << 32, BarKind.MEMORY32)
    with pytest.raises(InvalidBarError) as error:
        config.set_bar_address(0, 0x1800)
    assert (error.value.index, error.value.value) == (0, 0x1800)
    with pytest.raises(InvalidBarError, match="not a declared BAR"):
        config.bar(4)


def test_32_bit_bar_cannot_be_placed_above_4g() -> None:
    config = make_config()
    config.add_bar(0, 0x1000, BarKind.MEMORY32)
    with pytest.raises(InvalidBarError):
        config.set_bar_address(0, 1 << 32)


def test_capabilities_form_a_chain_from_0x34() -> None:
    config = make_config()
    first = config.add_capability(CapabilityId.VENDOR_SPECIFIC, b"\x05abc")
    second = config.add_capability(CapabilityId.MSIX, bytes(10))
    assert config.read(0x06, 2) & 0x10, "status announces the capability list"
    assert (first, second) == (0x40, 0x48)
    assert config.read(0x34, 1) == first
    assert config.read(first, 2) == second << 8 | 0x09
    assert config.read(second, 2) == 0x11
    assert config.read(first + 2, 4) == int.from_bytes(b"\x05abc", "little")


def test_capability_bytes_are_read_only_unless_marked_writable() -> None:
    config = make_config()
    offset = config.add_capability(CapabilityId.VENDOR_SPECIFIC, b"\x00\x00", b"\x00\x0f")
    config.write(offset, b"\xff\xff\xff\xff")
    assert config.read(offset, 4) == 0x0F00_0009


def test_capability_space_is_finite() -> None:
    config = make_config()
    config.add_capability(CapabilityId.VENDOR_SPECIFIC, bytes(180))
    with pytest.raises(CapabilitySpaceFullError) as error:
        config.add_capability(CapabilityId.VENDOR_SPECIFIC, bytes(20))
    assert (error.value.offset, error.value.length) == (0xF8, 22)
