"""virtio-rng: entropy for the guest from a host source (VIRTIO 1.2, 5.4).

One queue of device-writable buffers; each is filled with ``os.readv``
from the source (``/dev/urandom`` by default) straight into guest memory.
A request gets at most :data:`MAX_REQUEST_BYTES` (the used length says how
many): a guest asking for gigabytes cannot keep the worker busy for long.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Final

from virtio_queue import IOV_MAX, DescriptorChain, InvalidChainError
from vm_memory import GuestMemoryMmap

from vm_devices.errors import DeviceConfigError
from vm_devices.virtio.defs import DeviceType
from vm_devices.virtio.device import ActiveQueue, VirtioDeviceBase, VirtioInterrupt
from vm_devices.virtio.devices.errors import ActivationError
from vm_devices.virtio.devices.serve import GuestErrorLog, QueueServer, WorkerGroup

__all__ = ["DEFAULT_SOURCE", "MAX_REQUEST_BYTES", "Rng"]

log = logging.getLogger(__name__)

DEFAULT_SOURCE: Final = "/dev/urandom"
MAX_REQUEST_BYTES: Final = 64 << 10
QUEUE_SIZE: Final = 256


class Rng(VirtioDeviceBase):
    """An entropy device reading from ``src`` (``--rng src=``); it raises
    :class:`DeviceConfigError` when the source cannot be opened."""

    def __init__(
        self, src: str | os.PathLike[str] = DEFAULT_SOURCE, *, name: str = "virtio-rng"
    ) -> None:
        self.src = os.fspath(src)
        self.name = name
        try:
            self.fd = os.open(self.src, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise DeviceConfigError(
                name, "src", self.src, f"cannot be opened: {error.strerror}"
            ) from None
        super().__init__(DeviceType.RNG, [QUEUE_SIZE], 0)
        self._workers = WorkerGroup()
        self._guest_error = GuestErrorLog(log, name)
        self._host_error = GuestErrorLog(log, f"{name}: reading {self.src}")
        self.bytes = 0
        self.requests = 0

    @property
    def active(self) -> bool:
        return bool(self._workers.workers)

    @property
    def needs_reset(self) -> bool:
        return bool(self._workers.failures)

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        if self.active:
            raise ActivationError(self.name, "activated twice without a reset")
        for active in queues:
            if active.index != 0:
                raise ActivationError(self.name, f"no queue {active.index}")
        worker = self._workers.worker(self.name)
        for active in queues:
            self._workers.serve(
                worker, QueueServer(self.name, active, memory, interrupt, self.handle)
            )
        self._workers.start()

    def handle(self, chain: DescriptorChain) -> int:
        """Fill the chain's writable buffers (up to the limit) from the source."""
        try:
            views = chain.writable_views()
        except InvalidChainError as error:
            self._guest_error("%s", error)
            return 0
        views = _first_bytes(views, MAX_REQUEST_BYTES)[:IOV_MAX]
        if not views:
            return 0
        try:
            count = os.readv(self.fd, views)
        except OSError as error:
            self._host_error("%s", error.strerror)
            return 0
        if not count:
            self._host_error("the source is at its end")
        self.bytes += count
        self.requests += 1
        return count

    def pause(self) -> None:
        self._workers.pause(self.name)

    def resume(self) -> None:
        self._workers.resume()

    def reset(self) -> None:
        self._workers.stop()
        super().reset()

    def counters(self) -> dict[str, int]:
        return {"bytes": self.bytes, "requests": self.requests}

    def shutdown(self) -> None:
        self.reset()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _first_bytes(views: list[memoryview], limit: int) -> list[memoryview]:
    """The views of the first ``limit`` bytes of ``views``."""
    out = []
    for view in views:
        if len(view) >= limit:
            out.append(view[:limit] if len(view) > limit else view)
            return out
        out.append(view)
        limit -= len(view)
    return out
