"""virtio-blk: a raw disk image served to the guest (VIRTIO 1.2, 5.2).

Each request queue runs in its own worker thread (one per queue, as in
Cloud Hypervisor), so requests on different queues overlap in the kernel:
``os.preadv``/``os.pwritev`` release the GIL. See :mod:`.block_request` for
what a request may be and how a hostile one is answered, :mod:`.disk` for
the image itself.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from typing import Final

from vm_memory import GuestMemoryMmap

from vm_devices.errors import DeviceConfigError
from vm_devices.virtio.defs import DeviceType
from vm_devices.virtio.device import ActiveQueue, VirtioDeviceBase, VirtioInterrupt
from vm_devices.virtio.devices.block_request import ID_BYTES, BlockRequestHandler
from vm_devices.virtio.devices.disk import SECTOR_SIZE
from vm_devices.virtio.devices.errors import ActivationError
from vm_devices.virtio.devices.formatted_disk import open_disk
from vm_devices.virtio.devices.serve import QueueServer, WorkerGroup

__all__ = [
    "VIRTIO_BLK_F_BLK_SIZE",
    "VIRTIO_BLK_F_DISCARD",
    "VIRTIO_BLK_F_FLUSH",
    "VIRTIO_BLK_F_MQ",
    "VIRTIO_BLK_F_RO",
    "VIRTIO_BLK_F_SEG_MAX",
    "VIRTIO_BLK_F_WRITE_ZEROES",
    "Block",
]

VIRTIO_BLK_F_SIZE_MAX: Final = 1 << 1
VIRTIO_BLK_F_SEG_MAX: Final = 1 << 2
VIRTIO_BLK_F_RO: Final = 1 << 5
VIRTIO_BLK_F_BLK_SIZE: Final = 1 << 6
VIRTIO_BLK_F_FLUSH: Final = 1 << 9
VIRTIO_BLK_F_MQ: Final = 1 << 12
VIRTIO_BLK_F_DISCARD: Final = 1 << 13
VIRTIO_BLK_F_WRITE_ZEROES: Final = 1 << 14

# struct virtio_blk_config up to write_zeroes_may_unmap (60 bytes): capacity,
# size_max, seg_max, geometry (c/h/s), blk_size, topology (4 fields),
# writeback, unused, num_queues, discard limits (3), write zeroes limits (3).
CONFIG: Final = struct.Struct("<QII HBB I BBHI BBH III II B3x")
MAX_DISCARD_SECTORS: Final = 0xFFFF_FFFF
MAX_DISCARD_SEGMENTS: Final = 16
DEFAULT_QUEUE_SIZE: Final = 128
MAX_QUEUES: Final = 256


class Block(VirtioDeviceBase):
    """A virtio block device backed by the image at ``path``.

    What the VMM passes from ``--disk path=,readonly=,direct=,num_queues=,
    queue_size=,id=,sparse=,image_type=``: a qcow2 image (detected, or
    ``image_type="qcow2"``) shows the guest its virtual disk, a raw one its
    bytes; ``serial`` is ``id`` (what GET_ID answers, at most 20 bytes; by
    default one made from the image's device and inode numbers).
    Raises :class:`DeviceConfigError` for bad options and
    :class:`~vm_devices.virtio.devices.errors.DiskOpenError` when the image
    cannot be used as asked.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        direct: bool = False,
        num_queues: int = 1,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        serial: str | bytes | None = None,
        lock: bool = True,
        sparse: bool = True,
        image_type: str | None = None,
        name: str = "virtio-blk",
    ) -> None:
        if not 1 <= num_queues <= MAX_QUEUES:
            raise DeviceConfigError(name, "num_queues", num_queues, f"is not in 1..{MAX_QUEUES}")
        if queue_size < 2 or queue_size > 32768 or queue_size & (queue_size - 1):
            raise DeviceConfigError(
                name, "queue_size", queue_size, "is not a power of two 2..32768"
            )
        serial_bytes = _serial_bytes(name, serial)
        self.disk = open_disk(
            path, readonly=readonly, direct=direct, lock=lock, sparse=sparse, image_type=image_type
        )
        if serial_bytes is None:
            info = os.fstat(self.disk.fd)
            serial_bytes = f"{info.st_dev:x}{info.st_rdev:x}{info.st_ino:x}".encode()[:ID_BYTES]
        self.serial = serial_bytes
        self.name = name
        features = VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_SEG_MAX
        if readonly:
            features |= VIRTIO_BLK_F_RO
        else:  # a thick image (sparse=off) keeps its storage: no discard, no unmap
            features |= VIRTIO_BLK_F_WRITE_ZEROES | (VIRTIO_BLK_F_DISCARD if sparse else 0)
        if num_queues > 1:
            features |= VIRTIO_BLK_F_MQ
        super().__init__(DeviceType.BLOCK, [queue_size] * num_queues, features)
        alignment = self.disk.block_size // SECTOR_SIZE
        self._config = bytearray(
            CONFIG.pack(
                self.disk.capacity,
                0,  # size_max: VIRTIO_BLK_F_SIZE_MAX is not offered
                max(1, queue_size - 2),  # seg_max: the header and status take two
                0, 0, 0,  # geometry: not offered
                self.disk.block_size,
                0, 0, 0, 0,  # topology: not offered
                0, 0,  # writeback, unused
                num_queues,
                MAX_DISCARD_SECTORS, MAX_DISCARD_SEGMENTS, alignment,
                MAX_DISCARD_SECTORS, MAX_DISCARD_SEGMENTS, int(sparse),  # zeroes may unmap
            )
        )  # fmt: skip
        self._workers = WorkerGroup()
        self._handlers: list[BlockRequestHandler] = []
        self._retired = {"read_bytes": 0, "read_ops": 0, "write_bytes": 0, "write_ops": 0}

    @property
    def capacity(self) -> int:
        """The disk's size in 512-byte sectors."""
        return self.disk.capacity

    @property
    def active(self) -> bool:
        return bool(self._workers.workers)

    @property
    def needs_reset(self) -> bool:
        """A queue was broken by the driver (logged): the device needs a reset."""
        return bool(self._workers.failures)

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        if self.active:
            raise ActivationError(self.name, "activated twice without a reset")
        for active in queues:
            if not 0 <= active.index < len(self.queue_max_sizes):
                raise ActivationError(self.name, f"no queue {active.index}")
        for active in queues:
            handler = BlockRequestHandler(
                self.disk,
                self.serial,
                max_discard_segments=MAX_DISCARD_SEGMENTS,
                max_discard_sectors=MAX_DISCARD_SECTORS,
                name=f"{self.name} queue {active.index}",
            )
            self._handlers.append(handler)
            worker = self._workers.worker(f"{self.name}-q{active.index}")
            server = QueueServer(self.name, active, memory, interrupt, handler.handle)
            self._workers.serve(worker, server)
        self._workers.start()

    def pause(self) -> None:
        self._workers.pause(self.name)

    def resume(self) -> None:
        self._workers.resume()

    def reset(self) -> None:
        self._workers.stop()
        for handler in self._handlers:
            for key in self._retired:
                self._retired[key] += getattr(handler.counters, key)
        self._handlers.clear()
        super().reset()

    def counters(self) -> dict[str, int]:
        totals = dict(self._retired)
        for handler in self._handlers:
            for key in totals:
                totals[key] += getattr(handler.counters, key)
        return totals

    def shutdown(self) -> None:
        self.reset()
        self.disk.close()


def _serial_bytes(name: str, serial: str | bytes | None) -> bytes | None:
    if serial is None:
        return None
    data = serial.encode("ascii", "replace") if isinstance(serial, str) else bytes(serial)
    if len(data) > ID_BYTES:
        raise DeviceConfigError(name, "id", serial, f"is longer than {ID_BYTES} bytes")
    return data
