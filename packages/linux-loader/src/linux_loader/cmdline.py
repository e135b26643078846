"""The kernel command line, built so that the kernel parses it as intended.

The kernel splits its command line at whitespace outside double quotes, and
every ``"`` toggles quoting (``next_arg`` in lib/cmdline.c); there is no
escape character. So entries are checked against that rule: printable ASCII
only (the kernel counts byte 0xa0 as whitespace), balanced quotes, keys with
neither spaces nor ``=``. The whole line, with its NUL, must fit the capacity.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Final, SupportsIndex

from linux_loader.errors import CmdlineError
from linux_loader.ranges import check_in_memory

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["Cmdline", "format_memory_size", "write_cmdline"]

_PRINTABLE: Final = frozenset(chr(code) for code in range(0x20, 0x7F))
_UNITS: Final = (("G", 30), ("M", 20), ("K", 10))
_U32_LIMIT: Final = 1 << 32
_LLONG_LIMIT: Final = 1 << 63
_INT_LIMIT: Final = 1 << 31


class Cmdline:
    """A kernel command line of at most ``capacity`` bytes, NUL included.

    Every method either adds its entry whole or raises :class:`CmdlineError`
    and leaves the line unchanged.
    """

    __slots__ = ("_capacity", "_text")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise CmdlineError("", f"capacity {capacity} cannot hold even the NUL")
        self._capacity = capacity
        self._text = ""

    @property
    def capacity(self) -> int:
        """Bytes available, counting the terminating NUL."""
        return self._capacity

    def insert(self, key: str, value: str) -> None:
        """Append ``key=value``; a value with spaces and no quotes gets quoted."""
        entry = f"{key}={value}"
        _check_text(entry)
        if not key or any(char in key for char in ' ="'):
            raise CmdlineError(entry, "the key must be non-empty without spaces, '=' or '\"'")
        if " " in value and '"' not in value:
            entry = f'{key}="{value}"'
        if len(_split(entry)) != 1:
            raise CmdlineError(entry, "the value would split into several arguments")
        self._append(entry)

    def insert_str(self, text: str) -> None:
        """Append ``text`` as given (one or more arguments); blank text adds nothing."""
        _check_text(text)
        if text.strip():
            self._append(text.strip())

    def add_virtio_mmio_device(
        self, size: int, base: SupportsIndex, irq: int, device_id: int | None = None
    ) -> None:
        """Announce a virtio-mmio device to the kernel's command-line probe:
        ``virtio_mmio.device=<size>@<base>:<irq>[:<id>]``, e.g. ``4K@0xd0000000:5``."""
        address = operator.index(base)
        text = f"size={size} base={address} irq={irq} id={device_id}"
        if not 0 < size < 1 << 64:
            raise CmdlineError(text, "the size must be positive and below 2**64")
        if not 0 <= address < _LLONG_LIMIT:
            raise CmdlineError(text, "the kernel reads the base as a signed 64-bit number")
        if not 0 <= irq < _U32_LIMIT:
            raise CmdlineError(text, "the IRQ must be a u32")
        if device_id is not None and not 0 <= device_id < _INT_LIMIT:
            raise CmdlineError(text, "the device id must be a non-negative int")
        value = f"{format_memory_size(size)}@{address:#x}:{irq}"
        if device_id is not None:
            value += f":{device_id}"
        self.insert("virtio_mmio.device", value)

    def as_bytes(self) -> bytes:
        """The line as the kernel reads it: ASCII, NUL-terminated."""
        return self._text.encode("ascii") + b"\0"

    def __str__(self) -> str:
        return self._text

    def __len__(self) -> int:
        """Bytes of the line without the NUL."""
        return len(self._text)

    def __repr__(self) -> str:
        return f"Cmdline({self._text!r}, capacity={self._capacity})"

    def _append(self, entry: str) -> None:
        text = f"{self._text} {entry}" if self._text else entry
        if len(text) + 1 > self._capacity:
            raise CmdlineError(
                entry,
                f"the line would take {len(text) + 1} bytes with its NUL, "
                f"over the capacity of {self._capacity}",
            )
        self._text = text


def format_memory_size(size: int) -> str:
    """``size`` as the kernel's ``memparse`` reads it: ``4K``, ``2M``, ``1G``, ``512``."""
    for suffix, shift in _UNITS:
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{suffix}"
    return str(size)


def write_cmdline(memory: GuestMemory, address: SupportsIndex, cmdline: Cmdline) -> int:
    """Write the NUL-terminated line at ``address``; returns the bytes written
    (the ``cmdline_size`` of :func:`~linux_loader.bootparams.write_zero_page`)."""
    addr = operator.index(address)
    data = cmdline.as_bytes()
    check_in_memory(memory, "cmdline_addr", addr, len(data))
    memory.write(addr, data)
    return len(data)


def _check_text(text: str) -> None:
    for char in text:
        if char not in _PRINTABLE:
            what = "a NUL" if char == "\0" else f"{char!r}"
            raise CmdlineError(text, f"contains {what}: only printable ASCII is allowed")
    if text.count('"') % 2:
        raise CmdlineError(text, "has an unbalanced double quote")


def _split(text: str) -> list[str]:
    """The arguments the kernel sees in ``text`` (whitespace outside quotes splits)."""
    arguments: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == " " and not quoted:
            if current:
                arguments.append("".join(current))
                current = []
            continue
        if char == '"':
            quoted = not quoted
        current.append(char)
    if current:
        arguments.append("".join(current))
    return arguments
