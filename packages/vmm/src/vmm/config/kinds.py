"""Integer kinds of the configuration: the Rust width of each field, for JSON range checks.

`U16` is `int` to the type checker and carries an `IntKind` for the JSON
decoder, which rejects a value the Rust field could not hold.
"""

from __future__ import annotations

from typing import Annotated

__all__ = ["I32", "U8", "U16", "U32", "U64", "USIZE", "Fd", "IntKind"]


class IntKind:
    """The range of one integer field; `fd` marks file descriptors, which JSON cannot carry."""

    __slots__ = ("fd", "high", "low", "name")

    def __init__(self, name: str, low: int, high: int, *, fd: bool = False) -> None:
        self.name = name
        self.low = low
        self.high = high
        self.fd = fd

    def __repr__(self) -> str:
        return f"IntKind({self.name})"


U8 = Annotated[int, IntKind("u8", 0, (1 << 8) - 1)]
U16 = Annotated[int, IntKind("u16", 0, (1 << 16) - 1)]
U32 = Annotated[int, IntKind("u32", 0, (1 << 32) - 1)]
U64 = Annotated[int, IntKind("u64", 0, (1 << 64) - 1)]
USIZE = Annotated[int, IntKind("usize", 0, (1 << 64) - 1)]
I32 = Annotated[int, IntKind("i32", -(1 << 31), (1 << 31) - 1)]
# A file descriptor number. Like CH, JSON decoding turns any fd into -1: an fd
# number in a request body means nothing in this process (fds travel by SCM_RIGHTS).
Fd = Annotated[int, IntKind("fd", -(1 << 31), (1 << 31) - 1, fd=True)]
