"""Guest memory mapped into a real KVM guest: guest and host see each other's writes."""

from __future__ import annotations

import dataclasses

import pytest
from kvm_ioctls import Hlt, Kvm
from vm_memory import Backing, DirtyBitmap, GuestMemoryMmap

pytestmark = pytest.mark.kvm

# Real mode at 0x1000. The word store at 0x7fff straddles the two regions.
GUEST = bytes.fromhex(
    "a00070"  # mov al, [0x7000]        ; written by the host
    "fec0"  # inc al
    "a20170"  # mov [0x7001], al        ; read back by the host
    "c706ff7fefbe"  # mov word [0x7fff], 0xbeef
    "f4"  # hlt
)


@pytest.mark.parametrize("backing", [Backing.ANONYMOUS, Backing.MEMFD])
def test_guest_and_host_see_each_others_writes(backing: Backing) -> None:
    memory = GuestMemoryMmap.from_ranges([(0, 0x8000), (0x8000, 0x8000)], backing=backing)
    memory.write(0x1000, GUEST)
    memory.write_u8(0x7000, 41)
    with Kvm() as kvm, kvm.create_vm() as vm:
        slots = memory.memory_slots(log_dirty=True)
        for slot in slots:
            vm.set_user_memory_region(**dataclasses.asdict(slot))
        vcpu = vm.create_vcpu(0)
        sregs = vcpu.get_sregs()
        sregs.cs.base, sregs.cs.selector = 0, 0
        vcpu.set_sregs(sregs)
        regs = vcpu.get_regs()
        regs.rip, regs.rflags = 0x1000, 2
        vcpu.set_regs(regs)
        for slot in slots:
            vm.get_dirty_log(slot.slot, slot.memory_size)  # start from a clean log
        assert isinstance(vcpu.run(), Hlt)

        assert memory.read_u8(0x7001) == 42
        assert memory.read_u16(0x7FFF) == 0xBEEF
        dirty = [
            list(
                DirtyBitmap(
                    s.guest_phys_addr, s.memory_size, vm.get_dirty_log(s.slot, s.memory_size)
                ).dirty_pages()
            )
            for s in slots
        ]
        vcpu.close()
    assert [[int(page) for page in pages] for pages in dirty] == [[0x7000], [0x8000]]
