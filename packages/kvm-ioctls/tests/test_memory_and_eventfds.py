"""Dirty-page logging and ioeventfds, driven by real guest writes."""

from __future__ import annotations

import os
import select

import pytest
from kvm_bindings import MemoryRegionFlags
from kvm_ioctls import Hlt, IoOut, Kvm, MmioAddress, MmioWrite, PioAddress
from kvm_ioctls.testing import CpuMode, TinyGuest

pytestmark = pytest.mark.kvm

# 64-bit: mov esi, 0x8000; mov byte [rsi], 1; mov byte [rsi+0x1000], 1;
#         mov byte [rsi+0x7000], 1; hlt   (pages 0x8000, 0x9000 and 0xf000)
DIRTY_THREE_PAGES = bytes.fromhex("be00800000c60601c6860010000001c6860070000001f4")


def test_dirty_log_lists_exactly_the_pages_the_guest_wrote() -> None:
    with Kvm() as kvm:
        guest = TinyGuest(
            kvm, DIRTY_THREE_PAGES, CpuMode.LONG, memory_flags=MemoryRegionFlags.LOG_DIRTY_PAGES
        )
        guest.vm.get_dirty_log(0, len(guest.memory))  # forget what set-up wrote
        assert isinstance(guest.vcpu.run(), Hlt)
        bitmap = int.from_bytes(guest.vm.get_dirty_log(0, len(guest.memory)), "little")
        dirty = {page * 0x1000 for page in range(16) if bitmap >> page & 1}
        # The CPU may also set accessed/dirty bits in the page tables (0x2000-0x7fff)
        # and push nothing else: the stack is untouched by this code.
        assert {0x8000, 0x9000, 0xF000} <= dirty
        assert dirty - {0x8000, 0x9000, 0xF000} <= {0x2000, 0x3000, 0x4000}
        assert guest.vm.get_dirty_log(0, len(guest.memory)) == bytes(8), "reading clears the log"
        guest.close()


# 64-bit: mov dx, 0x20; mov al, 7; out dx, al; mov esi, 0x20000; mov dword [rsi], 9;
#         mov dword [rsi], 5; hlt
KICKS = bytes.fromhex("66ba2000b007eebe00000200c70609000000c70605000000f4")


def _counter(fd: int) -> int:
    return int.from_bytes(os.read(fd, 8), "little")


def test_guest_writes_signal_ioeventfds_without_exiting() -> None:
    with Kvm() as kvm:
        guest = TinyGuest(kvm, KICKS, CpuMode.LONG)
        pio, mmio = os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0, os.EFD_NONBLOCK)
        guest.vm.register_ioevent(pio, PioAddress(0x20), length=1)
        guest.vm.register_ioevent(mmio, MmioAddress(0x20000), length=4, datamatch=9)
        # The PIO write and the matching MMIO write never reach user space; the
        # MMIO write of 5 does not match the datamatch, so it exits as usual.
        exit_ = guest.vcpu.run()
        assert isinstance(exit_, MmioWrite)
        assert (exit_.address, bytes(exit_.data)) == (0x20000, (5).to_bytes(4, "little"))
        assert isinstance(guest.vcpu.run(), Hlt)
        assert _counter(pio) == 1
        assert _counter(mmio) == 1
        guest.close()
        os.close(pio)
        os.close(mmio)


def test_an_unregistered_ioeventfd_lets_the_write_exit_again() -> None:
    with Kvm() as kvm:
        guest = TinyGuest(kvm, KICKS, CpuMode.LONG)
        pio = os.eventfd(0, os.EFD_NONBLOCK)
        guest.vm.register_ioevent(pio, PioAddress(0x20), length=1)
        guest.vm.unregister_ioevent(pio, PioAddress(0x20), length=1)
        exit_ = guest.vcpu.run()
        assert isinstance(exit_, IoOut)
        assert (exit_.port, bytes(exit_.data)) == (0x20, b"\x07")
        assert select.select([pio], [], [], 0)[0] == []
        guest.close()
        os.close(pio)
