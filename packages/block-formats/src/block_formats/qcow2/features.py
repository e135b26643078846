"""qcow2 feature bits: which incompatible features an image may use here."""

from __future__ import annotations

import enum

from block_formats.errors import IncompatibleFeaturesError

__all__ = ["IncompatibleFeature", "check_incompatible"]


class IncompatibleFeature(enum.IntFlag):
    """Header incompatible_features bits (qcow2 specification)."""

    DIRTY = 1 << 0
    CORRUPT = 1 << 1
    EXTERNAL_DATA_FILE = 1 << 2
    COMPRESSION_TYPE = 1 << 3
    EXTENDED_L2 = 1 << 4


# DIRTY and CORRUPT are understood (and refused where they must be, by the
# image); COMPRESSION_TYPE is understood when the type is zlib.
SUPPORTED = (
    IncompatibleFeature.DIRTY | IncompatibleFeature.CORRUPT | IncompatibleFeature.COMPRESSION_TYPE
)
_SPEC_NAMES = {
    0: "dirty bit",
    1: "corrupt bit",
    2: "external data file",
    3: "compression type",
    4: "extended L2 entries",
}


def check_incompatible(bits: int, image_names: dict[tuple[int, int], str]) -> None:
    """IncompatibleFeaturesError naming every set bit this package does not implement."""
    missing = bits & ~int(SUPPORTED)
    if not missing:
        return
    names = [
        image_names.get((0, bit)) or _SPEC_NAMES.get(bit) or f"unknown feature bit {bit}"
        for bit in range(64)
        if missing >> bit & 1
    ]
    raise IncompatibleFeaturesError(missing, names)
