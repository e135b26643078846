"""Value syntaxes of Cloud Hypervisor's options: sizes, toggles, integers, lists, MACs, IPs.

Each `parse_*` takes the (already unquoted) text of one value and returns it
converted, or raises ValueError whose message says what was expected; the
option parser adds the option and key. Each `format_*` is the inverse, used to
write a configuration back as a command line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

U8_MAX = (1 << 8) - 1
U16_MAX = (1 << 16) - 1
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
I32_MIN = -(1 << 31)
I32_MAX = (1 << 31) - 1

# Ranges expand to every integer: `[0-4294967295]` would take all memory. CPU sets
# (Linux: at most 8192 CPUs), PCI segments and queue sizes are far smaller.
MAX_LIST_INTEGERS = 1 << 16
_SIZE_SHIFTS = {"K": 10, "M": 20, "G": 30}
_TOGGLES = {"": False, "on": True, "off": False, "true": True, "false": False}


def parse_int(text: str, low: int = 0, high: int = U64_MAX) -> int:
    """A decimal integer in [low, high], strict like Rust's `from_str` (no `_`, no spaces)."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError("expected a decimal integer")
    if text.startswith("-") and low >= 0:
        raise ValueError("expected a non-negative integer")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"expected an integer from {low} to {high}")
    return value


def parse_size(text: str) -> int:
    """A byte size: bytes, or a count with a binary K, M or G suffix (512M = 512 MiB)."""
    stripped = text.strip()
    shift = _SIZE_SHIFTS.get(stripped[-1:], 0)
    number = stripped.rstrip("KMG")
    if not number or not number.isascii() or not number.isdigit():
        raise ValueError("expected a size such as 512M or 1G (suffixes K, M, G; none for bytes)")
    value = int(number) << shift
    if value > U64_MAX:
        raise ValueError("size does not fit in 64 bits")
    return value


def format_size(value: int) -> str:
    """The shortest exact spelling of a byte size: 536870912 -> 512M."""
    for suffix, shift in (("G", 30), ("M", 20), ("K", 10)):
        if value and value % (1 << shift) == 0:
            return f"{value >> shift}{suffix}"
    return str(value)


def parse_toggle(text: str) -> bool:
    """on|off|true|false (any case); an empty value is off."""
    try:
        return _TOGGLES[text.lower()]
    except KeyError:
        raise ValueError("expected on or off") from None


def format_toggle(value: bool) -> str:
    return "on" if value else "off"


def parse_integer_list(text: str, high: int = U64_MAX) -> tuple[int, ...]:
    """`[0,2-4,6]` (brackets optional) -> (0, 2, 3, 4, 6); a range must go upwards."""
    items: list[int] = []
    for part in text.strip().strip("[]").split(","):
        bounds = part.split("-")
        if len(bounds) > 2:
            raise ValueError(f"bad range {part!r} in integer list")
        start = parse_int(bounds[0], 0, high)
        end = start
        if len(bounds) == 2:
            end = parse_int(bounds[1], 0, high)
            if start >= end:
                raise ValueError(f"range {part!r} does not go upwards")
        if len(items) + end - start >= MAX_LIST_INTEGERS:
            raise ValueError(f"more than {MAX_LIST_INTEGERS} integers in the list")
        items.extend(range(start, end + 1))
    return tuple(items)


def format_integer_list(values: tuple[int, ...]) -> str:
    """(0, 1, 2, 5) -> [0-2,5]: runs are written as ranges."""
    parts: list[str] = []
    index = 0
    while index < len(values):
        end = index
        while end + 1 < len(values) and values[end + 1] == values[end] + 1:
            end += 1
        if end > index:
            parts.append(f"{values[index]}-{values[end]}")
        else:
            parts.append(str(values[index]))
        index = end + 1
    return "[" + ",".join(parts) + "]"


def parse_string_list(text: str) -> tuple[str, ...]:
    """`[a,b,"c,d"]` (brackets optional) -> ("a", "b", "c,d")."""
    return tuple(dequote(item) for item in split_commas(text.strip().strip("[]")))


def parse_tuple_list(
    text: str, key: Callable[[str], K], value: Callable[[str], V]
) -> tuple[tuple[K, V], ...]:
    """`[k1@v1,k2@v2]` (brackets required) -> ((k1, v1), (k2, v2))."""
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        raise ValueError("expected a list in brackets such as [0@[1,2],1@[3]]")
    pairs: list[tuple[K, V]] = []
    for raw in split_commas(stripped[1:-1]):
        item = raw.strip()
        at = _unquoted_at(item)
        if at <= 0:
            raise ValueError(f"expected key@value, got {item!r}")
        pairs.append((key(dequote(item[:at])), value(item[at + 1 :])))
    return tuple(pairs)


def _unquoted_at(item: str) -> int:
    in_quotes = False
    found = -1
    for index, char in enumerate(item):
        if char == '"':
            in_quotes = not in_quotes
        elif char == "@" and not in_quotes:
            if found >= 0:
                return -1
            found = index
    return found


def choice(table: Mapping[str, V]) -> Callable[[str], V]:
    """A converter accepting the table's keys in any case: `choice({"on": 1})("ON") == 1`."""

    def convert(text: str) -> V:
        try:
            return table[text.lower()]
        except KeyError:
            raise ValueError("expected one of " + ", ".join(table)) from None

    return convert


def parse_mac(text: str) -> str:
    """Six two-digit hex bytes separated by colons, returned in lower case."""
    parts = text.split(":")
    if len(parts) != 6 or any(
        len(part) != 2 or not all(c in "0123456789abcdefABCDEF" for c in part) for part in parts
    ):
        raise ValueError("expected a MAC address such as 12:34:56:78:9a:bc")
    return text.lower()


def parse_ip(text: str) -> str:
    """An IPv4 or IPv6 address in canonical form."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("expected an IPv4 or IPv6 address") from None


def is_netmask(ip: str, mask: str) -> bool:
    """True when `mask` is a contiguous netmask of the same family as `ip`."""
    import ipaddress

    address = ipaddress.ip_address(ip)
    netmask = ipaddress.ip_address(mask)
    if address.version != netmask.version:
        return False
    bits = int(netmask)
    width = netmask.max_prefixlen
    inverted = bits ^ ((1 << width) - 1)
    return inverted & (inverted + 1) == 0


def split_commas(text: str) -> list[str]:
    """Split at commas outside quotes and brackets; unbalanced quotes or brackets are an error."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    in_quotes = False
    for char in text.strip():
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes:
            if char == "[":
                depth += 1
            elif char == "]":
                if depth == 0:
                    raise ValueError(f"unbalanced ']' in {text!r}")
                depth -= 1
            elif char == "," and depth == 0:
                items.append("".join(current))
                current = []
                continue
        current.append(char)
    items.append("".join(current))
    if in_quotes:
        raise ValueError(f"unbalanced quotes in {text!r}")
    if depth:
        raise ValueError(f"unbalanced '[' in {text!r}")
    return items


def dequote(text: str) -> str:
    """Remove the quotes of a value; `""` inside a quoted run stands for one `"`."""
    if '"' not in text:
        return text
    out: list[str] = []
    previous = ""
    in_quotes = False
    for char in text:
        if char == '"':
            if previous == '"' and not in_quotes:
                out.append('"')
            in_quotes = not in_quotes
        else:
            out.append(char)
        previous = char
    return "".join(out)


def quote(text: str) -> str:
    """Quote a value when needed so that `dequote(split_commas(...))` gives it back."""
    if text and text.strip() == text and not any(c in text for c in ',"[]=@'):
        return text
    return '"' + text.replace('"', '""') + '"'
