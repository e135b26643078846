"""How one option key's value is spelled on the command line, both ways.

A `Codec` turns the text after `key=` into the Python value of the config
field and back, and says how `--help` shows it (`on|off`, `<size>`). The
option declarations (`vmm.config.declarations`) give each key one codec, so
parsing, unparsing and help cannot disagree about a key's syntax.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from vmm.config.values import (
    U16_MAX,
    choice,
    format_integer_list,
    format_size,
    format_toggle,
    parse_int,
    parse_integer_list,
    parse_ip,
    parse_mac,
    parse_size,
    parse_string_list,
    parse_toggle,
    parse_tuple_list,
    quote,
)

__all__ = [
    "FLAG",
    "IP",
    "MAC",
    "SIZE",
    "TEXT",
    "TOGGLE",
    "Codec",
    "enum_choice",
    "hex_port",
    "integer",
    "integer_list",
    "pair_list",
    "string_list",
    "text",
]

T = TypeVar("T")


class Codec:
    """Parse and format one key's value; `raw` codecs see the quotes (lists of quoted items)."""

    __slots__ = ("format", "parse", "raw", "usage")

    def __init__(
        self,
        parse: Callable[[str], Any],
        format: Callable[[Any], str],
        usage: str,
        *,
        raw: bool = False,
    ) -> None:
        self.parse = parse
        self.format = format
        self.usage = usage
        self.raw = raw


def text(usage: str) -> Codec:
    """A free string, quoted when written back if it holds a separator."""
    return Codec(str, quote, usage)


TEXT = text("<value>")
TOGGLE = Codec(parse_toggle, format_toggle, "on|off")
SIZE = Codec(parse_size, format_size, "<size>")
MAC = Codec(parse_mac, str, "<mac_addr>")
IP = Codec(parse_ip, str, "<ip_addr>")
# A valueless key such as `tty` in `--serial tty`: present or not.
FLAG = Codec(lambda _text: True, lambda _value: "", "")


def integer(usage: str, bits: int = 64, *, signed: bool = False) -> Codec:
    """A decimal integer of the given width (signed ones are i32 file descriptors)."""
    low, high = (-(1 << 31), (1 << 31) - 1) if signed else (0, (1 << bits) - 1)
    return Codec(lambda value: parse_int(value, low, high), str, usage)


def hex_port(usage: str) -> Codec:
    """A 16-bit I/O port in hex with a 0x prefix (`iobase=0xe9`), as CH requires."""

    def parse(value: str) -> int:
        if not value.startswith("0x"):
            raise ValueError("the IO port must be given in hex with a 0x prefix, such as 0xe9")
        digits = value[2:]
        port = int(digits, 16) if digits.isascii() and digits.isalnum() and _is_hex(digits) else -1
        if not 0 <= port <= U16_MAX:
            raise ValueError("the IO port must be a 16-bit hex number such as 0xe9")
        return port

    return Codec(parse, lambda port: f"{port:#x}", usage)


def _is_hex(digits: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in digits)


def enum_choice(table: Mapping[str, Any]) -> Codec:
    """One of the table's spellings (any case); written back as the first spelling of the value."""
    back: dict[Any, str] = {}
    for spelling, value in table.items():
        back.setdefault(value, spelling)
    return Codec(choice(table), lambda value: back[value], "|".join(table))


def integer_list(usage: str, bits: int = 64) -> Codec:
    """`[0,2-4]`: integers of `bits` bits and upward ranges, written back with runs as ranges."""
    high = (1 << bits) - 1
    return Codec(
        lambda value: parse_integer_list(value, high),
        lambda values: format_integer_list(tuple(values)),
        usage,
    )


def _format_strings(values: tuple[str, ...]) -> str:
    return "[" + ",".join(quote(value) for value in values) + "]"


def string_list(usage: str) -> Codec:
    """`[a,"b,c"]`: strings, each quoted as needed."""
    return Codec(parse_string_list, _format_strings, usage, raw=True)


def pair_list(
    usage: str,
    key: Callable[[str], Any],
    value: Codec,
    make: Callable[[Any, Any], T],
    split: Callable[[T], tuple[Any, Any]],
) -> Codec:
    """`[k@v,...]` into records built by `make(k, v)`; `split` gives (k, v) back."""

    def parse(raw: str) -> tuple[T, ...]:
        return tuple(make(k, v) for k, v in parse_tuple_list(raw, key, value.parse))

    def format_pairs(records: tuple[T, ...]) -> str:
        return "[" + ",".join(f"{k}@{value.format(v)}" for k, v in map(split, records)) + "]"

    return Codec(parse, format_pairs, usage, raw=True)
