"""Helpers of the API tests: raw HTTP to a served API (imported by conftest and the tests)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from vmm.control import Vmm


class Served:
    """A running API service; `request()` speaks raw HTTP to it."""

    def __init__(self, path: str, vmm: Vmm, events_path: Path) -> None:
        self.path = path
        self.vmm = vmm
        self.events_path = events_path

    def raw(self, data: bytes, *, timeout: float = 5.0) -> bytes:
        """Send `data`, then read until the server closes (requests say Connection: close)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(self.path)
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    def request(self, method: str, endpoint: str, body: object = None) -> tuple[int, object]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} /api/v1/{endpoint} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if body is not None:
            head += f"Content-Length: {len(payload)}\r\n"
        answer = self.raw(head.encode() + b"\r\n" + payload)
        status_line, _, rest = answer.partition(b"\r\n")
        _, _, content = rest.partition(b"\r\n\r\n")
        return int(status_line.split()[1]), json.loads(content) if content else None

    def events(self) -> list[tuple[str, str]]:
        text = self.events_path.read_text().strip()
        return [(e["source"], e["event"]) for e in map(json.loads, text.split("\n\n")) if text]
