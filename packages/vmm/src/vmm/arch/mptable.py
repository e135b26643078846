"""An Intel MultiProcessor Specification 1.4 table: how a guest without ACPI finds its CPUs.

Without ACPI, Linux looks for the "_MP_" floating pointer in the last KiB of
base memory (0x9FC00 here). The table lists one processor entry per vCPU
(APIC ID = vCPU index), the ISA bus, the IOAPIC (ID = number of vCPUs), the
16 ISA interrupts wired one to one to IOAPIC pins (KVM's default routing:
GSI n raises IOAPIC pin n), and LINT0/LINT1 as ExtINT/NMI on every LAPIC.
"""

from __future__ import annotations

import struct

from vmm.arch.layout import APIC_START, EBDA, IOAPIC_START

MAX_CPUS = 254  # APIC IDs 0..253; the IOAPIC takes the next ID
_FLOATING = struct.Struct("<4sIBBB5s")
_HEADER = struct.Struct("<4sHBB8s12sIHHIHBB")
_PROCESSOR = struct.Struct("<BBBBII8x")
_BUS = struct.Struct("<BB6s")
_IOAPIC = struct.Struct("<BBBBI")
_INTERRUPT = struct.Struct("<BBHBBBB")

_ENTRY_PROCESSOR, _ENTRY_BUS, _ENTRY_IOAPIC, _ENTRY_IO_INT, _ENTRY_LOCAL_INT = range(5)
_INT, _NMI, _EXTINT = 0, 1, 3
_CPU_ENABLED, _CPU_BOOT = 1, 2
_APIC_VERSION = 0x14
_IOAPIC_VERSION = 0x11
_CPU_SIGNATURE = 0x600  # family 6
_CPU_FEATURES = 0x201  # FPU, APIC
_ISA_BUS = 0
ISA_IRQS = 16


def _checksum(data: bytes | bytearray) -> int:
    return (-sum(data)) & 0xFF


def mptable_bytes(num_cpus: int, address: int = EBDA) -> bytes:
    """The floating pointer followed by the configuration table, to be written at `address`."""
    if not 1 <= num_cpus <= MAX_CPUS:
        raise ValueError(f"an MP table describes 1 to {MAX_CPUS} CPUs, not {num_cpus}")
    ioapic_id = num_cpus
    entries = bytearray()
    for cpu in range(num_cpus):
        flags = _CPU_ENABLED | (_CPU_BOOT if cpu == 0 else 0)
        entries += _PROCESSOR.pack(
            _ENTRY_PROCESSOR, cpu, _APIC_VERSION, flags, _CPU_SIGNATURE, _CPU_FEATURES
        )
    entries += _BUS.pack(_ENTRY_BUS, _ISA_BUS, b"ISA   ")
    entries += _IOAPIC.pack(_ENTRY_IOAPIC, ioapic_id, _IOAPIC_VERSION, 1, IOAPIC_START)
    for irq in range(ISA_IRQS):
        entries += _INTERRUPT.pack(_ENTRY_IO_INT, _INT, 0, _ISA_BUS, irq, ioapic_id, irq)
    entries += _INTERRUPT.pack(_ENTRY_LOCAL_INT, _EXTINT, 0, _ISA_BUS, 0, 0xFF, 0)
    entries += _INTERRUPT.pack(_ENTRY_LOCAL_INT, _NMI, 0, _ISA_BUS, 0, 0xFF, 1)
    count = num_cpus + 2 + ISA_IRQS + 2  # CPUs, bus, IOAPIC, ISA IRQs, LINT0/1
    length = _HEADER.size + len(entries)
    header = bytearray(
        _HEADER.pack(
            b"PCMP", length, 4, 0, b"PYCHV   ", b"0.1         ", 0, 0, count, APIC_START, 0, 0, 0
        )
    )
    table = header + entries
    table[7] = _checksum(table)
    floating = bytearray(_FLOATING.pack(b"_MP_", address + _FLOATING.size, 1, 4, 0, bytes(5)))
    floating[10] = _checksum(floating)
    return bytes(floating + table)
