"""virtio-net constants (VIRTIO 1.2, 5.1.3) and how guest offloads map onto a tap's."""

from __future__ import annotations

from typing import Final

from vm_devices.virtio.devices.tap import (
    TUN_F_CSUM,
    TUN_F_TSO4,
    TUN_F_TSO6,
    TUN_F_TSO_ECN,
    TUN_F_UFO,
)

__all__ = ["TUN_F_UFO"]

VIRTIO_NET_F_CSUM: Final = 1 << 0
VIRTIO_NET_F_GUEST_CSUM: Final = 1 << 1
VIRTIO_NET_F_CTRL_GUEST_OFFLOADS: Final = 1 << 2
VIRTIO_NET_F_MTU: Final = 1 << 3
VIRTIO_NET_F_MAC: Final = 1 << 5
VIRTIO_NET_F_GUEST_TSO4: Final = 1 << 7
VIRTIO_NET_F_GUEST_TSO6: Final = 1 << 8
VIRTIO_NET_F_GUEST_ECN: Final = 1 << 9
VIRTIO_NET_F_GUEST_UFO: Final = 1 << 10
VIRTIO_NET_F_HOST_TSO4: Final = 1 << 11
VIRTIO_NET_F_HOST_TSO6: Final = 1 << 12
VIRTIO_NET_F_HOST_ECN: Final = 1 << 13
VIRTIO_NET_F_HOST_UFO: Final = 1 << 14
VIRTIO_NET_F_MRG_RXBUF: Final = 1 << 15
VIRTIO_NET_F_STATUS: Final = 1 << 16
VIRTIO_NET_F_CTRL_VQ: Final = 1 << 17
VIRTIO_NET_F_MQ: Final = 1 << 22

VIRTIO_NET_S_LINK_UP: Final = 1

# The virtio-net header's flags and GSO types.
VIRTIO_NET_HDR_F_NEEDS_CSUM: Final = 1
VIRTIO_NET_HDR_F_DATA_VALID: Final = 2
VIRTIO_NET_HDR_GSO_NONE: Final = 0
VIRTIO_NET_HDR_GSO_TCPV4: Final = 1

# Control queue: classes, commands, acks.
VIRTIO_NET_OK: Final = 0
VIRTIO_NET_ERR: Final = 1
VIRTIO_NET_CTRL_MQ: Final = 4
VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: Final = 0
VIRTIO_NET_CTRL_GUEST_OFFLOADS: Final = 5
VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET: Final = 0

# Offered whatever the tap: the guest's own offloads (a partial checksum, an
# unsegmented frame) go through a vnet-header tap as they are.
BASE_FEATURES: Final = (
    VIRTIO_NET_F_MAC
    | VIRTIO_NET_F_STATUS
    | VIRTIO_NET_F_MRG_RXBUF
    | VIRTIO_NET_F_CTRL_VQ
    | VIRTIO_NET_F_CTRL_GUEST_OFFLOADS
    | VIRTIO_NET_F_CSUM
    | VIRTIO_NET_F_HOST_TSO4
    | VIRTIO_NET_F_HOST_TSO6
    | VIRTIO_NET_F_HOST_ECN
)

# What the guest may be handed unfinished, and the tap offloads that do it.
GUEST_OFFLOADS: Final = {
    VIRTIO_NET_F_GUEST_CSUM: TUN_F_CSUM,
    VIRTIO_NET_F_GUEST_TSO4: TUN_F_CSUM | TUN_F_TSO4,
    VIRTIO_NET_F_GUEST_TSO6: TUN_F_CSUM | TUN_F_TSO6,
    VIRTIO_NET_F_GUEST_ECN: TUN_F_CSUM | TUN_F_TSO_ECN,
    VIRTIO_NET_F_GUEST_UFO: TUN_F_CSUM | TUN_F_UFO,
}
GUEST_OFFLOAD_BITS: Final = sum(GUEST_OFFLOADS)
GUEST_GSO: Final = VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_UFO


def tap_offloads(guest_features: int) -> int:
    """The ``TUN_F_*`` flags for the guest offload features in ``guest_features``
    (none at all without GUEST_CSUM: everything else builds on it)."""
    if not guest_features & VIRTIO_NET_F_GUEST_CSUM:
        return 0
    flags = 0
    for feature, needed in GUEST_OFFLOADS.items():
        if guest_features & feature:
            flags |= needed
    return flags


# What `--net offload_csum=off`, `offload_tso=off` and `offload_ufo=off` take
# away, as CH does: segmentation needs checksum offload, so csum=off takes all.
OFFLOAD_TSO_FEATURES: Final = (
    VIRTIO_NET_F_HOST_TSO4
    | VIRTIO_NET_F_HOST_TSO6
    | VIRTIO_NET_F_HOST_ECN
    | VIRTIO_NET_F_GUEST_TSO4
    | VIRTIO_NET_F_GUEST_TSO6
    | VIRTIO_NET_F_GUEST_ECN
)
OFFLOAD_UFO_FEATURES: Final = VIRTIO_NET_F_HOST_UFO | VIRTIO_NET_F_GUEST_UFO
OFFLOAD_CSUM_FEATURES: Final = (
    VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | OFFLOAD_TSO_FEATURES | OFFLOAD_UFO_FEATURES
)
