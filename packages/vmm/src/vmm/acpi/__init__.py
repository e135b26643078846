"""The ACPI tables this VMM gives every x86-64 guest, as Cloud Hypervisor does.

:class:`AcpiPlatform` says what the machine has (CPUs, PCI windows, the
serial port, the GED, NUMA nodes); :func:`write_acpi_tables` puts the RSDP
at :data:`vmm.arch.layout.RSDP_ADDRESS` and the tables after it, and returns
the RSDP's address for the PVH start info or the zero page. A guest without
ACPI ignores them and reads the MP table instead.
"""

from vmm.acpi.platform import AcpiPlatform, NumaNode
from vmm.acpi.tables import build_acpi_tables, write_acpi_tables

__all__ = ["AcpiPlatform", "NumaNode", "build_acpi_tables", "write_acpi_tables"]
