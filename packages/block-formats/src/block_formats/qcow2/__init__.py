"""The qcow2 format (versions 2 and 3)."""

from block_formats.qcow2.header import Qcow2Header, parse_header
from block_formats.qcow2.image import Qcow2Image

__all__ = ["Qcow2Header", "Qcow2Image", "parse_header"]
