"""Which format an image file holds, found from its bytes as Cloud Hypervisor does."""

from __future__ import annotations

import enum

from block_formats.errors import UnsupportedFormatError
from block_formats.hostfile import HostFile

__all__ = ["ImageFormat", "detect_format"]

QCOW2_MAGIC = b"QFI\xfb"
VHDX_SIGNATURE = b"vhdxfile"
VHD_COOKIE = b"conectix"
VHD_FOOTER_SIZE = 512
_VHD_CHECKSUM = slice(64, 68)


class ImageFormat(enum.Enum):
    """An image format, valued by Cloud Hypervisor's `image_type=` name."""

    RAW = "raw"
    QCOW2 = "qcow2"
    VHD = "vhd"
    VHDX = "vhdx"

    @classmethod
    def from_name(cls, name: str) -> ImageFormat:
        """The format called `name` (any case); UnsupportedFormatError for another name."""
        try:
            return cls(name.lower())
        except ValueError:
            raise UnsupportedFormatError(name) from None


def detect_format(fd: int) -> ImageFormat:
    """The format of the image open at `fd`, by magic: qcow2 and VHDX by their first
    bytes, VHD by a checksummed "conectix" footer in its last 512 bytes, else raw.

    Raw is the fallback, so a raw disk whose guest wrote a qcow2 header at
    sector 0 reads back as qcow2: pass the format explicitly for raw disks a
    guest controls (this is why Cloud Hypervisor warns about autodetection).
    """
    file = HostFile(fd, owned=False)
    start = bytearray(8)
    file.read_into(0, memoryview(start))
    if start.startswith(QCOW2_MAGIC):
        return ImageFormat.QCOW2
    if start == VHDX_SIGNATURE:
        return ImageFormat.VHDX
    size = file.size()
    if size >= VHD_FOOTER_SIZE:
        footer = bytearray(VHD_FOOTER_SIZE)
        file.read_into(size - VHD_FOOTER_SIZE, memoryview(footer))
        if footer.startswith(VHD_COOKIE) and _vhd_checksum_ok(footer):
            return ImageFormat.VHD
    return ImageFormat.RAW


def _vhd_checksum_ok(footer: bytearray) -> bool:
    """The footer's checksum: the ones' complement of its byte sum, checksum field excluded."""
    stored = int.from_bytes(footer[_VHD_CHECKSUM], "big")
    total = sum(footer) - sum(footer[_VHD_CHECKSUM])
    return stored == (~total & 0xFFFFFFFF)
