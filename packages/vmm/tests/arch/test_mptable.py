"""The MP table a guest without ACPI reads to find its CPUs and IOAPIC."""

from __future__ import annotations

import struct

import pytest
from vmm.arch.layout import EBDA, IOAPIC_START
from vmm.arch.mptable import ISA_IRQS, mptable_bytes


def _config_table(raw: bytes) -> bytes:
    pointer = struct.unpack_from("<I", raw, 4)[0]
    length = struct.unpack_from("<H", raw, 16 + 4)[0]
    start = pointer - EBDA
    return raw[start : start + length]


def test_floating_pointer_is_found_by_signature_and_checksum() -> None:
    raw = mptable_bytes(2)
    assert raw[:4] == b"_MP_"
    assert sum(raw[:16]) % 256 == 0
    assert raw[8] == 1  # length in 16-byte units
    assert raw[9] == 4  # MP spec 1.4


def test_configuration_table_checksum_and_entry_count() -> None:
    table = _config_table(mptable_bytes(3))
    assert table[:4] == b"PCMP"
    assert sum(table) % 256 == 0
    entry_count = struct.unpack_from("<H", table, 34)[0]
    assert entry_count == 3 + 1 + 1 + ISA_IRQS + 2


def test_one_enabled_processor_per_vcpu_and_only_the_first_boots() -> None:
    table = _config_table(mptable_bytes(4))
    processors = [table[44 + 20 * i : 64 + 20 * i] for i in range(4)]
    assert [p[0] for p in processors] == [0] * 4
    assert [p[1] for p in processors] == [0, 1, 2, 3]  # APIC IDs
    assert [p[3] for p in processors] == [3, 1, 1, 1]  # enabled, boot processor first


def test_ioapic_entry_follows_the_cpu_ids_at_its_address() -> None:
    table = _config_table(mptable_bytes(2))
    offset = 44 + 2 * 20 + 8  # after processors and the bus
    kind, ioapic_id, _version, flags, address = struct.unpack_from("<BBBBI", table, offset)
    assert (kind, ioapic_id, flags, address) == (2, 2, 1, IOAPIC_START)


def test_isa_irqs_map_one_to_one_to_ioapic_pins() -> None:
    table = _config_table(mptable_bytes(1))
    offset = 44 + 20 + 8 + 8
    pins = []
    for irq in range(ISA_IRQS):
        kind, _type, _flags, _bus, source, _ioapic, pin = struct.unpack_from(
            "<BBHBBBB", table, offset + 8 * irq
        )
        assert kind == 3
        pins.append((source, pin))
    assert pins == [(irq, irq) for irq in range(ISA_IRQS)]


@pytest.mark.parametrize("count", [0, 255])
def test_cpu_counts_outside_the_apic_id_space_are_refused(count: int) -> None:
    with pytest.raises(ValueError, match="CPUs"):
        mptable_bytes(count)
