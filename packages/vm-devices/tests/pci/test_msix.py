"""MSI-X: the capability's control bits, the table, masking, pending bits and delivery."""

from __future__ import annotations

import os
import struct

import pytest
from vm_devices.errors import DeviceConfigError
from vm_devices.pci import (
    CapabilityId,
    EventFdMsiGroup,
    MsiMessage,
    MsixTable,
    PciClass,
    PciConfiguration,
    RecordingMsiGroup,
)

ENABLE, FUNCTION_MASK = 0x8000, 0x4000


def program(table: MsixTable, vector: int, address: int, data: int, masked: bool) -> None:
    entry = struct.pack("<IIII", address & 0xFFFF_FFFF, address >> 32, data, int(masked))
    for dword in range(4):  # Linux writes the entry a dword at a time
        table.write_table(vector * 16 + dword * 4, entry[dword * 4 : dword * 4 + 4])


def enabled_table(vectors: int = 4) -> tuple[MsixTable, RecordingMsiGroup]:
    group = RecordingMsiGroup()
    table = MsixTable(vectors, group)
    table.set_control(ENABLE)
    return table, group


def pba(table: MsixTable) -> int:
    data = bytearray(8)
    table.read_pba(0, memoryview(data))
    return int.from_bytes(data, "little")


def test_capability_describes_table_size_and_locations() -> None:
    config = PciConfiguration(1, 2, class_code=PciClass.OTHER)
    table = MsixTable(5, RecordingMsiGroup())
    offset = table.add_capability(config, 0, 0x8000, 0x48000)
    assert config.read(offset, 1) == CapabilityId.MSIX
    assert config.read(offset + 2, 2) == 4  # table size - 1, disabled, unmasked
    assert config.read(offset + 4, 4) == 0x8000  # offset | BIR 0
    assert config.read(offset + 8, 4) == 0x48000


def test_only_enable_and_function_mask_are_writable_and_they_take_effect() -> None:
    config = PciConfiguration(1, 2, class_code=PciClass.OTHER)
    table = MsixTable(5, RecordingMsiGroup())
    offset = table.add_capability(config, 2, 0x100, 0x200)
    config.write(offset + 2, b"\xff\xff")
    table.config_written(offset + 2, offset + 4)
    assert config.read(offset + 2, 2) == 0xC004
    assert (table.enabled, table.function_masked) == (True, True)
    config.write(offset, b"\x00\x00\x00\x80")  # a dword write covering the control word
    table.config_written(offset, offset + 4)
    assert (table.enabled, table.function_masked) == (True, False)


def test_vectors_start_masked() -> None:
    table, group = enabled_table()
    assert all(table.vector_masked(vector) for vector in range(4))
    table.trigger(0)
    assert group.delivered == []
    assert table.pending(0)


def test_unmasked_vector_is_delivered_with_its_message() -> None:
    table, group = enabled_table()
    program(table, 2, 0xFEE0_0000, 0x4041, masked=False)
    table.trigger(2)
    assert group.delivered == [MsiMessage(0xFEE0_0000, 0x4041)]
    assert group.routes[2] == (MsiMessage(0xFEE0_0000, 0x4041), False)


def test_masked_vector_sets_its_pending_bit_and_fires_on_unmask() -> None:
    table, group = enabled_table()
    program(table, 1, 0xFEE0_0000, 0x30, masked=True)
    table.trigger(1)
    assert group.delivered == []
    assert pba(table) == 0b10
    table.write_table(1 * 16 + 12, b"\x00\x00\x00\x00")
    assert group.delivered == [MsiMessage(0xFEE0_0000, 0x30)]
    assert pba(table) == 0


def test_function_mask_holds_every_vector_pending() -> None:
    table, group = enabled_table()
    for vector in range(4):
        program(table, vector, 0xFEE0_0000, 0x40 + vector, masked=False)
    table.set_control(ENABLE | FUNCTION_MASK)
    table.trigger(0)
    table.trigger(3)
    assert group.delivered == []
    assert pba(table) == 0b1001
    assert all(masked for _, masked in group.routes.values())
    table.set_control(ENABLE)
    assert sorted(message.data for message in group.delivered) == [0x40, 0x43]
    assert pba(table) == 0


def test_disabled_msix_drops_triggers() -> None:
    group = RecordingMsiGroup()
    table = MsixTable(2, group)
    program(table, 0, 0xFEE0_0000, 0x40, masked=False)
    table.trigger(0)
    assert group.delivered == []
    assert not table.pending(0)


def test_enabling_reports_every_vector_route() -> None:
    group = RecordingMsiGroup()
    table = MsixTable(3, group)
    program(table, 0, 0xFEE0_1000, 0x50, masked=False)
    table.set_control(ENABLE)
    assert group.routes[0] == (MsiMessage(0xFEE0_1000, 0x50), False)
    assert group.routes[2] == (MsiMessage(0, 0), True)
    table.set_control(0)
    assert group.routes[0] == (MsiMessage(0xFEE0_1000, 0x50), True)


def test_reserved_vector_control_bits_read_as_zero() -> None:
    table, _ = enabled_table()
    table.write_table(12, b"\xfe\xff\xff\xff")
    data = bytearray(4)
    table.read_table(12, memoryview(data))
    assert data == bytes(4)


def test_a_qword_write_programs_the_address() -> None:
    table, group = enabled_table()
    table.write_table(16, struct.pack("<Q", 0x1_FEE0_0000))
    assert table.message(1).address == 0x1_FEE0_0000
    assert group.routes[1] == (MsiMessage(0x1_FEE0_0000, 0), True)


def test_accesses_outside_the_table_and_pba_are_harmless() -> None:
    table, group = enabled_table(2)
    table.write_table(32, b"\xff" * 4)
    table.write_table(-4, b"\xff" * 4)
    data = bytearray(8)
    table.read_table(28, memoryview(data))
    assert data == bytes(8)
    table.read_pba(8, memoryview(data))
    assert data == bytes(8)
    table.trigger(2)
    table.trigger(-1)
    assert group.delivered == []


def test_vector_count_is_checked() -> None:
    with pytest.raises(DeviceConfigError):
        MsixTable(0, RecordingMsiGroup())
    with pytest.raises(DeviceConfigError):
        MsixTable(2049, RecordingMsiGroup())


def test_pba_size_covers_every_vector_in_qwords() -> None:
    assert MsixTable(64, RecordingMsiGroup()).pba_size == 8
    assert MsixTable(65, RecordingMsiGroup()).pba_size == 16


def test_eventfd_group_writes_the_vector_eventfd_and_reports_routes() -> None:
    updates: list[tuple[int, int, int, bool]] = []
    group = EventFdMsiGroup(2, lambda *update: updates.append(update))
    try:
        table = MsixTable(2, group)
        table.set_control(ENABLE)
        program(table, 1, 0xFEE0_0000, 0x41, masked=False)
        table.trigger(1)
        assert os.eventfd_read(group.eventfds[1]) == 1
        with pytest.raises(BlockingIOError):
            os.eventfd_read(group.eventfds[0])
        assert updates[-1] == (1, 0xFEE0_0000, 0x41, False)
    finally:
        group.close()
