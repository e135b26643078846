"""Tiny guests in each CPU mode do port I/O, MMIO to unmapped memory and HLT.

Each guest starts with al=2, bl=3 and runs (at CODE):
`mov dx, 0x3f8; add al, bl; out dx, al; mov [0x10000], al; mov cl, [0x10000]; hlt`
where 0x10000 is just past the guest's RAM, so both accesses exit as MMIO.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kvm_ioctls import Hlt, IoOut, Kvm, MmioRead, MmioWrite
from kvm_ioctls.testing import MEMORY_SIZE, CpuMode, TinyGuest

pytestmark = pytest.mark.kvm

PROGRAMS = {
    CpuMode.REAL: bytes.fromhex(
        "baf803"  # mov dx, 0x3f8
        "00d8"  # add al, bl
        "ee"  # out dx, al
        "bb0010"  # mov bx, 0x1000
        "8edb"  # mov ds, bx          ; ds base 0x10000
        "a20000"  # mov [0], al
        "8a0e0000"  # mov cl, [0]
        "f4"  # hlt
    ),
    CpuMode.PROTECTED: bytes.fromhex(
        "66baf803"  # mov dx, 0x3f8
        "00d8"  # add al, bl
        "ee"  # out dx, al
        "a200000100"  # mov [0x10000], al
        "8a0d00000100"  # mov cl, [0x10000]
        "f4"  # hlt
    ),
    CpuMode.LONG: bytes.fromhex(
        "66baf803"  # mov dx, 0x3f8
        "00d8"  # add al, bl
        "ee"  # out dx, al
        "be00000100"  # mov esi, 0x10000
        "8806"  # mov [rsi], al
        "8a0e"  # mov cl, [rsi]
        "f4"  # hlt
    ),
}


@pytest.fixture(params=list(CpuMode), ids=lambda mode: mode.value)
def guest(request: pytest.FixtureRequest) -> Iterator[TinyGuest]:
    mode: CpuMode = request.param
    with Kvm() as kvm:
        tiny = TinyGuest(kvm, PROGRAMS[mode], mode)
        regs = tiny.vcpu.get_regs()
        regs.rax, regs.rbx = 2, 3
        tiny.vcpu.set_regs(regs)
        yield tiny
        tiny.close()


def test_port_write_exits_with_port_and_data(guest: TinyGuest) -> None:
    match guest.vcpu.run():
        case IoOut(port, data):
            assert (port, bytes(data)) == (0x3F8, b"\x05")
        case other:
            pytest.fail(f"expected IoOut, got {other}")


def test_mmio_write_and_read_of_unmapped_memory_exit_to_user_space(guest: TinyGuest) -> None:
    guest.vcpu.run()  # the port write
    write = guest.vcpu.run()
    assert isinstance(write, MmioWrite)
    assert (write.address, bytes(write.data)) == (MEMORY_SIZE, b"\x05")
    read = guest.vcpu.run()
    assert isinstance(read, MmioRead)
    assert (read.address, len(read.data)) == (MEMORY_SIZE, 1)
    read.data[0] = 0x77  # the device's answer lands in cl
    assert isinstance(guest.vcpu.run(), Hlt)
    assert guest.vcpu.get_regs().rcx & 0xFF == 0x77


def test_hlt_without_irqchip_exits_to_user_space(guest: TinyGuest) -> None:
    exits = [guest.vcpu.run() for _ in range(4)]
    assert isinstance(exits[-1], Hlt)
    assert guest.vcpu.get_regs().rip == 0x1000 + len(PROGRAMS[guest.mode])
