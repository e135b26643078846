"""Memory slots: what KVM_SET_USER_MEMORY_REGION needs for each region."""

from __future__ import annotations

import dataclasses

import pytest
from vm_memory import GuestMemoryMmap, KvmMemoryFlags, MemorySlot


def test_one_slot_per_region_in_address_order(memory: GuestMemoryMmap) -> None:
    slots = memory.memory_slots()
    assert [slot.slot for slot in slots] == [0, 1, 2]
    assert [(slot.guest_phys_addr, slot.memory_size) for slot in slots] == [
        (0, 0x4000),
        (0x4000, 0x2000),
        (0x10000, 0x1000),
    ]
    assert [slot.userspace_addr for slot in slots] == [r.host_address for r in memory.regions]
    assert all(slot.flags == KvmMemoryFlags(0) for slot in slots)


def test_slots_number_from_first_slot(memory: GuestMemoryMmap) -> None:
    assert [slot.slot for slot in memory.memory_slots(first_slot=5)] == [5, 6, 7]


def test_dirty_logging_sets_the_flag(memory: GuestMemoryMmap) -> None:
    slots = memory.memory_slots(log_dirty=True)
    assert all(slot.flags == KvmMemoryFlags.LOG_DIRTY_PAGES for slot in slots)


def test_flags_have_the_kvm_uapi_values() -> None:
    assert int(KvmMemoryFlags.LOG_DIRTY_PAGES) == 1
    assert int(KvmMemoryFlags.READONLY) == 2


def test_slot_fields_follow_struct_kvm_userspace_memory_region() -> None:
    names = [field.name for field in dataclasses.fields(MemorySlot)]
    assert names == ["slot", "flags", "guest_phys_addr", "memory_size", "userspace_addr"]


def test_slot_is_immutable() -> None:
    slot = MemorySlot(0, KvmMemoryFlags(0), 0, 0x1000, 0x7F00_0000_0000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        slot.slot = 1  # type: ignore[misc]
