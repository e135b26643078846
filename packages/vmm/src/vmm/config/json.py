"""VmConfig to and from CH's JSON (the `VmConfig` of its OpenAPI spec), as plain dicts.

Driven by the dataclasses' own type hints, so a field added to the model is
encoded and checked with no change here. A value of the wrong type or out of
the Rust field's range is an error naming its path. An unknown field is one
too, unless the caller collects unknown fields (`ignored=`): the API does, as
CH's serde ignores fields it does not know (a newer CH's, `igvm` of a build
without it), and logs them. Missing fields take the dataclass defaults, which
are CH's serde defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from vmm.config.errors import JsonError
from vmm.config.kinds import IntKind

__all__ = ["from_json", "to_json"]

T = TypeVar("T")
_Decoder = Callable[[object, str], object]
_Encoder = Callable[[object], object]


def to_json(config: object) -> dict[str, Any]:
    """Encode a config dataclass as JSON-ready dicts, lists, strings, numbers and bools."""
    encoded = _encoder(typing.cast(Any, type(config)))(config)
    assert isinstance(encoded, dict)
    return encoded


def from_json(cls: type[T], document: object, *, ignored: list[str] | None = None) -> T:
    """Decode `document` (parsed JSON) into `cls`; raises JsonError naming the bad path.
    With `ignored`, unknown fields are skipped and their paths appended to it."""
    _unknown.fields = ignored
    try:
        value = _decoder(typing.cast(Any, cls))(document, "")
    finally:
        _unknown.fields = None
    assert isinstance(value, cls)
    return value


class _Unknown(threading.local):
    fields: list[str] | None = None


_unknown = _Unknown()


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _where(path: str) -> str:
    return path or "$"


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@cache
def _decoder(tp: Any) -> _Decoder:
    if dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        kind = next((extra for extra in extras if isinstance(extra, IntKind)), None)
        if base is int and kind is not None:
            return _int_decoder(kind)
        return _decoder(base)
    if origin is types.UnionType or origin is typing.Union:
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        decode_inner = _decoder(inner)
        return lambda value, path: None if value is None else decode_inner(value, path)
    if origin is tuple:
        item = _decoder(typing.get_args(tp)[0])

        def decode_tuple(value: object, path: str) -> object:
            if not isinstance(value, list):
                raise JsonError(_where(path), f"expected an array, got {_describe(value)}")
            return tuple(item(element, f"{path}[{index}]") for index, element in enumerate(value))

        return decode_tuple
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_decoder(tp)
    if tp is bool:
        return _simple_decoder(bool, "a boolean")
    if tp is str:
        return _simple_decoder(str, "a string")
    raise TypeError(f"no JSON decoder for {tp!r}")


def _simple_decoder(kind: type, what: str) -> _Decoder:
    def decode(value: object, path: str) -> object:
        if not isinstance(value, kind):
            raise JsonError(_where(path), f"expected {what}, got {_describe(value)}")
        return value

    return decode


def _int_decoder(kind: IntKind) -> _Decoder:
    def decode(value: object, path: str) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise JsonError(_where(path), f"expected an integer, got {_describe(value)}")
        if not kind.low <= value <= kind.high:
            raise JsonError(
                _where(path),
                f"{value} is out of range for {kind.name} ({kind.low} to {kind.high})",
            )
        return -1 if kind.fd else value

    return decode


def _enum_decoder(cls: type[enum.Enum]) -> _Decoder:
    by_value = {member.value: member for member in cls}
    names = ", ".join(repr(value) for value in by_value)

    def decode(value: object, path: str) -> object:
        if isinstance(value, str) and value in by_value:
            return by_value[value]
        raise JsonError(_where(path), f"expected one of {names}, got {_describe(value)}")

    return decode


def _dataclass_decoder(cls: Any) -> _Decoder:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    known = {f.name for f in fields}
    aliases: dict[str, str] = dict(getattr(cls, "JSON_ALIASES", {}))
    required = {
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    decoders = {f.name: _decoder(hints[f.name]) for f in fields}

    def decode(value: object, path: str) -> object:
        if not isinstance(value, dict):
            raise JsonError(_where(path), f"expected an object, got {_describe(value)}")
        kwargs: dict[str, object] = {}
        for key, item in value.items():
            name = aliases.get(key, key) if key not in known else key
            if name not in known:
                if _unknown.fields is None:
                    raise JsonError(_join(path, str(key)), "unknown field")
                _unknown.fields.append(_join(path, str(key)))
                continue
            if name in kwargs:
                raise JsonError(_join(path, str(key)), f"duplicate field (also given as {name})")
            if item is None and name in required:
                raise JsonError(_join(path, str(key)), "must not be null")
            decoded = decoders[name](item, _join(path, str(key)))
            if decoded is not None:
                kwargs[name] = decoded
        missing = sorted(required - kwargs.keys())
        if missing:
            raise JsonError(_join(path, missing[0]), "missing field")
        return cls(**kwargs)

    return decode


@cache
def _encoder(tp: Any) -> _Encoder:
    if dataclasses.is_dataclass(tp):
        return _dataclass_encoder(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _encoder(typing.get_args(tp)[0])
    if origin is types.UnionType or origin is typing.Union:
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _encoder(inner)
    if origin is tuple:
        item = _encoder(typing.get_args(tp)[0])
        return lambda value: [item(element) for element in typing.cast(tuple[object], value)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return lambda value: typing.cast(enum.Enum, value).value
    if tp in (bool, int, str):
        return lambda value: value
    raise TypeError(f"no JSON encoder for {tp!r}")


def _dataclass_encoder(cls: Any) -> _Encoder:
    hints = typing.get_type_hints(cls, include_extras=True)
    encoders = [(f.name, _encoder(hints[f.name])) for f in dataclasses.fields(cls)]
    omit_false: frozenset[str] = getattr(cls, "JSON_OMIT_FALSE", frozenset())

    def encode(value: object) -> object:
        out: dict[str, object] = {}
        for name, encode_field in encoders:
            item = getattr(value, name)
            if item is not None and not (item is False and name in omit_false):
                out[name] = encode_field(item)
        return out

    return encode
