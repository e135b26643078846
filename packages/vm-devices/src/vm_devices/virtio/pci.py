"""The virtio-pci transport, modern interface only (VIRTIO 1.2 section 4.1).

:class:`VirtioPciDevice` makes a :class:`~vm_devices.virtio.device.VirtioDevice`
a PCI function (vendor 0x1AF4, device 0x1040 + type, revision 1) with one
64-bit memory BAR laid out as Cloud Hypervisor lays it out, each structure on
its own 8 KiB boundary::

    0x00000  common configuration (56 bytes)     0x06000  notifications, 4 bytes per queue
    0x02000  ISR status (1 byte, read clears)    0x08000  MSI-X table (16 bytes per vector)
    0x04000  device configuration (4 KiB)        0x48000  MSI-X PBA
                                                 0x80000  end of BAR

Vendor capabilities point the driver at each (COMMON, NOTIFY with a multiplier
of 4, ISR, DEVICE, and the PCI_CFG window), then the MSI-X capability. The VMM
inserts the device on the MMIO bus at its BAR and registers
:meth:`VirtioPciDevice.ioeventfds` with KVM, so that kicks never leave the
kernel; a notify write that does reach the bus signals the same eventfd.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Sequence
from typing import NamedTuple

from vm_memory import GuestMemoryMmap

from vm_devices.errors import DeviceConfigError
from vm_devices.pci.allocator import BarAllocator
from vm_devices.pci.config import BarKind, BarReprogram, PciBar, PciConfiguration
from vm_devices.pci.defs import CapabilityId, PciClass
from vm_devices.pci.msi import MsiInterruptGroup
from vm_devices.pci.msix import MsixTable
from vm_devices.virtio.defs import DeviceType
from vm_devices.virtio.device import VirtioDevice
from vm_devices.virtio.pci_common import COMMON_CFG_SIZE, CommonConfig
from vm_devices.virtio.transport import NO_VECTOR, VirtioTransport

__all__ = [
    "BAR_SIZE",
    "DEVICE_CFG_OFFSET",
    "ISR_CFG_OFFSET",
    "MAX_QUEUES",
    "MSIX_PBA_OFFSET",
    "MSIX_TABLE_OFFSET",
    "NOTIFY_OFFSET",
    "NOTIFY_OFF_MULTIPLIER",
    "VIRTIO_PCI_DEVICE_ID_BASE",
    "VIRTIO_PCI_VENDOR_ID",
    "NotifyEventFd",
    "PciVirtioInterrupt",
    "VirtioPciDevice",
]

log = logging.getLogger(__name__)

VIRTIO_PCI_VENDOR_ID = 0x1AF4
VIRTIO_PCI_DEVICE_ID_BASE = 0x1040
BAR_INDEX = 0
COMMON_CFG_OFFSET = 0x0000
ISR_CFG_OFFSET = 0x2000
DEVICE_CFG_OFFSET = 0x4000
DEVICE_CFG_SIZE = 0x1000
NOTIFY_OFFSET = 0x6000
NOTIFY_OFF_MULTIPLIER = 4
MAX_QUEUES = 0x400
MSIX_TABLE_OFFSET = 0x8000
MSIX_PBA_OFFSET = 0x48000
BAR_SIZE = 0x80000

# virtio_pci_cap.cfg_type
_COMMON_CFG, _NOTIFY_CFG, _ISR_CFG, _DEVICE_CFG, _PCI_CFG = 1, 2, 3, 4, 5
_CAP = struct.Struct("<BBBBxxII")  # cap_len, cfg_type, bar, id, padding, offset, length
_ISR_QUEUE, _ISR_CONFIG = 1, 2
_DEVICE_STATUS = 0x14  # in the common configuration
_CLASSES: dict[int, tuple[PciClass, int]] = {
    DeviceType.NET: (PciClass.NETWORK, 0x00),
    DeviceType.BLOCK: (PciClass.MASS_STORAGE, 0x80),
    DeviceType.CONSOLE: (PciClass.COMMUNICATION, 0x80),
}


class NotifyEventFd(NamedTuple):
    """Register ``eventfd`` as a KVM ioeventfd at MMIO ``address``, any length, no datamatch."""

    address: int
    eventfd: int


def _vendor_cap(cfg_type: int, offset: int, length: int, extra: bytes = b"") -> bytes:
    """A ``virtio_pci_cap`` after its ID and next bytes (which the config space writes)."""
    return _CAP.pack(16 + len(extra), cfg_type, BAR_INDEX, 0, offset, length) + extra


class VirtioPciDevice:
    """A virtio device behind the modern virtio-pci transport.

    ``msi`` delivers the MSI-X vectors (one per queue plus one for
    configuration changes unless ``msix_vectors`` says otherwise). The device
    is a :class:`~vm_devices.pci.device.PciDevice` for the
    :class:`~vm_devices.pci.bus.PciBus` and a :class:`~vm_devices.bus.BusDevice`
    for its BAR on the MMIO bus.
    """

    def __init__(
        self,
        device: VirtioDevice,
        memory: GuestMemoryMmap,
        msi: MsiInterruptGroup,
        *,
        msix_vectors: int | None = None,
    ) -> None:
        queues = len(device.queue_max_sizes)
        if queues > MAX_QUEUES:
            raise DeviceConfigError("virtio-pci", "queues", queues, f"is more than {MAX_QUEUES}")
        vectors = queues + 1 if msix_vectors is None else msix_vectors
        self.msix = MsixTable(vectors, msi)
        self._isr = 0
        self._isr_lock = threading.Lock()
        self.interrupt = PciVirtioInterrupt(self)
        self.transport = VirtioTransport(device, memory, self.interrupt)
        self.common = CommonConfig(self.transport, vectors)
        self.device = device
        device_type = device.device_type
        class_code, subclass = _CLASSES.get(device_type, (PciClass.OTHER, 0x00))
        self.config = PciConfiguration(
            VIRTIO_PCI_VENDOR_ID,
            VIRTIO_PCI_DEVICE_ID_BASE + device_type,
            class_code=class_code,
            subclass=subclass,
            revision=1,
            subsystem_vendor_id=VIRTIO_PCI_VENDOR_ID,
            subsystem_id=0x40 + device_type,
        )
        self.config.add_bar(BAR_INDEX, BAR_SIZE, BarKind.MEMORY64)
        self._add_capabilities(queues)

    def _add_capabilities(self, queues: int) -> None:
        vendor, config = CapabilityId.VENDOR_SPECIFIC, self.config
        config.add_capability(vendor, _vendor_cap(_COMMON_CFG, COMMON_CFG_OFFSET, COMMON_CFG_SIZE))
        config.add_capability(vendor, _vendor_cap(_ISR_CFG, ISR_CFG_OFFSET, 1))
        config.add_capability(vendor, _vendor_cap(_DEVICE_CFG, DEVICE_CFG_OFFSET, DEVICE_CFG_SIZE))
        multiplier = struct.pack("<I", NOTIFY_OFF_MULTIPLIER)
        notify_length = max(queues, 1) * NOTIFY_OFF_MULTIPLIER
        config.add_capability(
            vendor, _vendor_cap(_NOTIFY_CFG, NOTIFY_OFFSET, notify_length, multiplier)
        )
        # VIRTIO_PCI_CAP_PCI_CFG: bar, offset, length and pci_cfg_data are the driver's.
        writable = bytes((0, 0, 0xFF, 0, 0, 0)) + b"\xff" * 12
        self._pci_cfg = config.add_capability(
            vendor, _vendor_cap(_PCI_CFG, 0, 0, bytes(4)), writable
        )
        self.msix.add_capability(config, BAR_INDEX, MSIX_TABLE_OFFSET, MSIX_PBA_OFFSET)

    # The VMM's side --------------------------------------------------------------

    @property
    def bar_address(self) -> int:
        """Where the BAR is mapped (0 until allocated)."""
        return self.config.bar(BAR_INDEX).address

    def ioeventfds(self, bar_base: int) -> list[NotifyEventFd]:
        """Each queue's notify address in a BAR at ``bar_base``, with its eventfd."""
        return [
            NotifyEventFd(bar_base + NOTIFY_OFFSET + NOTIFY_OFF_MULTIPLIER * index, fd)
            for index, fd in enumerate(self.transport.eventfds)
        ]

    def close(self) -> None:
        """Shut the device down and close the queue eventfds."""
        self.transport.close()

    # PciDevice -------------------------------------------------------------------

    def read_config_register(self, reg: int) -> int:
        if self._pci_cfg // 4 + 4 == reg:
            self._pci_cfg_access(None)
        return self.config.read_dword(reg)

    def write_config_register(
        self, reg: int, offset: int, data: bytes | memoryview
    ) -> BarReprogram | None:
        if not 0 <= offset <= 3 or offset + len(data) > 4:
            return None
        start = reg * 4 + offset
        end = start + len(data)
        reprogram = self.config.write(start, data)
        self.msix.config_written(start, end)
        data_field = self._pci_cfg + 16
        if start < data_field + 4 and end > data_field:
            self._pci_cfg_access(self.config.read(data_field, 4))
        return reprogram

    def bars(self) -> Sequence[PciBar]:
        return self.config.bars()

    def allocate_bars(self, allocator: BarAllocator) -> Sequence[PciBar]:
        address = allocator.allocate(BAR_SIZE, BarKind.MEMORY64)
        self.config.set_bar_address(BAR_INDEX, address)
        return self.config.bars()

    def move_bar(self, old_base: int, new_base: int) -> None:
        if old_base == self.bar_address:
            self.config.set_bar_address(BAR_INDEX, new_base)

    def _pci_cfg_access(self, write: int | None) -> None:
        """VIRTIO_PCI_CAP_PCI_CFG: access the BAR through the capability's window."""
        cap = self._pci_cfg
        bar = self.config.read(cap + 4, 1)
        offset, length = self.config.read(cap + 8, 4), self.config.read(cap + 12, 4)
        if bar != BAR_INDEX or length not in (1, 2, 4) or offset % length:
            return
        if offset + length > BAR_SIZE:
            return
        if write is None:
            data = bytearray(4)
            self.read(0, offset, memoryview(data)[:length])
            self.config.poke(cap + 16, bytes(data))
        else:
            self.write(0, offset, write.to_bytes(4, "little")[:length])

    # BusDevice: the BAR ---------------------------------------------------------------

    def read(self, base: int, offset: int, data: memoryview) -> None:
        size = len(data)
        if offset < COMMON_CFG_SIZE:
            with self.transport.lock:
                self.common.read(offset, data)
        elif offset == ISR_CFG_OFFSET:
            with self._isr_lock:
                isr, self._isr = self._isr, 0
            data[:] = isr.to_bytes(size, "little")
        elif DEVICE_CFG_OFFSET <= offset < DEVICE_CFG_OFFSET + DEVICE_CFG_SIZE:
            self.transport.read_device_config(offset - DEVICE_CFG_OFFSET, data)
        elif MSIX_TABLE_OFFSET <= offset < MSIX_PBA_OFFSET:
            self.msix.read_table(offset - MSIX_TABLE_OFFSET, data)
        elif offset >= MSIX_PBA_OFFSET:
            self.msix.read_pba(offset - MSIX_PBA_OFFSET, data)
        else:
            data[:] = bytes(size)

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        if offset < COMMON_CFG_SIZE:
            with self.transport.lock:
                self.common.write(offset, data)
            if offset == _DEVICE_STATUS and not any(data):  # reset: nothing is pending
                with self._isr_lock:
                    self._isr = 0
        elif NOTIFY_OFFSET <= offset < MSIX_TABLE_OFFSET:
            index = (offset - NOTIFY_OFFSET) // NOTIFY_OFF_MULTIPLIER
            eventfds = self.transport.eventfds
            if index < len(eventfds):
                try:  # noqa: SIM105 (hot path: no context manager per kick)
                    os.eventfd_write(eventfds[index], 1)
                except OSError:  # a full counter: the kick is pending already
                    pass
        elif DEVICE_CFG_OFFSET <= offset < DEVICE_CFG_OFFSET + DEVICE_CFG_SIZE:
            self.transport.write_device_config(offset - DEVICE_CFG_OFFSET, data)
        elif MSIX_TABLE_OFFSET <= offset < MSIX_PBA_OFFSET:
            self.msix.write_table(offset - MSIX_TABLE_OFFSET, data)

    def _raise_isr(self, bits: int) -> None:
        with self._isr_lock:
            self._isr |= bits


class PciVirtioInterrupt:
    """The device's :class:`~vm_devices.virtio.device.VirtioInterrupt`: a queue's
    MSI-X vector, or the configuration vector. ``NO_VECTOR`` means no interrupt;
    with MSI-X disabled only the ISR bits are set (there is no INTx pin)."""

    def __init__(self, pci: VirtioPciDevice) -> None:
        self._pci = pci

    def notify_queue(self, queue_index: int) -> None:
        pci = self._pci
        if not pci.msix.enabled:
            pci._raise_isr(_ISR_QUEUE)
            return
        queues = pci.transport.queues
        if 0 <= queue_index < len(queues):
            vector = queues[queue_index].vector
            if vector != NO_VECTOR:
                pci.msix.trigger(vector)

    def notify_config(self) -> None:
        pci = self._pci
        pci.transport.config_generation += 1
        pci._raise_isr(_ISR_CONFIG)
        vector = pci.common.config_vector
        if pci.msix.enabled and vector != NO_VECTOR:
            pci.msix.trigger(vector)
