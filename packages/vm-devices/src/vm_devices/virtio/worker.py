"""A device worker thread: epoll over queue eventfds (guest kicks) and other host fds.

Each device serves its queues in its own thread, never in a vCPU thread: a
guest kick is an ioeventfd write inside KVM, which wakes this thread.

The thread is told to pause or to stop through an eventfd of its own, as
Cloud Hypervisor's epoll helper is through its pause and kill events: the
request is set first, then the eventfd written, so a thread that wakes sees
it. Pausing parks the thread between handlers (a handler that runs finishes
first); the fds it watches stay readable meanwhile (epoll is level-triggered),
so what arrived while paused is served after `resume()`.
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
    """Calls a handler whenever its fd becomes readable, until `stop()`.

    Its epoll and its wake eventfd are closed only once the thread has ended:
    by `stop()` after joining it, or by the thread itself when `stop()` could
    not wait for it (called from a handler, or a handler still running at the
    timeout). An fd is never closed under a thread still polling it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._handlers: dict[int, Handler] = {}
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        # Requests to the thread, and its answers; guarded by `_state`.
        self._state = threading.Condition()
        self._pausing = False
        self._stopping = False
        self._parked = False
        self._closed = False

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

    @property
    def paused(self) -> bool:
        """The thread is parked: no handler runs until `resume()`."""
        return self._parked

    # ------------------------------------------------------------ pause, resume
    def request_pause(self) -> None:
        """Ask the thread to park once its current handler returns (see `wait_paused`)."""
        with self._state:
            self._pausing = True
            self._wake()

    def wait_paused(self, timeout: float | None) -> bool:
        """Wait until the thread is parked, or runs no more (not started, ended);
        False if a handler still ran at the timeout."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True  # from a handler: the thread parks when that handler returns
        with self._state:
            return self._state.wait_for(
                lambda: self._parked or self._stopping or not thread.is_alive(), timeout
            )

    def pause(self, timeout: float | None = 5.0) -> bool:
        """`request_pause()`, then `wait_paused(timeout)`."""
        self.request_pause()
        return self.wait_paused(timeout)

    def resume(self) -> None:
        """Let a paused thread serve its fds again, what arrived meanwhile first."""
        with self._state:
            self._pausing = False
            self._state.notify_all()

    # ------------------------------------------------------------ stop
    def stop(self, timeout: float | None = 5.0) -> None:
        """Wake the thread, wait for it to end, then close the epoll and the wake
        eventfd; safe to call twice, from any thread, and from a handler (the
        thread then ends when the handler returns, and closes them itself)."""
        with self._state:
            if not self._stopping:
                self._stopping = True
                self._state.notify_all()  # a parked thread ends too
                self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning(
                    "%s: a handler still runs after %s s; the worker ends after it",
                    self.name,
                    timeout,
                )
        if thread is None or not thread.is_alive():
            self._close()

    def _wake(self) -> None:
        """Make the thread's poll return (with `_state` held, so the fd is still open)."""
        if not self._closed:
            os.eventfd_write(self._wake_fd, 1)

    def _close(self) -> None:
        with self._state:
            if not self._closed:
                self._closed = True
                self._epoll.close()
                os.close(self._wake_fd)

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        wake_fd = self._wake_fd
        handlers = self._handlers
        poll = self._epoll.poll
        try:
            while True:
                events = poll()
                if self._pausing or self._stopping:  # set before the wake-up was written
                    if not self._obey():
                        return
                    continue  # resumed: poll again, what waited is still readable
                for fd, _events in events:
                    handler = handlers.get(fd)
                    if handler is not None:
                        handler()
                    elif fd == wake_fd:  # a pause undone before this thread saw it
                        drain_eventfd(wake_fd)
        except BaseException as error:  # a device bug must be visible, not a silent hang
            self.failure = error
            log.exception("%s: worker stopped", self.name)
        finally:
            with self._state:
                self._parked = False
                self._state.notify_all()  # whoever waits for a pause must not wait forever
            if self._stopping:
                self._close()

    def _obey(self) -> bool:
        """Park while a pause is requested; False when the thread must end."""
        drain_eventfd(self._wake_fd)
        with self._state:
            while self._pausing and not self._stopping:
                if not self._parked:
                    self._parked = True
                    self._state.notify_all()
                self._state.wait()
            self._parked = False
            return not self._stopping


def drain_eventfd(fd: int) -> int:
    """Consume an eventfd's counter (0 when it was not signalled)."""
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0
