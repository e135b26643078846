"""Coverage-guided fuzzing of the JSON VmConfig decoder (CH's `vm.create` body).

The input is JSON text. What `json.loads` refuses (ValueError, RecursionError)
never reaches the decoder; everything else goes to `VmConfig.from_json`.
Only JsonError may come out of it, and only
ConfigError out of `validate` (files not checked). A config it gives must
survive its own JSON, as text and back, unchanged, before and after `validate`.

The seeds are the JSON of configs parsed from each option key's example
value; the dictionary holds every field name and enum value of the model.

    python packages/vmm/fuzz/fuzz_config_json.py -runs=1000000   # needs atheris
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import sys
import typing
from collections.abc import Iterator
from typing import Any

import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

with atheris.instrument_imports():
    # vmm.config.json loads on first use: imported here to be instrumented.
    import vmm.config.json  # noqa: F401
    from vmm.config import ConfigError, JsonError, VmConfig, VmParams, parse_vm_config, validate
    from vmm.config.capabilities import refuse_unbuilt

from vmm.testing.fuzzing import libfuzzer_argv, option_examples


def _params(option_field: str, text: str) -> VmParams:
    values: dict[str, object] = {"kernel": "vmlinux"}
    default = getattr(VmParams(), option_field)
    if isinstance(default, tuple):
        values[option_field] = (text,)
    elif isinstance(default, bool):
        values[option_field] = True
    else:
        values[option_field] = text
    return VmParams(**values)  # type: ignore[arg-type]


def seeds() -> Iterator[bytes]:
    yield json.dumps(parse_vm_config(VmParams(kernel="vmlinux")).to_json()).encode()
    for option, text in option_examples():
        if option.field == "kernel":
            continue
        try:
            config = parse_vm_config(_params(option.field, text))
        except ConfigError:
            continue
        yield json.dumps(config.to_json()).encode()


def _model_words(tp: Any, seen: set[Any]) -> Iterator[bytes]:
    """The field names and enum values reachable from a type of the model."""
    if tp in seen:
        return
    seen.add(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        for field in dataclasses.fields(tp):
            yield f'"{field.name}":'.encode()
            yield from _model_words(hints[field.name], seen)
        for alias in getattr(tp, "JSON_ALIASES", {}):
            yield f'"{alias}":'.encode()
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            yield json.dumps(member.value).encode()
    else:
        for arg in typing.get_args(tp):
            yield from _model_words(arg, seen)


def words() -> Iterator[bytes]:
    yield from _model_words(VmConfig, set())
    yield from (b"{", b"}", b"[", b"]", b"null", b"true", b"false", b"-1", b"0", b"1e3")
    yield from (b"18446744073709551615", b"18446744073709551616", b"4294967296", b'"\\ud800"')


def check_round_trip(config: VmConfig) -> None:
    """The config's JSON, as text and back, decodes strictly to the same config."""
    text = json.dumps(config.to_json())
    assert VmConfig.from_json(json.loads(text)) == config, text


def test_one(data: bytes) -> None:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return
    try:
        config = VmConfig.from_json(document)
    except JsonError:
        return
    check_round_trip(config)
    try:
        config = validate(config, check_files=False)
    except ConfigError:
        return
    check_round_trip(config)
    with contextlib.suppress(ConfigError):
        refuse_unbuilt(config)


def main() -> None:
    atheris.Setup(
        libfuzzer_argv(sys.argv, "fuzz_config_json", seeds=seeds(), words=words()), test_one
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
