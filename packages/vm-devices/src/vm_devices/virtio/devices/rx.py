"""A receive queue: guest buffers the device fills from a host fd (a tap, a
terminal) whenever that fd is readable.

The worker watches the source fd only while the guest has buffers posted.
When they run out, it asks the driver for a kick (notifications on), stops
watching the source (what arrives stays queued in the host fd, where the
host's own flow control applies) and starts again on the next kick of the
queue. While it watches the source, the driver's kicks are switched off:
the worker will look at the queue anyway when data arrives.

The device supplies ``fill``: one step of moving data from the source into
popped chains, saying whether it delivered something, found the source
empty, or ran out of buffers.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from virtio_queue import DescriptorChain, InvalidHeadIndexError, VirtioQueueError
from vm_memory import GuestMemoryMmap

from vm_devices.virtio.device import ActiveQueue, VirtioInterrupt
from vm_devices.virtio.devices.serve import GuestErrorLog
from vm_devices.virtio.worker import EpollWorker, drain_eventfd

__all__ = ["Fill", "ReceiveQueue"]

log = logging.getLogger(__name__)

FILL_BUDGET = 64  # fills per readiness: a flood of input must not starve the other queues


class Fill(enum.Enum):
    """What one ``fill`` step did."""

    DELIVERED = enum.auto()  # returned chain(s) to the driver (or dropped a bad one)
    SOURCE_EMPTY = enum.auto()  # nothing more to read now
    NO_BUFFERS = enum.auto()  # data may wait, but the guest has no buffers


class ReceiveQueue:
    """Queue ``active`` filled from a source fd, served in ``worker``."""

    def __init__(
        self,
        name: str,
        active: ActiveQueue,
        memory: GuestMemoryMmap,
        interrupt: VirtioInterrupt,
        worker: EpollWorker,
    ) -> None:
        self.name = name
        self.index = active.index
        self.queue = active.queue
        self.eventfd = active.eventfd
        self.memory = memory
        self.interrupt = interrupt
        self.worker = worker
        self.failure: VirtioQueueError | None = None
        self.guest_error = GuestErrorLog(log, name)
        self._source: int | None = None
        self._fill: Callable[[], Fill] | None = None
        self._batch = True
        self._watched = False
        self._added = 0
        worker.add(self.eventfd, self.on_kick)

    def attach_source(self, fd: int, fill: Callable[[], Fill], *, batch: bool = True) -> None:
        """Fill the queue from ``fd`` with ``fill``. ``batch``: call ``fill``
        until the source is empty (a non-blocking fd), up to
        :data:`FILL_BUDGET` times; otherwise once per readiness (a blocking
        fd must not be read twice)."""
        self._source = fd
        self._fill = fill
        self._batch = batch
        self._watch()

    def detach_source(self) -> None:
        """No more data will come from the source (end of file, an error)."""
        self._unwatch()
        self._source = None

    # Used by fill --------------------------------------------------------------------

    def pop(self) -> DescriptorChain | None:
        """The next chain (heads outside the table are skipped, logged)."""
        while True:
            try:
                return self.queue.pop_descriptor_chain(self.memory)
            except InvalidHeadIndexError as error:
                self.guest_error("%s (skipped)", error)

    def add_used(self, head: int, length: int) -> None:
        self.queue.add_used(self.memory, head, length)
        self._added += 1

    # Worker callbacks ----------------------------------------------------------------

    def on_kick(self) -> None:
        """The driver posted buffers: watch the source again."""
        drain_eventfd(self.eventfd)
        if self.failure is None and self._source is not None and not self._watched:
            try:
                self.queue.disable_notification(self.memory)
            except VirtioQueueError as error:
                self.fail(error)
                return
            self._watch()

    def on_readable(self) -> None:
        fill = self._fill
        assert fill is not None
        budget = FILL_BUDGET if self._batch else 1
        try:
            while self._source is not None:
                status = fill()
                if status is Fill.DELIVERED:
                    budget -= 1
                    if budget:
                        continue
                    break  # the other fds of the worker get their turn; epoll calls again
                if status is Fill.SOURCE_EMPTY:
                    break
                if not self.queue.enable_notification(self.memory):
                    self._unwatch()  # until the driver kicks with buffers
                    break
        except VirtioQueueError as error:
            self.fail(error)
        self.notify()

    def notify(self) -> None:
        if not self._added:
            return
        self._added = 0
        try:
            wanted = self.queue.needs_notification(self.memory)
        except VirtioQueueError as error:
            self.fail(error)
            wanted = True
        if wanted:
            self.interrupt.notify_queue(self.index)

    def fail(self, error: VirtioQueueError) -> None:
        if self.failure is None:
            log.error(
                "%s: queue %d stopped, it needs a reset: %s", self.name, self.index, str(error)
            )
            self.failure = error.with_traceback(None)
            self.failure.__context__ = self.failure.__cause__ = None
        self._unwatch()

    def _watch(self) -> None:
        if self._watched or self._source is None:
            return
        try:
            self.worker.add(self._source, self.on_readable)
        except OSError as error:  # e.g. a regular file: epoll refuses it
            log.warning("%s: cannot watch fd %d: %s", self.name, self._source, error.strerror)
            self._source = None
            return
        self._watched = True

    def _unwatch(self) -> None:
        if self._watched and self._source is not None:
            self.worker.remove(self._source)
        self._watched = False
