"""The guest side of the device tests: mock drivers on real guest memory, real
eventfds as the kick path, and a recorder for the device's interrupts.

Each queue's driver lives in a guest memory region of its own (with holes
between the regions), so the buffers the drivers allocate never overlap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from virtio_queue import MockChain, MockSplitQueue, UsedElement
from vm_devices.virtio import ActiveQueue, VirtioDevice
from vm_memory import GuestMemoryMmap

D = TypeVar("D", bound=VirtioDevice)

REGION_SIZE = 8 << 20
REGION_STRIDE = 16 << 20
TIMEOUT = 5.0


def guest_memory(regions: int) -> GuestMemoryMmap:
    return GuestMemoryMmap.from_ranges([(i * REGION_STRIDE, REGION_SIZE) for i in range(regions)])


class InterruptRecorder:
    """A :class:`VirtioInterrupt` that records every notification."""

    def __init__(self) -> None:
        self.queues: list[int] = []
        self.config = 0
        self._changed = threading.Condition()

    def notify_queue(self, queue_index: int) -> None:
        with self._changed:
            self.queues.append(queue_index)
            self._changed.notify_all()

    def notify_config(self) -> None:
        with self._changed:
            self.config += 1
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def wait_for(self, queue_index: int, count: int, timeout: float = 5.0) -> bool:
        """Wait until queue ``queue_index`` was notified ``count`` times in all."""
        with self._changed:
            return self._changed.wait_for(lambda: self.queues.count(queue_index) >= count, timeout)

    def count(self, queue_index: int) -> int:
        with self._changed:
            return self.queues.count(queue_index)


@dataclass
class GuestQueue:
    """One queue as the guest sees it: the driver, and the eventfd it kicks."""

    index: int
    driver: MockSplitQueue
    active: ActiveQueue
    used: list[UsedElement] = field(default_factory=list)
    kick_when_needed: bool = False  # as Linux does: only when the device asks for kicks
    kicks: int = 0

    def kick(self) -> None:
        if self.kick_when_needed and not self.driver.kick_needed():
            return
        self.kicks += 1
        os.eventfd_write(self.active.eventfd, 1)

    def submit(
        self,
        readable: Sequence[bytes] = (),
        writable: Sequence[int] = (),
        *,
        indirect: bool = False,
    ) -> MockChain:
        chain = self.driver.add_request(readable, writable, indirect=indirect)
        self.kick()
        return chain


class Guest(Generic[D]):
    """A driver for every queue of ``device``, in ``memory``; activates it."""

    def __init__(
        self,
        device: D,
        *,
        queue_count: int | None = None,
        event_idx: bool = False,
        features: int | None = None,
        kick_when_needed: bool = False,
    ) -> None:
        count = len(device.queue_max_sizes) if queue_count is None else queue_count
        self.device = device
        self.memory = guest_memory(count)
        self.interrupt = InterruptRecorder()
        self.queues: list[GuestQueue] = []
        for index in range(count):
            size = min(device.queue_max_sizes[index], 256)
            driver = MockSplitQueue(self.memory, size, index * REGION_STRIDE, event_idx=event_idx)
            eventfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            active = ActiveQueue(index, driver.create_queue(device.queue_max_sizes[index]), eventfd)
            self.queues.append(GuestQueue(index, driver, active, kick_when_needed=kick_when_needed))
        device.ack_features(device.device_features if features is None else features)

    def activate(self) -> None:
        self.device.activate(self.memory, self.interrupt, [q.active for q in self.queues])

    def wait_used(self, index: int, count: int, timeout: float = TIMEOUT) -> list[UsedElement]:
        """Wait until the device returned ``count`` more chains on queue ``index``;
        those chains, in used-ring order."""
        queue = self.queues[index]
        deadline = time.monotonic() + timeout
        while True:
            queue.used += queue.driver.collect_used()
            if len(queue.used) >= count:
                done, queue.used = queue.used[:count], queue.used[count:]
                return done
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"queue {index}: {len(queue.used)} of {count} chains returned")
            self.interrupt.wait(min(left, 0.05))

    def assert_idle(self, index: int, wait: float = 0.1) -> None:
        """Nothing more comes back on queue ``index`` within ``wait`` seconds."""
        time.sleep(wait)
        queue = self.queues[index]
        queue.used += queue.driver.collect_used()
        assert queue.used == []

    def close(self) -> None:
        self.device.reset()
        for queue in self.queues:
            queue.active.queue.release()
            os.close(queue.active.eventfd)
        self.queues.clear()
        self.memory.close()
