"""A client that stops sending in the middle of a request gets a 400 for the truncated
request and loses its connection after the request timeout; the server goes on serving."""

from __future__ import annotations

import socket
import time
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
            assert answer.startswith(b"HTTP/1.1 400"), answer
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(path)
            client.sendall(b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        api.close()
