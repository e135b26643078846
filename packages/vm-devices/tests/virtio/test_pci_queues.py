"""virtio-pci (VIRTIO 1.2 section 4.1): queue set-up, notifications, interrupts, the PCI_CFG
window and BAR moves, one rule per test through the BAR and config space."""

from __future__ import annotations

import os

import pytest
from pci_harness import (
    ACK,
    BAR,
    CONFIG_VECTOR,
    GENERATION,
    NEEDS_RESET,
    NO_VECTOR,
    NUM_QUEUES,
    Q_DESC,
    Q_DEVICE,
    Q_ENABLE,
    Q_NOTIFY_OFF,
    Q_SELECT,
    Q_SIZE,
    Q_VECTOR,
    STATUS,
    Harness,
)
from vm_devices.pci import (
    BarKind,
    BarReprogram,
    MsiMessage,
    PciBus,
    PciDevice,
)

# Queues -------------------------------------------------------------------------------


def test_num_queues_and_notify_offsets(h: Harness) -> None:
    assert h.read(NUM_QUEUES, 2) == 2
    h.write(Q_SELECT, 1, 2)
    assert h.read(Q_NOTIFY_OFF, 2) == 1
    assert h.read(Q_SIZE, 2) == 64


def test_a_queue_past_the_last_reads_size_0_and_ignores_writes(h: Harness) -> None:
    h.write(Q_SELECT, 2, 2)
    h.write(Q_SIZE, 16, 2)
    h.write(Q_ENABLE, 1, 2)
    assert (h.read(Q_SIZE, 2), h.read(Q_ENABLE, 2), h.read(Q_VECTOR, 2)) == (0, 0, NO_VECTOR)


@pytest.mark.parametrize("size", [0, 3, 100, 512])
def test_an_invalid_queue_size_leaves_the_queue_unusable(h: Harness, size: int) -> None:
    h.negotiate()
    h.setup_queue(0, 256, 0x10000)
    h.setup_queue(1, size, 0x20000)
    h.write(Q_SELECT, 1, 2)
    assert h.read(Q_SIZE, 2) == size
    h.set_status(0xF)
    assert h.status() & NEEDS_RESET
    assert h.stub.activated == []


def test_a_smaller_power_of_two_size_is_accepted(h: Harness) -> None:
    h.negotiate()
    h.setup_queue(0, 8, 0x10000)
    h.set_status(0xF)
    assert h.stub.activated[0][0].queue.size == 8


def test_queue_registers_are_frozen_once_enabled(h: Harness) -> None:
    h.setup_queue(0, 128, 0x10000)
    h.write(Q_SIZE, 16, 2)
    h.write(Q_DESC, 0x30000, 4)
    assert (h.read(Q_SIZE, 2), h.read(Q_DESC, 8)) == (128, 0x10000)


def test_queue_addresses_take_32_bit_halves(h: Harness) -> None:
    h.write(Q_DEVICE, 0x89AB_CDEF, 4)
    h.write(Q_DEVICE + 4, 0x1, 4)
    assert h.read(Q_DEVICE, 8) == 0x1_89AB_CDEF
    assert h.read(Q_DEVICE + 4, 4) == 1


def test_vectors_past_the_table_read_back_as_no_vector(h: Harness) -> None:
    h.write(CONFIG_VECTOR, 3, 2)
    assert h.read(CONFIG_VECTOR, 2) == NO_VECTOR
    h.write(Q_VECTOR, 2, 2)
    assert h.read(Q_VECTOR, 2) == 2


def test_misaligned_or_missized_common_accesses_are_ignored(h: Harness) -> None:
    h.write(STATUS - 1, 0x0101, 2)
    h.write(Q_SELECT, 0x1, 1)
    assert (h.read(STATUS, 1), h.read(Q_SELECT, 2)) == (0, 0)
    assert h.read(Q_SELECT + 1, 1) == 0
    assert h.read(0x38, 4) == 0


# Notifications and interrupts ------------------------------------------------------


def test_a_notify_write_signals_that_queues_eventfd(h: Harness) -> None:
    first, second = h.pci.ioeventfds(BAR)
    assert (first.address, second.address) == (BAR + 0x6000, BAR + 0x6004)
    h.write(0x6004, 1, 2)
    assert os.eventfd_read(second.eventfd) == 1
    with pytest.raises(BlockingIOError):
        os.eventfd_read(first.eventfd)


def test_a_notify_write_past_the_queues_is_ignored(h: Harness) -> None:
    h.write(0x6008, 2, 2)
    for notify in h.pci.ioeventfds(BAR):
        with pytest.raises(BlockingIOError):
            os.eventfd_read(notify.eventfd)


def test_queue_interrupt_goes_to_the_queue_vector(h: Harness) -> None:
    h.enable_msix()
    h.write(Q_SELECT, 1, 2)
    h.write(Q_VECTOR, 2, 2)
    h.pci.interrupt.notify_queue(1)
    h.pci.interrupt.notify_queue(0)  # NO_VECTOR: nothing
    assert h.msi.delivered == [MsiMessage(0xFEE0_0000, 0x42)]
    assert h.read(0x2000, 1) == 0, "with MSI-X the queue bit stays clear"


def test_config_interrupt_bumps_generation_sets_isr_and_uses_the_config_vector(
    h: Harness,
) -> None:
    h.enable_msix()
    h.write(CONFIG_VECTOR, 0, 2)
    h.pci.interrupt.notify_config()
    assert h.read(GENERATION, 1) == 1
    assert h.msi.delivered == [MsiMessage(0xFEE0_0000, 0x40)]
    assert h.read(0x2000, 1) == 2
    assert h.read(0x2000, 1) == 0, "reading the ISR clears it"


def test_without_msix_a_queue_interrupt_only_sets_the_isr(h: Harness) -> None:
    h.pci.interrupt.notify_queue(0)
    assert h.msi.delivered == []
    assert h.read(0x2000, 1) == 1


# Device configuration, PCI_CFG window, BAR moves ----------------------------------------


def test_device_configuration_is_at_0x4000(h: Harness) -> None:
    assert h.read(0x4004, 4) == 0x0706_0504
    assert h.read(0x4FFC, 4) == 0


def test_pci_cfg_capability_reads_and_writes_the_bar(h: Harness) -> None:
    cap = h.capabilities()[5]
    h.cfg_write(cap + 4, 0, 1)  # bar
    h.cfg_write(cap + 8, NUM_QUEUES, 4)  # offset
    h.cfg_write(cap + 12, 2, 4)  # length
    assert h.cfg(cap + 16, 2) == 2
    h.cfg_write(cap + 8, STATUS, 4)
    h.cfg_write(cap + 12, 1, 4)
    h.cfg_write(cap + 16, ACK, 4)
    assert h.status() == ACK


def test_pci_cfg_window_ignores_misaligned_requests(h: Harness) -> None:
    cap = h.capabilities()[5]
    h.cfg_write(cap + 8, STATUS + 1, 4)
    h.cfg_write(cap + 12, 2, 4)
    h.cfg_write(cap + 16, 0xFFFF, 4)
    assert h.status() == 0


def test_a_guest_bar_move_moves_the_notify_addresses(h: Harness) -> None:
    moves: list[BarReprogram] = []

    class Relocation:
        def move_bar(self, device: PciDevice, reprogram: BarReprogram) -> None:
            moves.append(reprogram)

    bus = PciBus(Relocation())
    slot = bus.add_device(h.pci).device
    bus.write_config(0, slot, 0, 0x10, (0xC000_0000).to_bytes(4, "little"))
    assert moves == []  # the low half alone does not move a 64-bit BAR
    bus.write_config(0, slot, 0, 0x14, b"\x00\x00\x00\x00")
    assert moves == [BarReprogram(0, BarKind.MEMORY64, BAR, 0xC000_0000, 0x80000)]
    assert h.pci.bar_address == 0xC000_0000
    assert h.pci.ioeventfds(h.pci.bar_address)[0].address == 0xC000_6000
