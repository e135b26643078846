"""Errors of the block-formats package.

A disk image is untrusted input: whatever its bytes, opening or using it
fails only with a :class:`BlockFormatError`, so the VMM can refuse the disk
(or fail one guest request) without guessing what else might escape. Each
error carries its facts as attributes, not only in its message.
"""

from __future__ import annotations

__all__ = [
    "BackingChainError",
    "BlockFormatError",
    "CorruptImageError",
    "ImageClosedError",
    "ImageIOError",
    "IncompatibleFeaturesError",
    "InvalidHeaderError",
    "OutOfRangeError",
    "ReadOnlyImageError",
    "UnsupportedFeatureError",
    "UnsupportedFormatError",
]


class BlockFormatError(Exception):
    """Base class of every error raised by block-formats."""


class ImageIOError(BlockFormatError, OSError):
    """The host refused an operation on an image file (``errno`` is the host's)."""

    def __init__(self, operation: str, offset: int, error: OSError) -> None:
        super().__init__(error.errno, f"{operation} at {offset:#x}: {error.strerror or error}")
        self.operation = operation
        self.offset = offset


class InvalidHeaderError(BlockFormatError, ValueError):
    """A header field holds a value the format forbids or this package will not trust."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        shown = f"{value:#x}" if isinstance(value, int) else repr(value)
        super().__init__(f"header field {field} = {shown}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class CorruptImageError(BlockFormatError, ValueError):
    """Image metadata found while serving I/O contradicts the format (an L2 entry
    pointing nowhere, a refcount going negative, undecodable compressed data)."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"corrupt image metadata at {offset:#x}: {reason}")
        self.offset = offset
        self.reason = reason


class UnsupportedFeatureError(BlockFormatError):
    """A valid image using something this package does not implement
    (encryption, external data files, snapshots on a writable open, ...)."""

    def __init__(self, feature: str) -> None:
        super().__init__(f"unsupported: {feature}")
        self.feature = feature


class UnsupportedFormatError(UnsupportedFeatureError):
    """An image format recognised but not (yet) implemented, such as VHD or VHDX."""

    def __init__(self, format_name: str) -> None:
        super().__init__(f"the {format_name} image format is not implemented")
        self.format_name = format_name


class IncompatibleFeaturesError(UnsupportedFeatureError):
    """A qcow2 image needing incompatible features this package lacks; ``bits`` is
    their mask, ``names`` what the image (or the specification) calls them."""

    def __init__(self, bits: int, names: list[str]) -> None:
        super().__init__(f"qcow2 incompatible features {bits:#x}: {', '.join(names)}")
        self.bits = bits
        self.names = names


class BackingChainError(BlockFormatError):
    """A backing file that cannot be used: missing, a loop, or a chain too deep."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"backing file {path!r}: {reason}")
        self.path = path
        self.reason = reason


class OutOfRangeError(BlockFormatError, ValueError):
    """An access to ``[offset, offset + length)`` outside the virtual disk."""

    def __init__(self, offset: int, length: int, virtual_size: int) -> None:
        super().__init__(
            f"access [{offset:#x}, +{length:#x}) is outside the disk of {virtual_size:#x} bytes"
        )
        self.offset = offset
        self.length = length
        self.virtual_size = virtual_size


class ReadOnlyImageError(BlockFormatError):
    """A write, discard or write-zeroes on an image opened read-only."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} on a read-only image")
        self.operation = operation


class ImageClosedError(BlockFormatError):
    """An operation on an image after ``close()``."""

    def __init__(self) -> None:
        super().__init__("operation on a closed image")
