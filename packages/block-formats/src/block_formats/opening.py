"""open_image: a path to the right DiskImage, backing chain included."""

from __future__ import annotations

import os

from block_formats.detect import ImageFormat, detect_format
from block_formats.errors import BackingChainError, ImageIOError, UnsupportedFormatError
from block_formats.hostfile import HostFile
from block_formats.image import DiskImage
from block_formats.qcow2 import Qcow2Image, parse_header
from block_formats.raw import RawImage

__all__ = ["MAX_BACKING_DEPTH", "open_image"]

MAX_BACKING_DEPTH = 8


def open_image(
    path: str | os.PathLike[str], *, read_only: bool, image_type: ImageFormat | None = None
) -> DiskImage:
    """Open the disk image at `path` as `image_type`, or as its bytes say when None.

    A qcow2 image's backing files open read-only, each by the format its
    header names (else detected), relative names resolved against the
    directory of the image naming them; a chain deeper than
    MAX_BACKING_DEPTH or one that loops is a BackingChainError.
    """
    return _open(os.fspath(path), read_only, image_type, ())


def _open(
    path: str, read_only: bool, image_type: ImageFormat | None, chain: tuple[tuple[int, int], ...]
) -> DiskImage:
    try:
        fd = os.open(path, (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC)
    except OSError as error:
        if chain:
            raise BackingChainError(path, error.strerror or str(error)) from None
        raise ImageIOError(f"open {path}", 0, error) from None
    backing: DiskImage | None = None
    try:
        identity = HostFile(fd, owned=False).identity()
        if identity in chain:
            raise BackingChainError(path, "the backing chain loops back to this file")
        if len(chain) > MAX_BACKING_DEPTH:
            raise BackingChainError(path, f"backing chain deeper than {MAX_BACKING_DEPTH}")
        found = image_type or detect_format(fd)
        if found is ImageFormat.RAW:
            return RawImage(fd, read_only=read_only)
        if found is not ImageFormat.QCOW2:
            raise UnsupportedFormatError(found.value)
        header = parse_header(HostFile(fd, owned=False))
        if header.backing_file is not None:
            backing_path = os.path.join(os.path.dirname(path), header.backing_file)
            backing_type = (
                ImageFormat.from_name(header.backing_format) if header.backing_format else None
            )
            backing = _open(backing_path, True, backing_type, (*chain, identity))
        return Qcow2Image(fd, read_only=read_only, backing=backing)
    except BaseException:
        os.close(fd)
        if backing is not None:
            backing.close()
        raise
