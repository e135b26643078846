"""virtio-pci (VIRTIO 1.2 section 4.1): identity, capabilities, features, status and reset."""

from __future__ import annotations

from pci_harness import (
    ACK,
    BAR,
    CONFIG_VECTOR,
    DF,
    DF_SELECT,
    DRIVER,
    DRIVER_OK,
    FAILED,
    FEATURE_A,
    FEATURES_OK,
    GF,
    GF_SELECT,
    NEEDS_RESET,
    NO_VECTOR,
    Q_DESC,
    Q_DEVICE,
    Q_DRIVER,
    Q_ENABLE,
    Q_SELECT,
    Q_SIZE,
    Q_VECTOR,
    Harness,
)
from vm_devices.pci import (
    BarKind,
    CapabilityId,
)
from vm_devices.virtio import (
    VIRTIO_F_RING_EVENT_IDX,
    VIRTIO_F_VERSION_1,
)

# Identification and capabilities -------------------------------------------------------


def test_ids_follow_the_modern_virtio_pci_rules(h: Harness) -> None:
    assert h.cfg(0, 4) == 0x1042_1AF4  # 0x1040 + block
    assert h.cfg(0x08, 1) == 1, "non-transitional: revision 1"
    assert h.cfg(0x2C, 2) == 0x1AF4
    assert h.cfg(0x2E, 2) >= 0x40
    assert h.cfg(0x0B, 1) == 0x01  # mass storage


def test_bar0_is_a_64_bit_memory_bar_of_512k(h: Harness) -> None:
    (bar,) = h.pci.bars()
    assert (bar.index, bar.kind, bar.size, bar.address) == (0, BarKind.MEMORY64, 0x80000, BAR)
    assert h.cfg(0x10, 4) & 0xF == 0b0100


def test_capabilities_point_into_bar0_at_their_structures(h: Harness) -> None:
    caps = h.capabilities()
    layout = {
        cfg_type: (h.cfg(position + 2, 1), h.cfg(position + 4, 1), h.cfg(position + 8, 4))
        for cfg_type, position in caps.items()
    }
    assert layout == {
        1: (16, 0, 0x0000),  # common
        2: (20, 0, 0x6000),  # notify, with the multiplier after
        3: (16, 0, 0x2000),  # ISR
        4: (16, 0, 0x4000),  # device
        5: (20, 0, 0),  # PCI configuration access
    }
    assert h.cfg(caps[1] + 12, 4) >= 0x38
    assert h.cfg(caps[2] + 16, 4) == 4
    assert h.cfg(caps[2] + 12, 4) >= 2 * 4, "the notify area covers every queue"


def test_msix_has_a_vector_per_queue_and_one_for_configuration(h: Harness) -> None:
    cap = next(p for p in range(0x40, 0x100, 4) if h.cfg(p, 1) == CapabilityId.MSIX)
    assert h.cfg(cap + 2, 2) & 0x7FF == 2
    assert h.cfg(cap + 4, 4) == 0x8000
    assert h.cfg(cap + 8, 4) == 0x48000


# Features -------------------------------------------------------------------------


def test_device_features_are_read_32_bits_at_a_time(h: Harness) -> None:
    h.write(DF_SELECT, 0, 4)
    low = h.read(DF, 4)
    h.write(DF_SELECT, 1, 4)
    high = h.read(DF, 4)
    assert high << 32 | low == h.stub.device_features
    h.write(DF_SELECT, 2, 4)
    assert h.read(DF, 4) == 0


def test_features_ok_needs_version_1(h: Harness) -> None:
    h.negotiate(FEATURE_A)
    assert h.status() == ACK | DRIVER


def test_features_ok_refuses_a_feature_the_device_did_not_offer(h: Harness) -> None:
    h.negotiate(VIRTIO_F_VERSION_1 | 1 << 7)
    assert not h.status() & FEATURES_OK
    assert h.stub.acked_features == 0


def test_features_ok_acks_the_driver_features(h: Harness) -> None:
    h.negotiate(VIRTIO_F_VERSION_1 | FEATURE_A)
    assert h.status() == ACK | DRIVER | FEATURES_OK
    assert h.stub.acked_features == VIRTIO_F_VERSION_1 | FEATURE_A


def test_driver_features_are_frozen_after_features_ok(h: Harness) -> None:
    h.negotiate()
    h.write(GF_SELECT, 0, 4)
    h.write(GF, FEATURE_A, 4)
    assert h.read(GF, 4) == 0


# Status -------------------------------------------------------------------------------


def test_status_bits_must_come_in_order(h: Harness) -> None:
    h.set_status(DRIVER)
    assert h.status() == 0
    h.set_status(ACK | FEATURES_OK | DRIVER_OK)
    assert h.status() == ACK


def test_status_bits_cannot_be_cleared_without_a_reset(h: Harness) -> None:
    h.negotiate()
    h.set_status(ACK)
    assert h.status() == ACK | DRIVER | FEATURES_OK


def test_failed_can_be_set_at_any_time(h: Harness) -> None:
    h.set_status(ACK)
    h.set_status(ACK | FAILED)
    assert h.status() == ACK | FAILED


def test_driver_cannot_set_needs_reset(h: Harness) -> None:
    h.set_status(ACK | NEEDS_RESET)
    assert h.status() == ACK


def test_driver_ok_activates_with_the_enabled_queues_and_their_eventfds(h: Harness) -> None:
    h.negotiate(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX)
    h.setup_queue(1, 64, 0x10000)
    h.set_status(0xF)
    ((active,),) = h.stub.activated
    assert active.index == 1
    assert active.queue.size == 64
    assert active.queue.desc_table == 0x10000
    assert active.queue.event_idx_enabled
    assert active.eventfd == h.pci.ioeventfds(BAR)[1].eventfd


def test_an_activation_error_sets_needs_reset(h: Harness) -> None:
    h.stub.fail = True
    h.negotiate()
    h.setup_queue(0, 256, 0x10000)
    h.set_status(0xF)
    assert h.status() == 0xF | NEEDS_RESET


# Reset ------------------------------------------------------------------------------


def test_writing_0_resets_device_and_queues_to_defaults(h: Harness) -> None:
    h.enable_msix()
    h.negotiate()
    h.write(CONFIG_VECTOR, 0, 2)
    h.setup_queue(0, 128, 0x10000)
    h.write(Q_VECTOR, 1, 2)
    h.set_status(0xF)
    h.set_status(0)
    assert h.status() == 0
    assert h.stub.resets == 1
    assert h.read(CONFIG_VECTOR, 2) == NO_VECTOR
    h.write(Q_SELECT, 0, 2)
    queue = [h.read(offset, size) for offset, size in ((Q_SIZE, 2), (Q_VECTOR, 2), (Q_ENABLE, 2))]
    assert queue == [256, NO_VECTOR, 0]
    assert [h.read(offset, 8) for offset in (Q_DESC, Q_DRIVER, Q_DEVICE)] == [0, 0, 0]


def test_reset_clears_the_isr(h: Harness) -> None:
    h.pci.interrupt.notify_config()
    assert h.read(0x2000, 1) == 2
    h.pci.interrupt.notify_config()
    h.set_status(0)
    assert h.read(0x2000, 1) == 0
