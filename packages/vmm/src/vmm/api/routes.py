"""CH's endpoints: which method each takes, what body, and how answers become HTTP.

Like CH: an unknown path is 404, a wrong method or a body where none is
expected is 400, bad JSON is 400 `["Failed to deserialize JSON", ...]`, and
errors are JSON arrays of messages, outermost first. Statuses follow CH's
API document: 404 when the VM is not created, 405 when it is in the wrong
state, 500 when the VMM tried and failed, and 501 for what this VMM cannot
do yet. Bodies are decoded and checked here, in the connection's thread, so
the control loop only ever sees valid, typed requests.
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
    """The HTTP status of a refused or failed request."""
    from vmm.api.actions import NotSupportedError, VmNotCreatedError, VmStateError

    if isinstance(error, VmNotCreatedError):
        return 404
    if isinstance(error, VmStateError):
        return 405
    if isinstance(error, NotSupportedError):
        return 501
    return 500


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

    from vmm.config import ConfigError, ValidationError, validate

    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise _BodyError(["Failed to deserialize JSON", str(error)[:200]]) from None
    module, name = BODY_SCHEMAS[schema]
    cls = getattr(importlib.import_module(module), name)
    from vmm.config.json import from_json

    try:
        value = from_json(cls, document)
        if schema == "VmConfig":
            value = validate(value, check_files=True)
    except ValidationError as error:
        raise _BodyError(["Error from API", "The VM could not be created", str(error)]) from None
    except ConfigError as error:
        raise _BodyError(["Failed to deserialize JSON", str(error)]) from None
    except RecursionError:
        raise _BodyError(["Failed to deserialize JSON", "nested too deeply"]) from None
    return value
