"""The host side of a serial console: a raw terminal, an input pump and an fd writer.

For ``--serial tty`` the VMM puts stdin in raw mode (:class:`RawTerminal`), so
each key, Ctrl-C included, goes to the guest, pumps stdin into the UART
(:class:`InputPump`) and writes guest output to stdout (:class:`FdWriter`).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import selectors
import termios
import threading
from types import TracebackType
from typing import Any, Protocol, Self

__all__ = ["FdWriter", "InputPump", "InputSink", "RawTerminal"]

logger = logging.getLogger(__name__)

_READ_CHUNK = 256
_ROOM_POLL_SECONDS = 0.1


class RawTerminal:
    """Puts a terminal fd in raw mode for the ``with`` block, and restores it after.

    Input is raw (no line editing, echo or signals: Ctrl-C reaches the guest);
    output post-processing stays on, as QEMU leaves it, so the VMM's own log
    lines still start at the left margin. When ``fd`` is not a terminal this
    does nothing. The saved settings are restored on leaving the block, even on
    an exception, and at interpreter exit if the block was never left.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._saved: list[Any] | None = None

    @property
    def active(self) -> bool:
        """True while the terminal is in raw mode because of this object."""
        return self._saved is not None

    def __enter__(self) -> Self:
        if self._saved is not None or not os.isatty(self._fd):
            return self
        try:
            saved = termios.tcgetattr(self._fd)
            raw = termios.tcgetattr(self._fd)
            raw[0] &= ~(
                termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON
            )
            raw[2] = (raw[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
            raw[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
            raw[6][termios.VMIN] = 1
            raw[6][termios.VTIME] = 0
            termios.tcsetattr(self._fd, termios.TCSANOW, raw)
        except termios.error as error:
            logger.warning("cannot put fd %d in raw mode: %s", self._fd, error)
            return self
        self._saved = saved
        atexit.register(self.restore)
        return self

    def restore(self) -> None:
        """Put the saved settings back (idempotent)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        atexit.unregister(self.restore)
        try:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, saved)
        except termios.error as error:
            logger.warning("cannot restore the terminal settings of fd %d: %s", self._fd, error)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()


class InputSink(Protocol):
    """A device that takes host input, as :class:`~vm_devices.legacy.serial.Serial16550` does."""

    def enqueue_input(self, data: bytes) -> int: ...

    def wait_for_room(self, timeout: float | None = None) -> bool: ...


class InputPump:
    """A daemon thread that reads an fd and feeds what it reads to ``sink``.

    Bytes the sink cannot take yet wait (the pump stops reading, so the host
    side sees back-pressure instead of lost input). The pump ends at EOF, on a
    read error, or on :meth:`stop`; ``with`` starts and stops it.
    """

    def __init__(self, fd: int, sink: InputSink, *, name: str = "serial-input") -> None:
        self._fd = fd
        self._sink = sink
        self._stop = threading.Event()
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.bytes_forwarded = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the thread and wait for it (up to ``timeout`` seconds)."""
        self._stop.set()
        with contextlib.suppress(OSError):  # already woken, or closed
            os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            for fd in (self._wake_read, self._wake_write):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_read = self._wake_write = -1

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._fd, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self._stop.is_set():
                ready = {key.fd for key, _ in selector.select()}
                if self._stop.is_set() or self._fd not in ready:
                    continue
                try:
                    data = os.read(self._fd, _READ_CHUNK)
                except BlockingIOError:
                    continue
                except OSError as error:
                    if error.errno != errno.EIO:  # EIO: the terminal hung up
                        logger.warning("serial input fd %d failed: %s", self._fd, error)
                    return
                if not data:
                    logger.debug("serial input fd %d reached EOF", self._fd)
                    return
                self._forward(data)

    def _forward(self, data: bytes) -> None:
        while data and not self._stop.is_set():
            taken = self._sink.enqueue_input(data)
            self.bytes_forwarded += taken
            data = data[taken:]
            if data:
                self._sink.wait_for_room(_ROOM_POLL_SECONDS)


class FdWriter:
    """A byte sink that writes everything to an fd, unbuffered.

    Partial writes are completed; on a non-blocking fd that is full the
    writer waits until it can write again. ``OSError`` (EPIPE...) propagates:
    the UART then logs it once and stops writing.
    """

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, data: bytes, /) -> int:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                with selectors.DefaultSelector() as selector:
                    selector.register(self._fd, selectors.EVENT_WRITE)
                    selector.select()
                continue
            view = view[written:]
        return len(data)
