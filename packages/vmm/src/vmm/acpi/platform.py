"""What the ACPI tables describe: one plain record the VM fills in from its config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vmm.arch import layout


@dataclass(frozen=True, slots=True)
class NumaNode:
    """A guest NUMA node (proximity domain): its vCPUs, its RAM ranges, its distances."""

    node_id: int
    cpus: tuple[int, ...] = ()
    memory: tuple[tuple[int, int], ...] = ()  # (guest address, size)
    distances: tuple[tuple[int, int], ...] = ()  # (other node id, distance)


@dataclass(frozen=True, slots=True)
class AcpiPlatform:
    """The machine as its ACPI tables show it.

    `mmio32` and `mmio64` are the PCI host bridge's windows, inclusive
    (first, last) addresses; the ECAM window, the GED and the sleep/reset
    port are at the layout's fixed places.
    """

    vcpus: int
    mmio32: tuple[int, int]
    mmio64: tuple[int, int]
    ged_irq: int
    serial: bool = True
    numa: Sequence[NumaNode] = field(default_factory=tuple)
    ecam_address: int = layout.PCI_MMCONFIG_START
    ecam_size: int = layout.PCI_ECAM_SEGMENT_SIZE
    ged_address: int = layout.ACPI_GED_ADDRESS
