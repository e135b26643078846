"""Disk image formats behind one interface, for a VMM's block devices.

`open_image` picks the format (raw or qcow2; VHD and VHDX are recognised and
refused), and every image is a `DiskImage`: read, write, flush, discard,
write zeroes. Every failure is a `BlockFormatError`.
"""

from block_formats.detect import ImageFormat, detect_format
from block_formats.errors import (
    BackingChainError,
    BlockFormatError,
    CorruptImageError,
    ImageClosedError,
    ImageIOError,
    IncompatibleFeaturesError,
    InvalidHeaderError,
    OutOfRangeError,
    ReadOnlyImageError,
    UnsupportedFeatureError,
    UnsupportedFormatError,
)
from block_formats.image import DiskImage, ReadableBuffer, WritableBuffer
from block_formats.opening import MAX_BACKING_DEPTH, open_image
from block_formats.qcow2 import Qcow2Header, Qcow2Image
from block_formats.raw import RawImage

__all__ = [
    "MAX_BACKING_DEPTH",
    "BackingChainError",
    "BlockFormatError",
    "CorruptImageError",
    "DiskImage",
    "ImageClosedError",
    "ImageFormat",
    "ImageIOError",
    "IncompatibleFeaturesError",
    "InvalidHeaderError",
    "OutOfRangeError",
    "Qcow2Header",
    "Qcow2Image",
    "RawImage",
    "ReadOnlyImageError",
    "ReadableBuffer",
    "UnsupportedFeatureError",
    "UnsupportedFormatError",
    "WritableBuffer",
    "detect_format",
    "open_image",
]
