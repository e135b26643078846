"""Errors of the linux-loader package.

Every error names the offending field and value as attributes, so the VMM can
report a bad ``--kernel`` or ``--cmdline`` without parsing messages. All derive
from :class:`LoaderError`; a load that fails validation wrote nothing to guest
memory.
"""

from __future__ import annotations

__all__ = [
    "BootParamsError",
    "CmdlineError",
    "ImageReadError",
    "InitramfsError",
    "InvalidBzImageError",
    "InvalidElfError",
    "LoaderError",
    "SegmentOutsideMemoryError",
    "SegmentOverlapError",
    "UnknownImageFormatError",
]


def _show(value: object) -> str:
    return f"{value:#x}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)


class LoaderError(Exception):
    """Base class of every error raised by linux-loader."""


class ImageReadError(LoaderError):
    """The image could not be read as a whole: unreadable, not seekable, too short.

    ``offset``/``length`` is the byte range of the image that was wanted,
    ``reason`` says what went wrong (for an ``OSError``, its message).
    """

    def __init__(self, offset: int, length: int, reason: str) -> None:
        self.offset = offset
        self.length = length
        self.reason = reason
        super().__init__(f"cannot read image bytes [{offset:#x}, +{length:#x}): {reason}")


class UnknownImageFormatError(LoaderError):
    """Neither an ELF file nor a bzImage (by their magic numbers)."""

    def __init__(self, magic: bytes) -> None:
        self.magic = magic
        super().__init__(
            f"kernel image is neither ELF nor bzImage (first bytes {magic.hex(' ')!s}, "
            "no 'HdrS' at 0x202)"
        )


class _FieldError(LoaderError):
    """A header field with a value the loader refuses."""

    kind = "image"

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {self.kind}: {field} = {_show(value)}: {reason}")


class InvalidElfError(_FieldError):
    """A malformed or unsupported ELF file; ``field`` names the ELF field."""

    kind = "ELF kernel"


class SegmentOverlapError(InvalidElfError):
    """Two loadable segments share guest physical addresses."""

    def __init__(self, first: tuple[int, int], second: tuple[int, int]) -> None:
        self.first = first
        self.second = second
        super().__init__(
            "p_paddr",
            second[0],
            f"segment [{second[0]:#x}, +{second[1]:#x}) overlaps "
            f"segment [{first[0]:#x}, +{first[1]:#x})",
        )


class InvalidBzImageError(_FieldError):
    """A malformed or unsupported bzImage; ``field`` names the setup header field."""

    kind = "bzImage"


class SegmentOutsideMemoryError(LoaderError):
    """Something to load would not lie inside guest memory (or below a floor).

    ``what`` names the thing (``"PT_LOAD segment 2"``, ``"bzImage kernel"``).
    """

    def __init__(self, what: str, addr: int, size: int, reason: str = "") -> None:
        self.what = what
        self.addr = addr
        self.size = size
        self.reason = reason or "is not inside guest memory"
        super().__init__(f"{what} at [{addr:#x}, +{size:#x}) {self.reason}")


class CmdlineError(LoaderError):
    """A kernel command line entry that is invalid or does not fit."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid kernel command line entry {text!r}: {reason}")


class InitramfsError(LoaderError):
    """An initramfs that is empty or has no room in guest memory."""

    def __init__(self, size: int, reason: str) -> None:
        self.size = size
        self.reason = reason
        super().__init__(f"cannot place initramfs of {size:#x} bytes: {reason}")


class BootParamsError(LoaderError):
    """Boot parameters (zero page, PVH start info) that cannot be written as asked."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid boot parameter {field} = {_show(value)}: {reason}")
