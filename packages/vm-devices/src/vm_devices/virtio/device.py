"""What a virtio device is to its transport (virtio-pci or virtio-mmio).

Shaped like Cloud Hypervisor's `VirtioDevice` trait: the transport owns the
guest-visible registers (features, status, queue set-up); the device owns its
feature set, its configuration space and, once activated, its queues, served
by its own worker thread. Guest kicks reach the worker through the queues'
ioeventfds, and the worker signals the guest through a `VirtioInterrupt`
(an irqfd per MSI-X vector, or the virtio-mmio interrupt line).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from virtio_queue import Queue
from vm_memory import GuestMemoryMmap

from vm_devices.virtio.defs import COMMON_FEATURES


class VirtioInterrupt(Protocol):
    """How a device tells the driver that a queue has used buffers or its config changed."""

    def notify_queue(self, queue_index: int) -> None: ...
    def notify_config(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ActiveQueue:
    """A queue the driver set up, its index, and the eventfd its notifications signal."""

    index: int
    queue: Queue
    eventfd: int


class VirtioDevice(Protocol):
    @property
    def device_type(self) -> int:
        """The virtio device ID (`DeviceType`)."""
        ...

    @property
    def queue_max_sizes(self) -> Sequence[int]:
        """One entry per queue: the largest size the device accepts."""
        ...

    @property
    def device_features(self) -> int:
        """The feature bits the device offers."""
        ...

    def ack_features(self, features: int) -> None:
        """The features the driver accepted (a subset of `device_features`)."""
        ...

    def read_config(self, offset: int, data: memoryview) -> None:
        """Fill `data` from the device configuration space at `offset`."""
        ...

    def write_config(self, offset: int, data: memoryview | bytes) -> None: ...

    def activate(
        self, memory: GuestMemoryMmap, interrupt: VirtioInterrupt, queues: Sequence[ActiveQueue]
    ) -> None:
        """The driver set DRIVER_OK: start serving `queues` (usually in a worker thread)."""
        ...

    def reset(self) -> None:
        """The driver reset the device: stop serving queues and forget negotiated state."""
        ...

    def pause(self) -> None:
        """The VM is pausing: serve no queue (and take no host input) until `resume()`;
        returns once nothing runs. Raises VirtioDeviceError if that cannot be had."""
        ...

    def resume(self) -> None:
        """The VM resumes: serve again, starting with what arrived while paused."""
        ...

    def counters(self) -> dict[str, int]:
        """Statistics for `vm.counters` (bytes and operations per direction)."""
        ...

    def shutdown(self) -> None:
        """The VM is going away: stop workers and release host resources."""
        ...


class VirtioDeviceBase:
    """Feature negotiation and configuration-space bookkeeping shared by the devices.

    Subclasses set `_avail_features` and `_config` (the device configuration
    space as bytes) and implement `activate`/`reset`.
    """

    def __init__(self, device_type: int, queue_max_sizes: Sequence[int], features: int) -> None:
        self._device_type = device_type
        self._queue_max_sizes = tuple(queue_max_sizes)
        self._avail_features = features | COMMON_FEATURES
        self._acked_features = 0
        self._config = bytearray()
        self._lock = threading.Lock()

    @property
    def device_type(self) -> int:
        return self._device_type

    @property
    def queue_max_sizes(self) -> Sequence[int]:
        return self._queue_max_sizes

    @property
    def device_features(self) -> int:
        return self._avail_features

    @property
    def acked_features(self) -> int:
        return self._acked_features

    def ack_features(self, features: int) -> None:
        # A driver acking a feature the device never offered is ignored for that bit.
        self._acked_features = features & self._avail_features

    def has_feature(self, bit: int) -> bool:
        return bool(self._acked_features & bit)

    def read_config(self, offset: int, data: memoryview) -> None:
        end = offset + len(data)
        if offset < 0 or end > len(self._config):
            data[:] = bytes(len(data))  # out of range reads as zeros, as CH does
            return
        data[:] = self._config[offset:end]

    def write_config(self, offset: int, data: memoryview | bytes) -> None:
        """Most device configuration fields are read-only; writable ones override this."""

    def counters(self) -> dict[str, int]:
        return {}

    def pause(self) -> None:
        """Nothing to park here; a device with worker threads pauses them."""

    def resume(self) -> None:
        """Nothing to release here; a device with worker threads resumes them."""

    def shutdown(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._acked_features = 0
