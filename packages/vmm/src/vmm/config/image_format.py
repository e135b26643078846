"""Which disk image format a file holds, from its header, as CH's autodetection reads it.

This VMM serves raw images only (for now): a qcow2, VHD or VHDX image handed
to the guest as raw bytes would show it the wrong size and let one guest
write corrupt the image. So an image whose header says otherwise is refused
unless the user says `image_type=raw`.
"""

from __future__ import annotations

import os

from vmm.config.devices import ImageType

__all__ = ["detect_image_type"]

QCOW2_MAGIC = b"QFI\xfb"
VHDX_SIGNATURE = b"vhdxfile"
VHD_COOKIE = b"conectix"  # the footer of a VHD: the last 512 bytes (and a copy at 0 if dynamic)
VHD_FOOTER_SIZE = 512


def detect_image_type(fd: int) -> ImageType:
    """The format of the image open on `fd` (RAW when no known header is found)."""
    head = os.pread(fd, 8, 0)
    if head.startswith(QCOW2_MAGIC):
        return ImageType.QCOW2
    if head == VHDX_SIGNATURE:
        return ImageType.VHDX
    if _has_vhd_footer(fd):  # fixed and dynamic VHDs alike end with the footer
        return ImageType.FIXED_VHD
    return ImageType.RAW


def _has_vhd_footer(fd: int) -> bool:
    size = os.lseek(fd, 0, os.SEEK_END)
    return size >= VHD_FOOTER_SIZE and os.pread(fd, 8, size - VHD_FOOTER_SIZE) == VHD_COOKIE
