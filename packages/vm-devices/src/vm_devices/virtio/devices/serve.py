"""Serving a queue from a device's worker thread, and the threads of one device.

:class:`QueueServer` is the loop every request/response queue runs on a kick:
pop each chain, let the device's handler do the request and say how many
bytes it wrote, return the chain, and interrupt the driver only when it asks
for it (notification suppression, with or without EVENT_IDX). A malformed
chain is the handler's business (it answers that one request); a broken
queue (its rings outside memory, ``avail->idx`` running ahead) stops that
queue only, logged once, until the driver resets the device.

:class:`WorkerGroup` owns the :class:`EpollWorker` threads of one activated
device, and pauses them all when the VM pauses.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from virtio_queue import (
    DescriptorChain,
    InvalidHeadIndexError,
    VirtioQueueError,
)
from vm_memory import GuestMemoryMmap

from vm_devices.virtio.device import ActiveQueue, VirtioInterrupt
from vm_devices.virtio.devices.errors import PauseTimeoutError
from vm_devices.virtio.worker import EpollWorker, drain_eventfd

__all__ = ["ChainHandler", "GuestErrorLog", "QueueServer", "WorkerGroup"]

log = logging.getLogger(__name__)

ChainHandler = Callable[[DescriptorChain], int]
"""Does one request; returns the bytes it wrote into the chain (the used length)."""

GUEST_WARNINGS = 10
PAUSE_TIMEOUT = 5.0


class GuestErrorLog:
    """Logs what a guest got wrong: the first few at WARNING, the rest at DEBUG,
    so a hostile guest cannot flood the host's log. Messages are formatted at
    once: a log record must not keep an exception (and through its traceback,
    views of guest memory) alive."""

    __slots__ = ("_count", "_logger", "name")

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self._logger = logger
        self._count = 0
        self.name = name

    def __call__(self, message: str, *args: object) -> None:
        text = f"{self.name}: {message % args if args else message}"
        self._count += 1
        if self._count <= GUEST_WARNINGS:
            if self._count == GUEST_WARNINGS:
                text += " (further guest errors are logged at DEBUG)"
            self._logger.warning("%s", text)
        else:
            self._logger.debug("%s", text)


class QueueServer:
    """One queue, served by ``handle`` whenever the driver kicks it."""

    __slots__ = (
        "eventfd",
        "failure",
        "guest_error",
        "handle",
        "index",
        "interrupt",
        "memory",
        "name",
        "queue",
    )

    def __init__(
        self,
        name: str,
        active: ActiveQueue,
        memory: GuestMemoryMmap,
        interrupt: VirtioInterrupt,
        handle: ChainHandler,
    ) -> None:
        self.name = name
        self.index = active.index
        self.queue = active.queue
        self.eventfd = active.eventfd
        self.memory = memory
        self.interrupt = interrupt
        self.handle = handle
        self.failure: VirtioQueueError | None = None
        self.guest_error = GuestErrorLog(log, name)

    def on_kick(self) -> None:
        drain_eventfd(self.eventfd)
        self.process()

    def process(self) -> None:
        """Serve every available chain, then tell the driver if it wants to know."""
        if self.failure is not None:
            return
        queue = self.queue
        memory = self.memory
        added = 0
        try:
            while True:
                queue.disable_notification(memory)
                added += self._serve_available()
                if not queue.enable_notification(memory):
                    break
        except VirtioQueueError as error:
            self.fail(error)
        if added:
            self.notify()

    def _serve_available(self) -> int:
        queue = self.queue
        memory = self.memory
        pop = queue.pop_descriptor_chain
        add_used = queue.add_used
        handle = self.handle
        count = 0
        while True:
            try:
                chain = pop(memory)
            except InvalidHeadIndexError as error:
                self.guest_error("%s (skipped)", error)
                continue
            if chain is None:
                return count
            add_used(memory, chain.head_index, handle(chain))
            count += 1

    def notify(self) -> None:
        """Interrupt the driver for the chains returned since the last call, if it
        asked for that (``needs_notification``)."""
        try:
            wanted = self.queue.needs_notification(self.memory)
        except VirtioQueueError as error:
            self.fail(error)
            wanted = True  # the used ring moved: better one interrupt too many
        if wanted:
            self.interrupt.notify_queue(self.index)

    def fail(self, error: VirtioQueueError) -> None:
        """The queue itself is broken: stop serving it until the driver resets."""
        if self.failure is None:
            log.error(
                "%s: queue %d stopped, it needs a reset: %s", self.name, self.index, str(error)
            )
            # Kept without its traceback, whose frames hold views of guest memory.
            self.failure = error.with_traceback(None)
            self.failure.__context__ = self.failure.__cause__ = None


class WorkerGroup:
    """The worker threads of one activated device, and the queues they serve."""

    def __init__(self) -> None:
        self.workers: list[EpollWorker] = []
        self.servers: list[QueueServer] = []

    def worker(self, name: str) -> EpollWorker:
        worker = EpollWorker(name)
        self.workers.append(worker)
        return worker

    def serve(self, worker: EpollWorker, server: QueueServer) -> None:
        worker.add(server.eventfd, server.on_kick)
        self.servers.append(server)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        # Chains the driver published before the worker watched the eventfds
        # are served at once: a kick of our own (a spurious one costs a look
        # at avail->idx).
        for server in self.servers:
            os.eventfd_write(server.eventfd, 1)

    def pause(self, device: str, timeout: float = PAUSE_TIMEOUT) -> None:
        """Park every worker between handlers (all asked first, then waited for):
        no queue is served until `resume()`. Raises PauseTimeoutError naming the
        workers still in a handler at the timeout; the others stay paused."""
        for worker in self.workers:
            worker.request_pause()
        deadline = time.monotonic() + timeout
        late = [
            worker.name
            for worker in self.workers
            if not worker.wait_paused(max(0.0, deadline - time.monotonic()))
        ]
        if late:
            raise PauseTimeoutError(device, late, timeout)

    def resume(self) -> None:
        """Let the workers serve again, starting with what arrived while paused."""
        for worker in self.workers:
            worker.resume()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        self.servers.clear()

    @property
    def failures(self) -> dict[int, VirtioQueueError]:
        """Queues stopped because the driver broke them, by queue index."""
        return {s.index: s.failure for s in self.servers if s.failure is not None}

    @property
    def failed_worker(self) -> BaseException | None:
        """The exception that ended a worker thread (a device bug), if any."""
        for worker in self.workers:
            if worker.failure is not None:
                return worker.failure
        return None
