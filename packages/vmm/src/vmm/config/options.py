"""The `key=value,key=value` option parser behind every Cloud Hypervisor option.

Like CH's option_parser crate: values may be quoted (`cmdline="a,b"`), brackets
keep list values whole (`affinity=[0@[1,2],1@[3]]`), `key=` is the same as
leaving the key out, and valueless flags (`tty`, `off`) stand alone. Unknown
keys are an error naming the option and key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from vmm.config.errors import OptionError
from vmm.config.values import (
    U8_MAX,
    U16_MAX,
    U32_MAX,
    U64_MAX,
    dequote,
    parse_int,
    parse_size,
    parse_toggle,
    split_commas,
)

T = TypeVar("T")


class OptionParser:
    """Parses one option's value string; `get`/`convert` read the keys back with their types."""

    __slots__ = ("_flags", "_keys", "_values", "option")

    def __init__(self, option: str, keys: Iterable[str] = (), flags: Iterable[str] = ()) -> None:
        self.option = option
        self._keys = frozenset(keys)
        self._flags = frozenset(flags)
        self._values: dict[str, str] = {}

    def parse(self, text: str) -> OptionParser:
        """Read `text`; raises OptionError for unknown keys and bad syntax. Returns self."""
        if not text.strip():
            return self
        try:
            items = split_commas(text)
        except ValueError as error:
            raise OptionError(self.option, f"invalid syntax: {error}", value=text) from None
        for item in items:
            key, equals, value = item.partition("=")
            if key in self._flags:
                if equals:
                    raise OptionError(self.option, f"'{key}' takes no value", key=key, value=item)
                self._values[key] = ""
            elif key in self._keys:
                if not equals:
                    raise OptionError(
                        self.option,
                        f"invalid syntax: '{item}' needs a value ({key}=...)",
                        key=key,
                        value=item,
                    )
                self._values[key] = value.strip()
            else:
                known = ", ".join(sorted(self._keys | self._flags))
                raise OptionError(
                    self.option,
                    f"unknown option '{key}' (known: {known})",
                    key=key,
                    value=item,
                )
        return self

    def is_set(self, key: str) -> bool:
        """True when the key or flag appeared, even as `key=`."""
        return key in self._values

    def get(self, key: str) -> str | None:
        """The unquoted value, or None when the key is absent or empty (`key=`)."""
        raw = self._values.get(key)
        return dequote(raw) if raw else None

    def convert(self, key: str, parse: Callable[[str], T], what: str = "") -> T | None:
        """The value through `parse`, None when absent or empty; a ValueError names the key."""
        raw = self._values.get(key)
        if not raw:
            return None
        try:
            return parse(dequote(raw))
        except ValueError as error:
            detail = str(error) or what
            raise OptionError(
                self.option,
                f"invalid value '{dequote(raw)}' for {key}: {detail}",
                key=key,
                value=raw,
            ) from None

    def convert_raw(self, key: str, parse: Callable[[str], T]) -> T | None:
        """Like convert, but `parse` sees the quotes (lists whose items may be quoted)."""
        raw = self._values.get(key)
        if not raw:
            return None
        try:
            return parse(raw)
        except ValueError as error:
            raise OptionError(
                self.option, f"invalid value '{raw}' for {key}: {error}", key=key, value=raw
            ) from None

    def toggle(self, key: str, default: bool) -> bool:
        value = self.convert(key, parse_toggle)
        return default if value is None else value

    def size(self, key: str) -> int | None:
        return self.convert(key, parse_size)

    def u8(self, key: str) -> int | None:
        return self.convert(key, lambda text: parse_int(text, 0, U8_MAX))

    def u16(self, key: str) -> int | None:
        return self.convert(key, lambda text: parse_int(text, 0, U16_MAX))

    def u32(self, key: str) -> int | None:
        return self.convert(key, lambda text: parse_int(text, 0, U32_MAX))

    def u64(self, key: str) -> int | None:
        return self.convert(key, lambda text: parse_int(text, 0, U64_MAX))

    def i32(self, key: str) -> int | None:
        return self.convert(key, lambda text: parse_int(text, -(1 << 31), (1 << 31) - 1))

    def missing(self, key: str, what: str = "") -> OptionError:
        """The error for a required key that was not given."""
        return OptionError(self.option, f"{key} missing{what}", key=key)
