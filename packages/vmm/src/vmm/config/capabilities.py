"""What this VMM builds of a VmConfig, as data: each field is built or refused.

CH's configuration has some 150 fields and this VMM builds a part of them. A
field that is not built must keep its default: a user who sets it gets a
one-line error naming the option and the key, never a VM that silently lacks
what was asked for (`refuse_unbuilt`). The CLI calls it before anything is
built, the API at `vm.boot` (CH's `vm.create` stores any config it parses).

`BUILT` comes from the option declarations (`vmm.config.declarations`): an
option or key with a `proof` (the test that shows it is built) is built,
field path by field path (`disks.path`, list indices left out). A built field
with built fields below it is walked into; one without covers what it holds
(`cpus.topology`). A path in `RULES` is built for some values and refused for
others. Every other field is refused unless it has its default.
packages/vmm/tests/config/test_capabilities.py walks every field of VmConfig
and every key of every option, so a new field or key cannot land unclassified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from vmm.config.declarations import OPTIONS, PAYLOAD_FIELDS
from vmm.config.devices import ImageType
from vmm.config.errors import ValidationError
from vmm.config.model import CpusConfig, VmConfig

__all__ = ["BUILT", "RULES", "refuse_unbuilt"]


def _option_path(field: str) -> str:
    if field in PAYLOAD_FIELDS:
        return f"payload.{field}"
    return "memory.zones" if field == "memory_zones" else field


def _classify() -> tuple[dict[str, str], dict[str, str]]:
    """Field path -> proof, and field path -> how the command line names it."""
    built = {"payload": "tests/test_boot.py"}
    names: dict[str, list[str]] = {}
    for option in OPTIONS:
        path = _option_path(option.field)
        if option.proof is not None:
            built[path] = option.proof
        for key in option.keys:
            key_path = f"{path}.{key.field}"
            names.setdefault(key_path, []).append(key.name)
            if key.proof is not None:
                built.setdefault(key_path, key.proof)
    return built, {path: _label(keys) for path, keys in names.items()}


def _label(keys: list[str]) -> str:
    """`bw_size`..`ops_refill_time` -> `bw_*/ops_*`; else the keys joined by `/`."""
    groups: dict[str, int] = {}
    for key in keys:
        prefix = key.split("_", 1)[0] if "_" in key else key
        groups[prefix] = groups.get(prefix, 0) + 1
    if len(keys) > 2 and all(count > 1 for count in groups.values()):
        return "/".join(f"{prefix}_*" for prefix in groups)
    return "/".join(keys)


# Field path -> the test that proves it is built (or why there is nothing to build).
BUILT, _CLI_KEY = _classify()
# Built paths that have built paths below them: the walk goes into these.
_PARENTS = {path.rsplit(".", 1)[0] for path in BUILT if "." in path}

Rule = Callable[[Any, Any], str | None]


def _max_vcpus(value: Any, cpus: Any) -> str | None:
    assert isinstance(cpus, CpusConfig)
    if value == cpus.boot_vcpus:
        return None
    return "more vCPUs than boot= (CPU hot-plug) is not supported by this VMM yet"


def _image_type(value: Any, _disk: Any) -> str | None:
    if value in (ImageType.UNKNOWN, ImageType.RAW, ImageType.QCOW2):
        return None
    return f"{value.value.lower()} images are not supported by this VMM yet (raw and qcow2)"


# Fields built for some values only: the rule says why a value is refused.
RULES: dict[str, Rule] = {
    "cpus.max_vcpus": _max_vcpus,
    "disks.image_type": _image_type,
}


def covered(path: str) -> bool:
    """True when `path` (indices left out) is built, itself or by a built field above it."""
    parts = path.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if prefix not in BUILT:
            return False
        if prefix not in _PARENTS:
            return True
    return True


def refuse_unbuilt(config: VmConfig) -> None:
    """Raise ValidationError for the first field set to something this VMM does not build."""
    _walk(config, "", "")


def _walk(record: Any, path: str, key: str) -> None:
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        field_path = f"{path}.{field.name}" if path else field.name
        field_key = f"{key}.{field.name}" if key else field.name
        if field_key in BUILT:
            if field_key in _PARENTS:
                for index, item in _records(value):
                    where = field_path if index is None else f"{field_path}[{index}]"
                    _walk(item, where, field_key)
            continue
        rule = RULES.get(field_key)
        if rule is not None:
            reason = rule(value, record)
            if reason is not None:
                raise ValidationError(field_path, _message(field_key, reason))
            continue
        if field.default is dataclasses.MISSING or value != field.default:
            raise ValidationError(field_path, _message(field_key, _NOT_BUILT))


def _records(value: Any) -> list[tuple[int | None, Any]]:
    """The dataclass records inside a field's value: itself, or each of a tuple's."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(None, value)]
    if isinstance(value, tuple):
        return [(i, item) for i, item in enumerate(value) if dataclasses.is_dataclass(item)]
    return []


_NOT_BUILT = "is not supported by this VMM yet"


def _message(field_key: str, reason: str) -> str:
    if "." not in field_key:
        # A whole option or VM field: the CLI names the option (--pmem: ...).
        return reason.replace("is not supported", "not supported", 1)
    name = _CLI_KEY.get(field_key, field_key.rsplit(".", 1)[-1])
    return f"'{name}' {reason}"
