"""Where an ioeventfd listens: a port or a guest-physical MMIO address."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PioAddress:
    """An x86 I/O port."""

    port: int


@dataclass(frozen=True, slots=True)
class MmioAddress:
    """A guest-physical MMIO address."""

    address: int


IoEventAddress = PioAddress | MmioAddress
