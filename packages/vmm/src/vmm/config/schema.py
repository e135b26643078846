"""The shape of an option declaration, and the one parser and unparser that read it.

An `Option` is one command-line option (`--disk`): its arity, help, CH's
default, the config record it builds and its `Key`s. A `Key` is one
`key=value` of it: the record field it fills, its `Codec`, its default when
that differs from the field's, and the test that proves this VMM builds it
(`proof`; a key without one is refused unless left at its default, see
`vmm.config.capabilities`). `parse_option` and `format_option` work for every
option from these declarations; the few keys that do not map one-to-one onto
a field (rate limits, console modes) are assembled by the option's `build`
and taken apart by its `split`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import Any

from vmm.config.codecs import FLAG, Codec
from vmm.config.errors import OptionError
from vmm.config.options import OptionParser

__all__ = ["Arity", "Key", "Option", "format_option", "parse_option"]


class Arity(enum.Enum):
    """How many values an option takes on the command line (clap's terms)."""

    FLAG = "flag"  # --watchdog
    COUNT = "count"  # -vvv
    ONE = "one"  # --kernel PATH (once)
    MANY = "many"  # --disk A B --disk C (repeatable, several values each)
    OPTIONAL = "optional"  # --rtc or --rtc VALUE


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class Key:
    """One `key=value` of an option. `field` is the record field it fills, directly or,
    with `hook`, through the option's build/split hooks; `default` overrides the field's
    default on the command line; `proof` names the test showing this VMM builds it."""

    __slots__ = ("alternative", "codec", "default", "field", "hook", "missing", "name", "proof")

    def __init__(
        self,
        name: str,
        codec: Codec,
        *,
        field: str | None = None,
        hook: bool = False,
        default: Any = UNSET,
        proof: str | None = None,
        missing: str | None = None,
        alternative: bool = False,
    ) -> None:
        self.name = name
        self.alternative = alternative  # one of exclusive keys, shown `a|b|c=<path>`
        self.codec = codec
        self.field = name if field is None else field
        self.hook = hook
        self.default = default
        self.proof = proof
        self.missing = missing

    @property
    def usage(self) -> str:
        """How `--help` shows the key: `readonly=on|off`, or just `tty` for a flag."""
        return self.name if self.codec is FLAG else f"{self.name}={self.codec.usage}"


class Values(dict[str, Any]):
    """The keys an option's text gave, parsed (a `key=` with no value is left out);
    `given` also names the keys that were written with no value."""

    __slots__ = ("given",)

    def __init__(self, given: frozenset[str]) -> None:
        super().__init__()
        self.given = given


Build = Callable[[Values, str], dict[str, Any]]
Split = Callable[[Any], dict[str, Any]]


class Option:
    """One command-line option of the VM and everything derived from it."""

    __slots__ = (
        "arity",
        "build",
        "default",
        "field",
        "keys",
        "long",
        "payload",
        "proof",
        "record",
        "split",
        "summary",
    )

    def __init__(
        self,
        long: str,
        field: str,
        arity: Arity,
        summary: str,
        *,
        record: type | None = None,
        keys: tuple[Key, ...] = (),
        default: str | None = None,
        proof: str | None = None,
        build: Build | None = None,
        split: Split | None = None,
        payload: bool = False,
    ) -> None:
        self.long = long
        self.field = field
        self.arity = arity
        self.summary = summary
        self.record = record
        self.keys = keys
        self.default = default
        self.proof = proof
        self.build = build
        self.split = split
        self.payload = payload

    @property
    def flag(self) -> str:
        return f"--{self.long}"

    @property
    def help(self) -> str:
        """The `--help` text: the summary, then every key's syntax as CH prints it."""
        if not self.keys:
            return self.summary
        syntax = self.keys[0].usage
        for previous, key in zip(self.keys, self.keys[1:], strict=False):
            syntax += ("|" if previous.alternative and key.alternative else ",") + key.usage
        return f'{self.summary} "{syntax}"' if self.summary else syntax


def _field_default(record: type, name: str) -> Any:
    field = record.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return UNSET if field.default is dataclasses.MISSING else field.default


def parse_option(option: Option, text: str, defaults: Mapping[str, Any] | None = None) -> Any:
    """The record `option` builds from its value string; raises OptionError naming the key.
    `defaults` replaces the declared defaults of some keys (a zone's mergeable follows
    --memory's)."""
    assert option.record is not None
    flags = [key.name for key in option.keys if key.codec is FLAG]
    names = [key.name for key in option.keys if key.codec is not FLAG]
    parser = OptionParser(option.flag, names, flags).parse(text)
    values = Values(frozenset(key.name for key in option.keys if parser.is_set(key.name)))
    for key in option.keys:
        if key.codec is FLAG:
            value = True if parser.is_set(key.name) else None
        elif key.codec.raw:
            value = parser.convert_raw(key.name, key.codec.parse)
        else:
            value = parser.convert(key.name, key.codec.parse)
        if value is not None:
            values[key.name] = value
    kwargs: dict[str, Any] = {}
    for key in option.keys:
        if key.hook or (key.field in kwargs and key.name not in values):
            continue
        if key.name in values:
            kwargs[key.field] = values[key.name]
        elif defaults is not None and key.name in defaults:
            kwargs[key.field] = defaults[key.name]
        elif key.default is not UNSET:
            kwargs[key.field] = key.default
        elif _field_default(option.record, key.field) is UNSET:
            raise OptionError(option.flag, key.missing or f"{key.name} missing", key=key.name)
    if option.build is not None:
        kwargs.update(option.build(values, option.flag))
    return option.record(**kwargs)


def format_option(option: Option, record: Any, defaults: Mapping[str, Any] | None = None) -> str:
    """`key=value,...` that `parse_option` (given the same `defaults`) turns back into
    `record`, defaults left out."""
    assert option.record is not None
    derived = option.split(record) if option.split is not None else {}
    pairs: list[str] = []
    for key in option.keys:
        if not key.hook:
            value = getattr(record, key.field)
            # A field the JSON requires is always written, even at the key's default.
            default = _field_default(option.record, key.field)
            if defaults is not None and key.name in defaults:
                default = defaults[key.name]
            if value is None or (value == default and default is not UNSET):
                continue
        else:
            value = derived.get(key.name)
            if value is None:
                continue
        pairs.append(key.name if key.codec is FLAG else f"{key.name}={key.codec.format(value)}")
    return ",".join(pairs)
