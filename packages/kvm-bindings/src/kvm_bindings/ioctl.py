"""The Linux `_IOC` request encoding (asm-generic/ioctl.h, as used on x86-64).

A request number packs the direction, the argument size, a type byte and a
command number, so the numbers here follow from the struct sizes instead of
being copied as opaque constants.
"""

from __future__ import annotations

import ctypes

IOC_NRBITS = 8
IOC_TYPEBITS = 8
IOC_SIZEBITS = 14
IOC_DIRBITS = 2

IOC_NRSHIFT = 0
IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS
IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS
IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS

IOC_NONE = 0
IOC_WRITE = 1
IOC_READ = 2

KVMIO = 0xAE

_Sized = type[ctypes._SimpleCData] | type[ctypes.Structure] | type[ctypes.Union]  # type: ignore[type-arg]


def ioc(direction: int, type_: int, nr: int, size: int) -> int:
    """Encode one request number; the size must fit the 14-bit field."""
    if not 0 <= size < (1 << IOC_SIZEBITS):
        raise ValueError(f"ioctl argument size {size} does not fit in {IOC_SIZEBITS} bits")
    return (
        (direction << IOC_DIRSHIFT)
        | (type_ << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | (size << IOC_SIZESHIFT)
    )


def io(type_: int, nr: int) -> int:
    """`_IO`: no argument struct."""
    return ioc(IOC_NONE, type_, nr, 0)


def ior(type_: int, nr: int, arg: _Sized) -> int:
    """`_IOR`: the kernel writes the argument."""
    return ioc(IOC_READ, type_, nr, ctypes.sizeof(arg))


def iow(type_: int, nr: int, arg: _Sized) -> int:
    """`_IOW`: the kernel reads the argument."""
    return ioc(IOC_WRITE, type_, nr, ctypes.sizeof(arg))


def iowr(type_: int, nr: int, arg: _Sized) -> int:
    """`_IOWR`: the kernel reads and writes the argument."""
    return ioc(IOC_READ | IOC_WRITE, type_, nr, ctypes.sizeof(arg))
