"""A typed client for Cloud Hypervisor's REST API on its UNIX socket.

    from cli.client import ApiClient, ApiError

    client = ApiClient("/tmp/ch.sock")
    client.create({"payload": {"kernel": "/path/vmlinux"}, "memory": {"size": 1 << 30}})
    client.boot()
    print(client.info()["state"])        # "Running"
    try:
        client.resume()                   # not paused
    except ApiError as error:
        print(error.status, error.message)   # 405 "Invalid VM state ..."

One request per connection, like CH's own `ch-remote`, so a client object is
cheap, holds no socket between calls and may be shared by threads.
Standard library only.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

__all__ = ["ApiClient", "ApiConnectionError", "ApiError", "ApiResponse"]

API_ROOT = "/api/v1/"
MAX_RESPONSE = 64 << 20


class ApiError(Exception):
    """The VMM answered with an error status; `messages` is its error chain, outermost first."""

    def __init__(self, status: int, message: str, messages: list[str] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.messages = messages if messages is not None else [message]


class ApiConnectionError(ApiError):
    """No usable answer: the socket is missing, refused, or the response is not HTTP."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


class ApiResponse:
    """The status and raw body (None when empty) of one answer."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes | None) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return None if self.body is None else json.loads(self.body)


class ApiClient:
    """One method per endpoint; each raises ApiError unless the VMM answers 2xx."""

    def __init__(self, socket_path: str, *, timeout: float | None = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    # ---------------------------------------------------------------- the VMM
    def ping(self) -> dict[str, Any]:
        """`vmm.ping`: build_version, version, pid, features."""
        return self._json("GET", "vmm.ping")  # type: ignore[no-any-return]

    def shutdown_vmm(self) -> None:
        self.call("PUT", "vmm.shutdown")

    # ---------------------------------------------------------------- the VM
    def create(self, config: Mapping[str, Any] | str | bytes) -> None:
        """`vm.create` with a VmConfig (a mapping, or JSON text sent as it is)."""
        self.call("PUT", "vm.create", config)

    def boot(self) -> None:
        self.call("PUT", "vm.boot")

    def delete(self) -> None:
        self.call("PUT", "vm.delete")

    def shutdown(self) -> None:
        self.call("PUT", "vm.shutdown")

    def reboot(self) -> None:
        self.call("PUT", "vm.reboot")

    def pause(self) -> None:
        self.call("PUT", "vm.pause")

    def resume(self) -> None:
        self.call("PUT", "vm.resume")

    def power_button(self) -> None:
        self.call("PUT", "vm.power-button")

    def nmi(self) -> None:
        self.call("PUT", "vm.nmi")

    def info(self) -> dict[str, Any]:
        """`vm.info`: config, state, memory_actual_size, device_tree."""
        return self._json("GET", "vm.info")  # type: ignore[no-any-return]

    def counters(self) -> dict[str, dict[str, int]]:
        counters: dict[str, dict[str, int]] = self._json("GET", "vm.counters") or {}
        return counters

    # ---------------------------------------------------------------- resizing, devices
    def resize(
        self,
        *,
        desired_vcpus: int | None = None,
        desired_ram: int | None = None,
        desired_balloon: int | None = None,
    ) -> None:
        body = {
            key: value
            for key, value in (
                ("desired_vcpus", desired_vcpus),
                ("desired_ram", desired_ram),
                ("desired_balloon", desired_balloon),
            )
            if value is not None
        }
        self.call("PUT", "vm.resize", body)

    def resize_zone(self, zone_id: str, desired_ram: int) -> None:
        self.call("PUT", "vm.resize-zone", {"id": zone_id, "desired_ram": desired_ram})

    def resize_disk(self, disk_id: str, desired_size: int) -> None:
        self.call("PUT", "vm.resize-disk", {"id": disk_id, "desired_size": desired_size})

    def add(self, kind: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """`vm.add-<kind>` (device, user-device, disk, fs, generic-vhost-user, net, pmem,
        vdpa, vsock): the new device's PciDeviceInfo, or None for a cold add."""
        return self._json("PUT", f"vm.add-{kind}", config)  # type: ignore[no-any-return]

    def remove_device(self, device_id: str) -> None:
        self.call("PUT", "vm.remove-device", {"id": device_id})

    def snapshot(self, destination_url: str) -> None:
        self.call("PUT", "vm.snapshot", {"destination_url": destination_url})

    def restore(self, config: Mapping[str, Any]) -> None:
        self.call("PUT", "vm.restore", config)

    def coredump(self, destination_url: str) -> None:
        self.call("PUT", "vm.coredump", {"destination_url": destination_url})

    def send_migration(self, config: Mapping[str, Any]) -> None:
        self.call("PUT", "vm.send-migration", config)

    def receive_migration(self, config: Mapping[str, Any]) -> None:
        self.call("PUT", "vm.receive-migration", config)

    # ---------------------------------------------------------------- the wire
    def call(
        self, method: str, endpoint: str, body: Mapping[str, Any] | str | bytes | None = None
    ) -> ApiResponse:
        """One request; the response when its status is 2xx, else ApiError."""
        response = self.request(method, endpoint, body)
        if not 200 <= response.status < 300:
            raise _error_of(response)
        return response

    def request(
        self, method: str, endpoint: str, body: Mapping[str, Any] | str | bytes | None = None
    ) -> ApiResponse:
        """Send one request and read its response, whatever the status."""
        payload = _encode(body)
        head = f"{method} {API_ROOT}{endpoint} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
        if payload is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        data = (head + "Connection: close\r\n\r\n").encode() + (payload or b"")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
                sock.sendall(data)
                return _read_response(sock)
        except OSError as error:
            reason = error.strerror or str(error) or type(error).__name__
            raise ApiConnectionError(f"{self.socket_path}: {reason}") from None

    def _json(
        self, method: str, endpoint: str, body: Mapping[str, Any] | str | bytes | None = None
    ) -> Any:
        try:
            return self.call(method, endpoint, body).json()
        except ValueError as error:
            raise ApiConnectionError(f"{endpoint}: the answer is not JSON: {error}") from None


def _encode(body: Mapping[str, Any] | str | bytes | None) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _read_response(sock: socket.socket) -> ApiResponse:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ApiConnectionError("the VMM closed the connection without an answer")
        buffer += chunk
        if len(buffer) > MAX_RESPONSE:
            raise ApiConnectionError("the response headers are too large")
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ApiConnectionError(f"not an HTTP response: {lines[0][:80]!r}")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    if length is None or length > MAX_RESPONSE:
        body = rest
        while chunk := sock.recv(65536):  # no length: the body ends with the connection
            body += chunk
            if len(body) > MAX_RESPONSE:
                raise ApiConnectionError("the response body is too large")
    else:
        body = rest
        while len(body) < length:
            chunk = sock.recv(min(65536, length - len(body)))
            if not chunk:
                raise ApiConnectionError(f"the body ended after {len(body)} of {length} bytes")
            body += chunk
    return ApiResponse(int(parts[1]), body or None)


def _error_of(response: ApiResponse) -> ApiError:
    messages: list[str] = []
    try:
        decoded = response.json()
        if isinstance(decoded, list) and all(isinstance(m, str) for m in decoded):
            messages = decoded
    except ValueError:
        pass
    if not messages and response.body:
        messages = [response.body.decode(errors="replace")]
    message = messages[-1] if messages else f"HTTP status {response.status}"
    return ApiError(response.status, message, messages)
