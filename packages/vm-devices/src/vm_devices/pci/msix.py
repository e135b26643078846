"""MSI-X (PCI Local Bus 3.0, section 6.8.2): the capability, the vector table and the PBA.

The table (16 bytes per vector: message address, data, vector control) and
the pending-bit array live in a BAR; the device's BAR handler passes their
accesses to :class:`MsixTable`. The capability's message control word holds
MSI-X Enable and Function Mask. A vector is delivered through the device's
:class:`~vm_devices.pci.msi.MsiInterruptGroup` only while MSI-X is enabled and
neither the vector nor the function is masked; a masked vector's interrupt
sets its pending bit instead, and is delivered (and the bit cleared) as soon
as it is unmasked. Every change of a vector's message or effective masking is
passed on with ``update``, so the VMM's route follows the table.
"""

from __future__ import annotations

import struct
import threading

from vm_devices.errors import DeviceConfigError
from vm_devices.pci.config import PciConfiguration
from vm_devices.pci.defs import CapabilityId
from vm_devices.pci.msi import MsiInterruptGroup, MsiMessage

__all__ = [
    "MSIX_ENABLE",
    "MSIX_ENTRY_SIZE",
    "MSIX_FUNCTION_MASK",
    "MSIX_MAX_VECTORS",
    "MsixTable",
]

MSIX_ENTRY_SIZE = 16
MSIX_MAX_VECTORS = 2048
MSIX_ENABLE = 1 << 15
MSIX_FUNCTION_MASK = 1 << 14
_VECTOR_MASKED = 1
_ENTRY = struct.Struct("<IIII")  # address low, address high, data, vector control
_CONTROL_OFFSET = 2  # message control, after the ID and next pointer


class MsixTable:
    """``vectors`` MSI-X vectors delivered through ``group``. Thread-safe: vCPUs
    write the table while device workers trigger vectors."""

    def __init__(self, vectors: int, group: MsiInterruptGroup) -> None:
        if not 1 <= vectors <= MSIX_MAX_VECTORS:
            raise DeviceConfigError("MSI-X", "vectors", vectors, f"is not 1-{MSIX_MAX_VECTORS}")
        self._vectors = vectors
        self._group = group
        # Every vector starts masked (6.8.2.9), message 0.
        self._table = bytearray(_ENTRY.pack(0, 0, 0, _VECTOR_MASKED) * vectors)
        self._pending = 0
        self._enabled = False
        self._function_masked = False
        self._config: PciConfiguration | None = None
        self._cap_offset = 0
        self._lock = threading.Lock()

    @property
    def vectors(self) -> int:
        return self._vectors

    @property
    def table_size(self) -> int:
        """Bytes of table: 16 per vector."""
        return self._vectors * MSIX_ENTRY_SIZE

    @property
    def pba_size(self) -> int:
        """Bytes of pending-bit array: whole qwords."""
        return (self._vectors + 63) // 64 * 8

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def function_masked(self) -> bool:
        return self._function_masked

    def message(self, vector: int) -> MsiMessage:
        low, high, data, _control = _ENTRY.unpack_from(self._table, vector * MSIX_ENTRY_SIZE)
        return MsiMessage(high << 32 | low, data)

    def vector_masked(self, vector: int) -> bool:
        """The vector's own mask bit (the function mask aside)."""
        return bool(self._table[vector * MSIX_ENTRY_SIZE + 12] & _VECTOR_MASKED)

    def pending(self, vector: int) -> bool:
        return bool(self._pending >> vector & 1)

    # The capability --------------------------------------------------------------------

    def add_capability(
        self, config: PciConfiguration, bar: int, table_offset: int, pba_offset: int
    ) -> int:
        """Add the MSI-X capability to ``config``, table and PBA in BAR ``bar`` at the
        given (8-byte aligned) offsets; returns the capability's offset. The owner
        calls :meth:`config_written` after each configuration write."""
        if table_offset % 8 or pba_offset % 8 or not 0 <= bar < 6:
            raise DeviceConfigError(
                "MSI-X", "table/PBA", (bar, table_offset, pba_offset), "needs 8-byte offsets"
            )
        body = struct.pack("<HII", self._vectors - 1, table_offset | bar, pba_offset | bar)
        writable = struct.pack("<HII", MSIX_ENABLE | MSIX_FUNCTION_MASK, 0, 0)
        self._cap_offset = config.add_capability(CapabilityId.MSIX, body, writable)
        self._config = config
        return self._cap_offset

    def config_written(self, start: int, end: int) -> None:
        """The guest wrote configuration bytes ``[start, end)``: follow message control."""
        control = self._cap_offset + _CONTROL_OFFSET
        if self._config is not None and start < control + 2 and end > control:
            self.set_control(self._config.read(control, 2))

    def set_control(self, control: int) -> None:
        """Apply a message control value (MSI-X Enable, Function Mask)."""
        with self._lock:
            was_enabled, was_masked = self._enabled, self._function_masked
            self._enabled = bool(control & MSIX_ENABLE)
            self._function_masked = bool(control & MSIX_FUNCTION_MASK)
            if (was_enabled, was_masked) == (self._enabled, self._function_masked):
                return
            for vector in range(self._vectors):
                self._update(vector)
            if self._enabled and not self._function_masked:
                for vector in range(self._vectors):
                    self._deliver_pending(vector)

    # The table and PBA in the BAR ------------------------------------------------------

    def read_table(self, offset: int, data: memoryview) -> None:
        """Bytes of the table at ``offset``; beyond the table reads as zeros."""
        end = offset + len(data)
        if offset >= 0 and end <= len(self._table):
            data[:] = self._table[offset:end]
        else:
            data[:] = bytes(len(data))

    def write_table(self, offset: int, data: memoryview | bytes) -> None:
        """A guest write into the table; reserved vector-control bits stay 0."""
        end = offset + len(data)
        if offset < 0 or end > len(self._table) or not data:
            return
        first, last = offset // MSIX_ENTRY_SIZE, (end - 1) // MSIX_ENTRY_SIZE
        with self._lock:
            before = [self._entry_bytes(vector) for vector in range(first, last + 1)]
            self._table[offset:end] = data
            for vector, old in zip(range(first, last + 1), before, strict=True):
                control = vector * MSIX_ENTRY_SIZE + 12
                self._table[control : control + 4] = bytes((self._table[control] & 1, 0, 0, 0))
                if self._entry_bytes(vector) != old:
                    self._update(vector)
                    self._deliver_pending(vector)

    def read_pba(self, offset: int, data: memoryview) -> None:
        """Pending bits, 64 vectors per qword; beyond the array reads as zeros."""
        pba = self._pending.to_bytes(self.pba_size, "little")
        end = offset + len(data)
        if offset >= 0 and end <= len(pba):
            data[:] = pba[offset:end]
        else:
            data[:] = bytes(len(data))

    # Delivery ---------------------------------------------------------------------------

    def trigger(self, vector: int) -> None:
        """Raise ``vector``: deliver it, or mark it pending while it is masked.
        Ignored while MSI-X is disabled or for a vector outside the table."""
        with self._lock:
            if not self._enabled or not 0 <= vector < self._vectors:
                return
            if self._function_masked or self._table[vector * MSIX_ENTRY_SIZE + 12] & 1:
                self._pending |= 1 << vector
                return
            self._group.trigger(vector)

    def _entry_bytes(self, vector: int) -> bytes:
        start = vector * MSIX_ENTRY_SIZE
        return bytes(self._table[start : start + MSIX_ENTRY_SIZE])

    def _update(self, vector: int) -> None:
        message = self.message(vector)
        masked = not self._enabled or self._function_masked or self.vector_masked(vector)
        self._group.update(vector, message.address, message.data, masked)

    def _deliver_pending(self, vector: int) -> None:
        if (
            self._pending >> vector & 1
            and self._enabled
            and not self._function_masked
            and not self.vector_masked(vector)
        ):
            self._pending &= ~(1 << vector)
            self._group.trigger(vector)
