"""The API's UNIX-socket HTTP server: one thread accepts, one thread serves each connection.

The handler (`vmm.api.routes.Router`) is called in the connection's thread
and may block there (waiting for the control loop); vCPU threads are never
involved. Connections are kept alive between requests (HTTP/1.1) and count
against a limit. Each request has a whole-request deadline (a client that
sends one byte every few seconds is cut off all the same, with a 408), and
when every slot is taken a new connection evicts the one that has been
reading its request longest: slow clients cannot keep `vmm.ping` out. Standard library only, and no
import heavier than `threading`: the socket listens within milliseconds of
process start. It uses the C `_socket` module: `socket` itself imports
`enum` and `selectors`, which cost more than the rest of the server together
(38 ms on a slow host). Connections are read through a buffered file on
their fd, with SO_RCVTIMEO as the timeout.
"""

from __future__ import annotations

import _socket
import os
import stat
import struct
import threading
from time import monotonic as _monotonic

from vmm.api.http import HttpError, HttpRequest, HttpResponse, read_request

# Not `typing.TYPE_CHECKING`: importing typing costs tens of ms before the socket listens.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Handler = Callable[[HttpRequest], HttpResponse]

__all__ = ["ApiServer", "ApiSocketError"]

MAX_CONNECTIONS = 64
REQUEST_TIMEOUT = 10.0  # seconds to send a whole request, or between two on one connection
REAPER_PERIOD = 0.25  # how often deadlines are checked
LINGER_BYTES = 1 << 20  # read and dropped after an error answer, before closing


class ApiSocketError(Exception):
    """The API socket cannot be created (path in use, bad fd, permissions)."""


class ApiServer:
    """Serves `handler` on a listening UNIX socket until `close()`."""

    def __init__(self, listener: _socket.socket, handler: Handler, *, path: str | None = None):
        self._listener = listener
        self._handler = handler
        self.path = path  # removed at close when this server created it
        self._lock = threading.Condition()
        self._connections: set[_socket.socket] = set()
        # Connections reading a request, by deadline; those cut off for being late.
        self._reading: dict[_socket.socket, float] = {}
        self._expired: set[_socket.socket] = set()
        self._busy = 0
        self._closing = False
        self._thread = threading.Thread(target=self._accept_loop, name="http-server", daemon=True)

    @classmethod
    def bind(cls, path: str, handler: Handler) -> ApiServer:
        """Listen on `path`; a stale socket left by a dead VMM is replaced, a live one is not."""
        _remove_stale_socket(path)
        listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            listener.bind(path)
            # Owner only, whatever the umask: the API can stop the VM and write files.
            # Nobody can connect before listen(), so there is no window at a wider mode.
            os.chmod(path, 0o600)
            listener.listen(MAX_CONNECTIONS)
        except OSError as error:
            listener.close()
            raise ApiSocketError(f"cannot listen on {path!r}: {error.strerror}") from None
        return cls(listener, handler, path=path)

    @classmethod
    def from_fd(cls, fd: int, handler: Handler) -> ApiServer:
        """Serve on an inherited socket (`--api-socket fd=N`), listening on it if not yet."""
        try:
            listener = _socket.socket(fileno=fd)
        except OSError as error:
            raise ApiSocketError(f"fd {fd} is not a usable socket: {error.strerror}") from None
        if listener.family != _socket.AF_UNIX or listener.type != _socket.SOCK_STREAM:
            listener.detach()
            raise ApiSocketError(f"fd {fd} is not a UNIX stream socket")
        try:
            listener.listen(MAX_CONNECTIONS)
        except OSError as error:
            listener.detach()
            raise ApiSocketError(f"cannot listen on fd {fd}: {error.strerror}") from None
        return cls(listener, handler)

    def set_handler(self, handler: Handler) -> None:
        self._handler = handler

    def start(self) -> None:
        self._thread.start()
        threading.Thread(target=self._reap_loop, name="http-reaper", daemon=True).start()

    def close(self, grace: float = 2.0) -> None:
        """Stop accepting, let requests in progress answer (up to `grace` s), close the rest."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        try:  # noqa: SIM105 - contextlib would cost start-up time
            self._listener.shutdown(_socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            self._lock.wait_for(lambda: self._busy == 0, grace)
            for connection in list(self._connections):
                try:  # noqa: SIM105
                    connection.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._thread.is_alive():
            self._thread.join(grace)
        if self.path is not None:
            try:  # noqa: SIM105
                os.unlink(self.path)
            except OSError:
                pass

    def _accept_loop(self) -> None:
        while True:
            try:
                fd, _ = self._listener._accept()  # type: ignore[attr-defined]
                connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
            except OSError:
                if self._closing:
                    return
                continue  # EMFILE, ECONNABORTED: the next accept may work
            with self._lock:
                if len(self._connections) >= MAX_CONNECTIONS and self._reading:
                    # Full: the slowest reader makes room (it gets a 408).
                    self._expire(min(self._reading, key=self._reading.__getitem__))
                live = len(self._connections) - len(self._expired)
                refused = self._closing or live >= MAX_CONNECTIONS
                if not refused:
                    self._connections.add(connection)
            if refused:
                _answer_and_close(connection, 503, "too many API connections")
                continue
            threading.Thread(
                target=self._serve, args=(connection,), name="http-connection", daemon=True
            ).start()

    def _serve(self, connection: _socket.socket) -> None:
        # A blocking socket with a receive timeout, a backstop behind the reaper's
        # deadlines: a read past it fails with EAGAIN.
        backstop = REQUEST_TIMEOUT + 1.0
        seconds = int(backstop)
        timeout = struct.pack("@ll", seconds, int((backstop - seconds) * 1e6))
        connection.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVTIMEO, timeout)
        stream = open(connection.fileno(), "rb", closefd=False)  # noqa: SIM115
        try:
            keep_alive = True
            while keep_alive and not self._closing:
                with self._lock:
                    self._reading[connection] = _monotonic() + REQUEST_TIMEOUT
                try:
                    request = read_request(stream)
                except HttpError as error:
                    if connection not in self._expired:
                        _answer_and_close(connection, error.status, error.message)
                        return
                    request = None
                finally:
                    with self._lock:
                        self._reading.pop(connection, None)
                if connection in self._expired:
                    _answer_and_close(connection, 408, "request timeout", shut_read=False)
                    return
                if request is None:
                    return
                keep_alive = self._answer(connection, request)
        except OSError:  # timeouts and resets end the connection, nothing else
            return
        finally:
            stream.close()
            connection.close()
            with self._lock:
                self._connections.discard(connection)
                self._reading.pop(connection, None)
                self._expired.discard(connection)

    def _expire(self, connection: _socket.socket) -> None:
        """Cut a connection off its request (lock held): its read ends, it answers 408."""
        self._reading.pop(connection, None)
        self._expired.add(connection)
        try:  # noqa: SIM105 - contextlib would cost start-up time
            connection.shutdown(_socket.SHUT_RD)
        except OSError:
            pass

    def _reap_loop(self) -> None:
        with self._lock:
            while not self._closing:
                now = _monotonic()
                for connection, deadline in list(self._reading.items()):
                    if deadline <= now:
                        self._expire(connection)
                self._lock.wait(REAPER_PERIOD)

    def _answer(self, connection: _socket.socket, request: HttpRequest) -> bool:
        with self._lock:
            self._busy += 1
        try:
            try:
                response = self._handler(request)
            except Exception as error:  # a handler bug answers 500; the server goes on
                import logging

                logging.getLogger(__name__).exception("API handler failed on %r", request)
                response = _error_response(500, f"internal error: {error!r}")
            keep_alive = request.keep_alive and not self._closing
            connection.sendall(response.encode(keep_alive=keep_alive))
            return keep_alive
        finally:
            with self._lock:
                self._busy -= 1
                self._lock.notify_all()


def _error_response(status: int, message: str) -> HttpResponse:
    import json

    return HttpResponse(status, json.dumps([message]).encode())


def _answer_and_close(
    connection: _socket.socket, status: int, message: str, *, shut_read: bool = True
) -> None:
    try:
        connection.sendall(_error_response(status, message).encode(keep_alive=False))
        connection.shutdown(_socket.SHUT_WR)
        if not shut_read:
            connection.close()
            return
        # Lingering close: closing with unread input would reset the connection and
        # could destroy the answer before the client reads it; drain a bounded amount.
        connection.settimeout(0.5)
        drained = 0
        while drained < LINGER_BYTES and (chunk := connection.recv(65536)):
            drained += len(chunk)
    except OSError:
        pass
    connection.close()


def _remove_stale_socket(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise ApiSocketError(f"cannot use {path!r}: {error.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise ApiSocketError(f"{path!r} exists and is not a socket")
    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a dead VMM's socket
        return
    finally:
        probe.close()
    raise ApiSocketError(f"{path!r} is in use by another VMM")
