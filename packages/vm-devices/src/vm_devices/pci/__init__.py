"""PCI for a Python VMM: configuration space, a bus with a host bridge, CONF1 and ECAM, MSI-X.

Shaped like Cloud Hypervisor's ``pci`` crate. A device keeps a
:class:`PciConfiguration` (read-only and writable bits, BARs that a guest can
size and move, a capability list); a :class:`PciBus` holds the devices and
answers configuration accesses, which reach it through :class:`PciConfigIo`
(ports 0xCF8-0xCFF) and :class:`PciConfigMmio` (ECAM). :class:`BarAllocator`
places BARs in the MMIO windows; :class:`MsixTable` delivers MSI-X vectors
through the VMM's :class:`MsiInterruptGroup`.
"""

from vm_devices.pci.access import (
    CONF1_ADDRESS_PORT,
    CONF1_DATA_PORT,
    CONF1_LENGTH,
    ECAM_BUS_SIZE,
    PciConfigIo,
    PciConfigMmio,
    conf1_address,
    ecam_offset,
)
from vm_devices.pci.allocator import AddressAllocator, BarAllocator
from vm_devices.pci.bus import NO_DEVICE, SLOTS, PciBus
from vm_devices.pci.config import BarKind, BarReprogram, PciBar, PciConfiguration
from vm_devices.pci.defs import CapabilityId, Command, PciClass
from vm_devices.pci.device import DeviceRelocation, PciAddress, PciDevice, PciHostBridge
from vm_devices.pci.errors import (
    AddressSpaceExhaustedError,
    CapabilitySpaceFullError,
    InvalidBarError,
    PciError,
    PciSlotError,
)
from vm_devices.pci.msi import EventFdMsiGroup, MsiInterruptGroup, MsiMessage, RecordingMsiGroup
from vm_devices.pci.msix import MSIX_ENTRY_SIZE, MSIX_MAX_VECTORS, MsixTable

__all__ = [
    "CONF1_ADDRESS_PORT",
    "CONF1_DATA_PORT",
    "CONF1_LENGTH",
    "ECAM_BUS_SIZE",
    "MSIX_ENTRY_SIZE",
    "MSIX_MAX_VECTORS",
    "NO_DEVICE",
    "SLOTS",
    "AddressAllocator",
    "AddressSpaceExhaustedError",
    "BarAllocator",
    "BarKind",
    "BarReprogram",
    "CapabilityId",
    "CapabilitySpaceFullError",
    "Command",
    "DeviceRelocation",
    "EventFdMsiGroup",
    "InvalidBarError",
    "MsiInterruptGroup",
    "MsiMessage",
    "MsixTable",
    "PciAddress",
    "PciBar",
    "PciBus",
    "PciClass",
    "PciConfigIo",
    "PciConfigMmio",
    "PciConfiguration",
    "PciDevice",
    "PciError",
    "PciHostBridge",
    "PciSlotError",
    "RecordingMsiGroup",
    "conf1_address",
    "ecam_offset",
]
