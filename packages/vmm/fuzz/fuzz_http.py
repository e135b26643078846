"""Coverage-guided fuzzing of the API's HTTP reader and router (what a local client controls).

The input is what a client writes on the socket: `read_request` reads
requests off it (at most four, as on a kept-alive connection) and each one
goes to the `Router`, attached to a fake control loop that records the
typed actions it is handed and answers, refuses or fails them as the first
byte of the input says. The second byte chooses how the rest is sent: as it
is, or as a request head whose body follows with a Content-Length that fits
(so the fuzzer explores bodies without first matching their length).

Only HttpError may come out of `read_request`; the router answers every
request with a known status and a JSON body (a list of messages for an
error), and hands the control loop only a decoded body of the endpoint's type.

    python packages/vmm/fuzz/fuzz_http.py -runs=1000000   # needs atheris
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import sys
from collections.abc import Iterator

import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

with atheris.instrument_imports():
    # vmm.api.bodies and vmm.config.json load on first use: imported here to be instrumented.
    import vmm.api.bodies
    import vmm.config.json
    from vmm.api.actions import Action, ControlError, VmNotCreatedError
    from vmm.api.http import REASONS, HttpError, HttpResponse, read_request
    from vmm.api.routes import API_ROOT, BODY_SCHEMAS, ROUTES, Router
    from vmm.config import ConfigError, VmParams, parse_vm_config
    from vmm.config.declarations import OPTIONS
    from vmm.config.parse import parse_named_option

from vmm.testing.fuzzing import libfuzzer_argv, option_examples

MAX_REQUESTS = 4

# Bodies of the endpoints that take neither a VmConfig nor a device config.
BODIES: dict[str, list[object]] = {
    "VmResize": [{"desired_vcpus": 2}, {"desired_ram": 1 << 30, "desired_balloon": 0}],
    "VmResizeZone": [{"id": "z0", "desired_ram": 1 << 30}],
    "VmResizeDisk": [{"id": "disk0", "desired_size": 1 << 30}],
    "VmRemoveDevice": [{"id": "_disk0"}],
    "VmSnapshotConfig": [{"destination_url": "file:///tmp/snapshot"}],
    "RestoreConfig": [{"source_url": "file:///tmp/snapshot", "prefault": True}],
    "VmCoredumpData": [{"destination_url": "file:///tmp/core"}],
    "SendMigrationData": [{"destination_url": "unix:/tmp/migrate", "local": True}],
    "ReceiveMigrationData": [{"receiver_url": "unix:/tmp/migrate"}],
}


def _schema_of(record: type | None) -> str | None:
    return None if record is None else record.__name__


def bodies() -> dict[str, list[object]]:
    """Example bodies by schema: configs parsed from option examples, and BODIES."""
    found: dict[str, list[object]] = {name: list(examples) for name, examples in BODIES.items()}
    found["VmConfig"] = [
        parse_vm_config(VmParams(kernel="/tmp/vmlinux")).to_json(),
        parse_vm_config(
            VmParams(kernel="/tmp/vmlinux", disks=("path=/tmp/disk",), net=("tap=tap0",))
        ).to_json(),
    ]
    for option, text in option_examples():
        schema = _schema_of(option.record)
        if schema in BODY_SCHEMAS and schema != "VmConfig":
            try:
                record = parse_named_option(option.long, text)
            except ConfigError:
                continue
            found.setdefault(schema, []).append(vmm.config.json.to_json(record))
    return found


def request(method: str, endpoint: str, body: object = None) -> bytes:
    head = f"{method} {API_ROOT}{endpoint} HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n"
    if body is None:
        return (head + "\r\n").encode()
    raw = json.dumps(body).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
    return head.encode() + raw


def seeds() -> Iterator[bytes]:
    examples = bodies()
    for endpoint, (method, schema) in ROUTES.items():
        if schema is None:
            yield b"\x00\x00" + request(method, endpoint)
            continue
        for body in examples.get(schema, []):
            yield b"\x00\x00" + request(method, endpoint, body)
            head, _, raw = request(method, endpoint, body).partition(b"\r\n\r\n")
            without_length = head.rsplit(b"\r\n", 1)[0]
            yield b"\x00\x01" + without_length + b"\r\n\r\n" + raw
    yield b"\x00\x00" + request("GET", "vmm.ping") * 3
    yield b"\x00\x00GET /api/v1/vmm.ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    yield b"\x00\x00PUT /api/v1/vm.boot HTTP/1.1\r\nConnection: close\r\n\r\n"


def words() -> Iterator[bytes]:
    for endpoint in ROUTES:
        yield f"{API_ROOT}{endpoint}".encode()
    yield from (b"GET ", b"PUT ", b"POST ", b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", b"\r\n\r\n")
    for header in ("Content-Length", "Transfer-Encoding", "Connection", "Host"):
        yield f"\r\n{header}: ".encode()
    yield from (b"chunked", b"close", b"keep-alive", b"?query", b"4194304", b"4194305")
    for option in OPTIONS:
        for key in option.keys:
            yield f'"{key.field}":'.encode()
    yield from (b"{", b"}", b"[", b"]", b"null", b"true", b"false", b'"\\ud800"', b"-1")


class FakeControl:
    """The control loop's `submit`: records each action and answers as it was told."""

    def __init__(self) -> None:
        self.mode = 0
        self.actions: list[tuple[Action, object]] = []

    def submit(self, action: Action, body: object) -> object:
        self.actions.append((action, body))
        match self.mode % 4:
            case 0:
                return None
            case 1:
                return {"state": "Running", "config": {}, "memory_actual_size": 1 << 30}
            case 2:
                raise VmNotCreatedError(action.value)
            case _:
                raise ControlError(action.value, "the fake control loop failed it")


CONTROL = FakeControl()
ROUTER = Router(version="0.0.0-fuzz")
ROUTER.attach(CONTROL.submit)


def body_class(schema: str) -> type:
    module, name = BODY_SCHEMAS[schema]
    cls: type = getattr(importlib.import_module(module), name)
    return cls


def check_response(response: HttpResponse) -> None:
    assert response.status in REASONS, response
    response.encode(keep_alive=True)
    if response.body is None:
        assert response.status == 204, response
        return
    answer = json.loads(response.body)
    if response.status >= 400:
        assert isinstance(answer, list), response
        assert all(isinstance(message, str) for message in answer), response


def test_one(data: bytes) -> None:
    if len(data) < 2:
        return
    CONTROL.mode = data[0]
    payload = data[2:]
    if data[1] & 1:
        head, blank, rest = payload.partition(b"\r\n\r\n")
        if blank:
            payload = head + f"\r\nContent-Length: {len(rest)}\r\n\r\n".encode() + rest
    stream = io.BytesIO(payload)
    for _ in range(MAX_REQUESTS):
        try:
            parsed = read_request(stream)
        except HttpError as error:
            assert error.status in REASONS, error.status  # noqa: PT017 (a fuzz target, not a test)
            return
        if parsed is None:
            return
        del CONTROL.actions[:]
        check_response(ROUTER(parsed))
        for action, body in CONTROL.actions:
            method, schema = ROUTES[action.value]
            assert parsed.method == method, parsed
            assert body is None if schema is None else isinstance(body, body_class(schema))
        if not parsed.keep_alive:
            return


def main() -> None:
    logging.disable(logging.CRITICAL)  # the router logs ignored fields: not of interest here
    atheris.Setup(libfuzzer_argv(sys.argv, "fuzz_http", seeds=seeds(), words=words()), test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
