"""The virtio-pci common configuration structure (VIRTIO 1.2 section 4.1.4.3).

``struct virtio_pci_common_cfg``: feature windows, MSI-X vectors, device
status, and the registers of the queue ``queue_select`` names. Each field is
accessed at its own width; a 64-bit queue address may also be written as two
32-bit halves (what Linux does). Any other access (a misaligned or
mis-sized one, past the structure) reads as zero and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from vm_devices.virtio.transport import NO_VECTOR, VirtioTransport

__all__ = ["COMMON_CFG_SIZE", "CommonConfig"]

COMMON_CFG_SIZE = 0x38
"""Bytes of the structure up to ``queue_device``; the 1.2 fields after it need
features this project does not offer (NOTIF_CONFIG_DATA, RING_RESET)."""

_QUEUE_DESC, _QUEUE_DRIVER, _QUEUE_DEVICE = 0x20, 0x28, 0x30
_ADDRESS_FIELDS = {_QUEUE_DESC: "desc", _QUEUE_DRIVER: "driver", _QUEUE_DEVICE: "device"}
_WIDTHS = {
    0x00: 4,  # device_feature_select
    0x04: 4,  # device_feature (RO)
    0x08: 4,  # driver_feature_select
    0x0C: 4,  # driver_feature
    0x10: 2,  # config_msix_vector
    0x12: 2,  # num_queues (RO)
    0x14: 1,  # device_status
    0x15: 1,  # config_generation (RO)
    0x16: 2,  # queue_select
    0x18: 2,  # queue_size
    0x1A: 2,  # queue_msix_vector
    0x1C: 2,  # queue_enable
    0x1E: 2,  # queue_notify_off (RO)
}


class CommonConfig:
    """The common configuration registers over a :class:`VirtioTransport`.

    ``vectors`` is the MSI-X table size: a vector number at or past it is
    stored (and read back) as ``NO_VECTOR``, which tells the driver the
    mapping failed. Callers hold ``transport.lock``.
    """

    def __init__(self, transport: VirtioTransport, vectors: int) -> None:
        self.transport = transport
        self.vectors = vectors
        self.config_vector = NO_VECTOR
        self._readers: dict[int, Callable[[], int]] = {
            0x00: lambda: transport.device_feature_select,
            0x04: transport.device_features_word,
            0x08: lambda: transport.driver_feature_select,
            0x0C: transport.driver_features_word,
            0x10: lambda: self.config_vector,
            0x12: lambda: len(transport.queues),
            0x14: lambda: transport.status,
            0x15: lambda: transport.config_generation & 0xFF,
            0x16: lambda: transport.queue_select,
            0x18: self._queue_size,
            0x1A: self._queue_vector,
            0x1C: self._queue_enable,
            0x1E: self._queue_notify_off,
        }

    def reset(self) -> None:
        """The driver reset the device: the config vector goes back to NO_VECTOR."""
        self.config_vector = NO_VECTOR

    def read(self, offset: int, data: memoryview) -> None:
        size = len(data)
        value = 0
        width = _WIDTHS.get(offset)
        if width == size:
            value = self._readers[offset]()
        else:
            address = self._address_field(offset, size)
            if address is not None:
                value = self._queue_address(address[0]) >> address[1]
        data[:] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def write(self, offset: int, data: memoryview | bytes) -> None:
        size = len(data)
        value = int.from_bytes(data, "little")
        if _WIDTHS.get(offset) == size:
            self._write_field(offset, value)
            return
        address = self._address_field(offset, size)
        if address is None:
            return
        area, shift = address
        if size == 8:
            self.transport.set_queue_address(area, value & 0xFFFF_FFFF, value >> 32)
        elif shift:
            self.transport.set_queue_address(area, None, value)
        else:
            self.transport.set_queue_address(area, value, None)

    @staticmethod
    def _address_field(offset: int, size: int) -> tuple[str, int] | None:
        """(area, shift) for a whole (8-byte) or half (4-byte) queue address access."""
        base = offset & ~7
        area = _ADDRESS_FIELDS.get(base)
        if area is None or (size, offset - base) not in ((8, 0), (4, 0), (4, 4)):
            return None
        return area, 8 * (offset - base)

    def _write_field(self, offset: int, value: int) -> None:
        transport = self.transport
        if offset == 0x00:
            transport.device_feature_select = value
        elif offset == 0x08:
            transport.driver_feature_select = value
        elif offset == 0x0C:
            transport.write_driver_features_word(value)
        elif offset == 0x10:
            self.config_vector = self._vector(value)
        elif offset == 0x14:
            transport.write_status(value)
            if value == 0:
                self.reset()
        elif offset == 0x16:
            transport.queue_select = value
        elif offset == 0x18:
            transport.set_queue_size(value)
        elif offset == 0x1A:
            q = transport.selected()
            if q is not None:
                q.vector = self._vector(value)
        elif offset == 0x1C and value == 1:  # the driver never writes 0 (4.1.4.3.2)
            transport.set_queue_enabled(True)

    def _vector(self, value: int) -> int:
        return value if value < self.vectors else NO_VECTOR

    def _queue_size(self) -> int:
        q = self.transport.selected()
        return 0 if q is None else q.size

    def _queue_vector(self) -> int:
        q = self.transport.selected()
        return NO_VECTOR if q is None else q.vector

    def _queue_enable(self) -> int:
        q = self.transport.selected()
        return int(q is not None and q.enabled)

    def _queue_notify_off(self) -> int:
        return self.transport.queue_select if self.transport.selected() is not None else 0

    def _queue_address(self, area: str) -> int:
        q = self.transport.selected()
        if q is None:
            return 0
        if area == "desc":
            return q.queue.desc_table
        return q.queue.avail_ring if area == "driver" else q.queue.used_ring
