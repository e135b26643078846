"""CH's endpoints: which method each takes, what body, and how answers become HTTP.

Like CH: an unknown path is 404, a wrong method or a body where none is
expected is 400, bad JSON is 400 `["Failed to deserialize JSON", ...]`, and
errors are JSON arrays of messages, outermost first. Statuses are CH's: 404
when the VM is not created, 400 for a configuration that is not valid (at
vm.boot, as `vm.create` stores any config it can decode), 500 for a request in
the wrong state or that failed, and 501 for what this VMM cannot do yet.
Bodies are decoded and checked here, in the connection's thread, so the
control loop only ever sees valid, typed requests.
"""

from __future__ import annotations

import os
import threading

from vmm.api.http import HttpRequest, HttpResponse

# Not `typing.TYPE_CHECKING`: importing typing costs tens of ms before the socket listens.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from vmm.api.actions import Action, ControlError

    Submit = Callable[[Action, object], object]

__all__ = ["API_ROOT", "BODY_SCHEMAS", "ROUTES", "Router", "status_for"]

API_ROOT = "/api/v1/"

# endpoint -> (method, body schema name or None for no body)
ROUTES: dict[str, tuple[str, str | None]] = {
    "vmm.ping": ("GET", None),
    "vmm.shutdown": ("PUT", None),
    "vm.create": ("PUT", "VmConfig"),
    "vm.boot": ("PUT", None),
    "vm.delete": ("PUT", None),
    "vm.shutdown": ("PUT", None),
    "vm.reboot": ("PUT", None),
    "vm.pause": ("PUT", None),
    "vm.resume": ("PUT", None),
    "vm.info": ("GET", None),
    "vm.counters": ("GET", None),
    "vm.power-button": ("PUT", None),
    "vm.nmi": ("PUT", None),
    "vm.resize": ("PUT", "VmResize"),
    "vm.resize-zone": ("PUT", "VmResizeZone"),
    "vm.resize-disk": ("PUT", "VmResizeDisk"),
    "vm.add-device": ("PUT", "DeviceConfig"),
    "vm.add-user-device": ("PUT", "UserDeviceConfig"),
    "vm.add-disk": ("PUT", "DiskConfig"),
    "vm.add-fs": ("PUT", "FsConfig"),
    "vm.add-generic-vhost-user": ("PUT", "GenericVhostUserConfig"),
    "vm.add-net": ("PUT", "NetConfig"),
    "vm.add-pmem": ("PUT", "PmemConfig"),
    "vm.add-vdpa": ("PUT", "VdpaConfig"),
    "vm.add-vsock": ("PUT", "VsockConfig"),
    "vm.remove-device": ("PUT", "VmRemoveDevice"),
    "vm.snapshot": ("PUT", "VmSnapshotConfig"),
    "vm.restore": ("PUT", "RestoreConfig"),
    "vm.coredump": ("PUT", "VmCoredumpData"),
    "vm.send-migration": ("PUT", "SendMigrationData"),
    "vm.receive-migration": ("PUT", "ReceiveMigrationData"),
}

# schema name -> (module, class) of the dataclass a body decodes to
BODY_SCHEMAS: dict[str, tuple[str, str]] = {
    "VmConfig": ("vmm.config", "VmConfig"),
    "DeviceConfig": ("vmm.config", "DeviceConfig"),
    "UserDeviceConfig": ("vmm.config", "UserDeviceConfig"),
    "DiskConfig": ("vmm.config", "DiskConfig"),
    "FsConfig": ("vmm.config", "FsConfig"),
    "GenericVhostUserConfig": ("vmm.config", "GenericVhostUserConfig"),
    "NetConfig": ("vmm.config", "NetConfig"),
    "PmemConfig": ("vmm.config", "PmemConfig"),
    "VdpaConfig": ("vmm.config", "VdpaConfig"),
    "VsockConfig": ("vmm.config", "VsockConfig"),
    **{
        name: ("vmm.api.bodies", name)
        for name in (
            "VmResize",
            "VmResizeZone",
            "VmResizeDisk",
            "VmRemoveDevice",
            "VmSnapshotConfig",
            "RestoreConfig",
            "VmCoredumpData",
            "SendMigrationData",
            "ReceiveMigrationData",
        )
    },
}


class _BodyError(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class Router:
    """The request handler: answers `vmm.ping` itself, hands the rest to the control loop.

    Requests other than ping wait until `attach()` gives the control loop, so
    the socket can listen before the VMM has finished starting.
    """

    def __init__(self, *, version: str, features: tuple[str, ...] = ("kvm",)) -> None:
        # Written by hand: json (and the re module it needs) loads after the socket listens.
        names = ",".join(f'"{_plain(name)}"' for name in features)
        self._ping = (
            f'{{"build_version":"v{_plain(version)}","version":"{_plain(version)}",'
            f'"pid":{os.getpid()},"features":[{names}]}}'
        ).encode()
        self._submit: Submit | None = None
        self._attached = threading.Event()

    def attach(self, submit: Submit) -> None:
        self._submit = submit
        self._attached.set()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        route = ROUTES.get(path[len(API_ROOT) :]) if path.startswith(API_ROOT) else None
        if route is None:
            return _error(404, ["Not Found"])
        endpoint = path[len(API_ROOT) :]
        method, schema = route
        if request.method != method:
            return _error(400, ["Bad Request"])
        if endpoint == "vmm.ping":
            return HttpResponse(200, self._ping)
        if schema is None and request.body is not None:
            return _error(400, ["Bad Request", f"{endpoint} takes no request body"])
        if schema is not None and request.body is None:
            return _error(400, ["Bad Request", f"{endpoint} needs a JSON body ({schema})"])
        try:
            body = None if schema is None else _decode(endpoint, schema, request.body or b"")
        except _BodyError as error:
            return _error(400, error.messages)
        return self._call(endpoint, body)

    def _call(self, endpoint: str, body: object) -> HttpResponse:
        import json

        from vmm.api.actions import Action, ControlError

        self._attached.wait()
        assert self._submit is not None
        try:
            value = self._submit(Action(endpoint), body)
        except ControlError as error:
            return _error(status_for(error), error.chain)
        if value is None:
            return HttpResponse(204)
        return HttpResponse(200, json.dumps(value, separators=(",", ":")).encode())


def status_for(error: ControlError) -> int:
    """The HTTP status of a refused or failed request (CH's: 404 for a missing VM or
    device, 400/409 for a bad configuration, 500 for the rest, 501 for what this VMM
    cannot do yet)."""
    return error.status


def _plain(text: str) -> str:
    if not all(c.isalnum() or c in ".-_+~" for c in text):
        raise ValueError(f"{text!r} is not a plain version or feature name")
    return text


def _error(status: int, messages: list[str]) -> HttpResponse:
    import json

    return HttpResponse(status, json.dumps(messages).encode())


def _decode(endpoint: str, schema: str, raw: bytes) -> object:
    import importlib
    import json

    from vmm.config import ConfigError

    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise _BodyError(["Failed to deserialize JSON", str(error)[:200]]) from None
    module, name = BODY_SCHEMAS[schema]
    cls = getattr(importlib.import_module(module), name)
    from vmm.config.json import from_json

    ignored: list[str] = []
    try:
        value = from_json(cls, document, ignored=ignored)
    except ConfigError as error:
        raise _BodyError(["Failed to deserialize JSON", str(error)]) from None
    except RecursionError:
        raise _BodyError(["Failed to deserialize JSON", "nested too deeply"]) from None
    _check_addresses(value)
    if ignored:  # as CH's serde: a newer CH's fields, or those of features not built
        import logging

        logging.getLogger(__name__).warning(
            "%s: ignored unknown field(s): %s", endpoint, ", ".join(ignored)
        )
    return value


def _check_addresses(value: object) -> None:
    """MAC and IP addresses are typed in CH's JSON (serde refuses a bad one: 400 at
    vm.create or add-net), where the rest of a config is checked at boot."""
    from vmm.config import NetConfig, VmConfig
    from vmm.config.values import parse_ip, parse_mac

    if isinstance(value, VmConfig):
        nets = [(f"net[{index}]", net) for index, net in enumerate(value.net or ())]
    elif isinstance(value, NetConfig):
        nets = [("", value)]
    else:
        return
    for where, net in nets:
        for name, parse in (("mac", parse_mac), ("host_mac", parse_mac), ("ip", parse_ip),
                            ("mask", parse_ip)):  # fmt: skip
            text = getattr(net, name)
            if text is None:
                continue
            try:
                parse(text)
            except ValueError as error:
                path = f"{where}.{name}" if where else name
                raise _BodyError(["Failed to deserialize JSON", f"{path}: {error}"]) from None
