"""A device worker thread: epoll over queue eventfds (guest kicks) and other host fds.

Each device serves its queues in its own thread, never in a vCPU thread: a
guest kick is an ioeventfd write inside KVM, which wakes this thread.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Handler = Callable[[], None]


class EpollWorker:
    """Calls a handler whenever its fd becomes readable, until `stop()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._epoll = select.epoll()
        self._stop_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._handlers: dict[int, Handler] = {}
        self._epoll.register(self._stop_fd, select.EPOLLIN)
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    def add(self, fd: int, handler: Handler, events: int = select.EPOLLIN) -> None:
        self._handlers[fd] = handler
        self._epoll.register(fd, events)

    def remove(self, fd: int) -> None:
        self._handlers.pop(fd, None)
        self._epoll.unregister(fd)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Wake the thread, wait for it, and release the epoll fd; safe to call twice."""
        if self._stop_fd < 0:
            return
        os.eventfd_write(self._stop_fd, 1)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._epoll.close()
        os.close(self._stop_fd)
        self._stop_fd = -1

    def _run(self) -> None:
        stop_fd = self._stop_fd
        handlers = self._handlers
        try:
            while True:
                for fd, _events in self._epoll.poll():
                    if fd == stop_fd:
                        return
                    handler = handlers.get(fd)
                    if handler is not None:
                        handler()
        except BaseException as error:  # a device bug must be visible, not a silent hang
            self.failure = error
            log.exception("%s: worker stopped", self.name)


def drain_eventfd(fd: int) -> int:
    """Consume an eventfd's counter (0 when it was not signalled)."""
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0
