"""The OpenAPI 3 document of this API, built from the routes and the config dataclasses.

`openapi.json` beside this module is what ships; it is written by

    python -m vmm.api.openapi > packages/vmm/src/vmm/api/openapi.json

and a test checks that the shipped file is what this module builds, so the
document cannot drift from the routes or from `VmConfig`. Request schemas
are derived from the dataclasses the bodies decode to, with the same rules
as the decoder: required fields have no default, unknown fields are
refused, integers carry their Rust range. Paths, methods and bodies follow
Cloud Hypervisor's `cloud-hypervisor.yaml`; statuses are the ones this
VMM answers (documented per route below).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from vmm import __version__
from vmm.api.routes import BODY_SCHEMAS, ROUTES
from vmm.config.kinds import IntKind

__all__ = ["DOCUMENT_PATH", "build_document", "load_document"]

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")

_SUMMARIES = {
    "vmm.ping": "Ping the VMM to check for API server availability",
    "vmm.shutdown": "Shut the VMM down (the VM first, when there is one)",
    "vm.create": "Create the VM from its configuration; it is not booted",
    "vm.boot": "Boot the created VM",
    "vm.delete": "Delete the VM (shutting it down first when it runs)",
    "vm.shutdown": "Shut the VM down; it can be booted again",
    "vm.reboot": "Reboot the VM from the same configuration",
    "vm.pause": "Pause the VM: its vCPUs stop",
    "vm.resume": "Resume a paused VM",
    "vm.info": "General information about the VM",
    "vm.counters": "Per-device counters of the VM",
    "vm.power-button": "Press the VM's ACPI power button",
}

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_TEXT = {
    400: "The request or its body is not valid, or the VM's configuration is not (vm.boot).",
    404: "The VM (or the device) does not exist.",
    409: "An id or a path in the configuration is already in use.",
    500: "The VM is not in a state that allows this request (CH's answer), or the VMM failed.",
    501: "This VMM does not support this request yet.",
}
_STATUSES: dict[str, tuple[int, ...]] = {
    "vmm.ping": (),
    "vmm.shutdown": (),
    "vm.create": (400, 500),
    "vm.boot": (400, 404, 500),
    "vm.delete": (),
    "vm.shutdown": (500,),
    "vm.reboot": (404, 500),
    "vm.pause": (500,),
    "vm.resume": (500,),
    "vm.info": (404,),
    "vm.counters": (500,),
    "vm.power-button": (500,),
    "vm.nmi": (500, 501),
    "vm.restore": (400, 501),
    "vm.receive-migration": (400, 501),
}
_OK_BODY = {
    "vmm.ping": "VmmPingResponse",
    "vm.info": "VmInfo",
    "vm.counters": "VmCounters",
}

_RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": {
        "description": "The chain of error messages, outermost first (as CH sends them).",
        "type": "array",
        "items": {"type": "string"},
    },
    "VmmPingResponse": {
        "type": "object",
        "required": ["version"],
        "properties": {
            "build_version": {"type": "string"},
            "version": {"type": "string"},
            "pid": {"type": "integer", "format": "int64"},
            "features": {"type": "array", "items": {"type": "string"}},
        },
    },
    "VmState": {"type": "string", "enum": ["Created", "Running", "Shutdown", "Paused"]},
    "VmInfo": {
        "type": "object",
        "required": ["config", "state"],
        "properties": {
            "config": {"$ref": "#/components/schemas/VmConfig"},
            "state": {"$ref": "#/components/schemas/VmState"},
            "memory_actual_size": {"type": "integer", "format": "int64"},
            "device_tree": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/DeviceNode"},
            },
        },
    },
    "DeviceNode": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "object"}},
            "parent": {"type": "string", "nullable": True},
            "children": {"type": "array", "items": {"type": "string"}},
            "pci_bdf": {"type": "string", "nullable": True},
        },
    },
    "VmCounters": {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": {"type": "integer", "format": "int64"},
        },
    },
    "PciDeviceInfo": {
        "type": "object",
        "required": ["id", "bdf"],
        "properties": {"id": {"type": "string"}, "bdf": {"type": "string"}},
    },
}


def build_document() -> dict[str, Any]:
    """The whole document as plain JSON data (stable key order)."""
    schemas: dict[str, Any] = dict(_RESPONSE_SCHEMAS)
    for name, (module, cls_name) in BODY_SCHEMAS.items():
        _schema_of(getattr(importlib.import_module(module), cls_name), schemas)
        assert name in schemas, name
    paths = {f"/{endpoint}": _path_item(endpoint) for endpoint in ROUTES}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Cloud Hypervisor API (Python VMM)",
            "description": "The REST API of cloud-hypervisor on its UNIX socket.",
            "license": {"name": "Apache 2.0"},
            "version": __version__,
        },
        "servers": [{"url": "http://localhost/api/v1"}],
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def load_document() -> dict[str, Any]:
    """The shipped document."""
    with DOCUMENT_PATH.open(encoding="utf-8") as file:
        document: dict[str, Any] = json.load(file)
    return document


def _path_item(endpoint: str) -> dict[str, Any]:
    method, schema = ROUTES[endpoint]
    if endpoint in _STATUSES:
        errors = _STATUSES[endpoint]
    elif schema is not None:  # config edits before boot, or requests on a running VM
        errors = (400, 404, 409, 500, 501)
    else:
        errors = (500, 501)
    responses: dict[str, Any] = {}
    if endpoint in _OK_BODY:
        responses["200"] = _json_response("Success.", _OK_BODY[endpoint])
    elif endpoint.startswith("vm.add-"):
        responses["200"] = _json_response("The device was hot-plugged.", "PciDeviceInfo")
        responses["204"] = {"description": "The device was added to the VM's configuration."}
    else:
        responses["204"] = {"description": "Done."}
    for status in errors:
        responses[str(status)] = {"description": _TEXT[status], **_ERROR}
    operation: dict[str, Any] = {
        "summary": _SUMMARIES.get(endpoint, f"{endpoint} (not supported by this VMM yet)"),
        "operationId": endpoint,
        "responses": responses,
    }
    if schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    return {method.lower(): operation}


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _schema_of(tp: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The schema of a field type; dataclasses and enums go to `schemas` by name."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in schemas:
            schemas[name] = {}  # placeholder: recursive types end here
            schemas[name] = _object_schema(tp, schemas)
        return {"$ref": f"#/components/schemas/{name}"}
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        kind = next((extra for extra in extras if isinstance(extra, IntKind)), None)
        if base is int and kind is not None:
            return {"type": "integer", "minimum": kind.low, "maximum": kind.high}
        return _schema_of(base, schemas)
    if origin is types.UnionType or origin is typing.Union:
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _schema_of(inner, schemas)
    if origin is tuple:
        return {"type": "array", "items": _schema_of(typing.get_args(tp)[0], schemas)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        schemas[tp.__name__] = {"type": "string", "enum": [member.value for member in tp]}
        return {"$ref": f"#/components/schemas/{tp.__name__}"}
    simple = {bool: "boolean", str: "string", int: "integer"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"no schema for {tp!r}")


def _object_schema(cls: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    required = [
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    schema: dict[str, Any] = {"type": "object"}
    if cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}("):
        schema["description"] = cls.__doc__.strip().splitlines()[0]
    if required:
        schema["required"] = required
    schema["properties"] = {f.name: _schema_of(hints[f.name], schemas) for f in fields}
    for name, description in _key_descriptions(cls).items():
        prop = schema["properties"][name]
        # OpenAPI 3.0 ignores the siblings of a $ref: wrap it to describe the field.
        prop = {"allOf": [prop]} if "$ref" in prop else prop
        schema["properties"][name] = {**prop, "description": description}
    schema["additionalProperties"] = False
    return schema


def _key_descriptions(cls: Any) -> dict[str, str]:
    """Each field's command-line key, from the option declarations, and whether this VMM
    builds it: a field it does not build is refused at vm.boot unless left at its default."""
    from vmm.config.declarations import OPTIONS

    option = next((o for o in OPTIONS if o.record is cls), None)
    if option is None:
        return {}
    usages: dict[str, list[str]] = {}
    built: set[str] = set()
    for key in option.keys:
        usages.setdefault(key.field, []).append(key.usage)
        if key.proof is not None and option.proof is not None:
            built.add(key.field)
    return {
        field: f"--{option.long} {' / '.join(usage)}"
        + ("" if field in built else " (not supported by this VMM yet)")
        for field, usage in usages.items()
    }


def main() -> None:
    json.dump(build_document(), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
