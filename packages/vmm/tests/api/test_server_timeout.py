"""Slow clients: a request has a whole-request deadline (408 past it, however the bytes
trickle in), and a full house of slow clients cannot keep vmm.ping out."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vmm.api import server
from vmm.api.http import HttpRequest, HttpResponse
from vmm.api.server import ApiServer


def _ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(200, b"{}")


def test_a_stalled_request_is_dropped_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "REQUEST_TIMEOUT", 0.3)
    path = str(tmp_path / "api.sock")
    api = ApiServer.bind(path, _ok)
    api.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stalled:
            stalled.settimeout(5)
            stalled.connect(path)
            stalled.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n")  # no end of headers
            start = time.monotonic()
            answer = b"".join(iter(lambda: stalled.recv(1024), b""))  # until the server closes
            assert time.monotonic() - start < 3
            assert answer.startswith(b"HTTP/1.1 408"), answer
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(path)
            client.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        api.close()


@pytest.fixture
def fast_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(server, "REQUEST_TIMEOUT", 1.0)
    monkeypatch.setattr(server, "REAPER_PERIOD", 0.05)
    path = str(tmp_path / "api.sock")
    api = ApiServer.bind(path, _ok)
    api.start()
    yield path
    api.close()


def _ping(path: str) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(path)
        client.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return client.recv(1024)


def test_a_request_trickling_in_byte_by_byte_is_cut_off_at_its_deadline(
    fast_deadline: str,
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as slow:
        slow.connect(fast_deadline)
        start = time.monotonic()
        answer = b""
        for byte in b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: " + b"x" * 100:
            try:
                slow.send(bytes([byte]))  # well within any per-read timeout
            except OSError:
                break
            slow.settimeout(0.1)
            try:
                answer = slow.recv(1024)
            except TimeoutError:
                continue
            break
        elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert 0.9 < elapsed < 3


def test_ping_answers_while_every_slot_is_held_by_a_slow_client(fast_deadline: str) -> None:
    stop = threading.Event()
    clients = []
    for _ in range(server.MAX_CONNECTIONS):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(fast_deadline)
        client.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\n")
        clients.append(client)

    def trickle() -> None:  # each keeps its request going, one byte at a time
        while not stop.wait(0.05):
            for client in clients:
                try:  # noqa: SIM105
                    client.send(b"X")
                except OSError:
                    pass

    pump = threading.Thread(target=trickle, daemon=True)
    pump.start()
    try:
        time.sleep(0.2)
        start = time.monotonic()
        for _ in range(5):
            assert _ping(fast_deadline).startswith(b"HTTP/1.1 200")
        assert time.monotonic() - start < 2  # no waiting for a deadline
    finally:
        stop.set()
        pump.join()
        for client in clients:
            client.close()


def test_the_socket_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    previous = os.umask(0)
    try:
        api = ApiServer.bind(str(path), _ok)
    finally:
        os.umask(previous)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        api.close()
