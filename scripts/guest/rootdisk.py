#!/usr/bin/env python3
"""Build the root disk of Cloud Hypervisor's README lines from the test guest.

CH's README boots a cloud image as `--disk path=<image>.raw` with
`root=/dev/vda1 rw` and no initramfs. This makes the same shape from the
project's test guest: a raw disk with an MBR partition table whose
partition 1 is ext4 holding the guest's static busybox (taken from its
initramfs) and `rootdisk-init` as /sbin/init.

    scripts/guest/rootdisk.py GUEST_DIR OUT.raw [SIZE_MIB]

Needs only Python and `mke2fs` (e2fsprogs); runs as any user.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECTOR = 512
FIRST_SECTOR = 2048  # 1 MiB alignment, as fdisk and cloud images place partition 1
LINUX_PARTITION = 0x83
DIRECTORIES = ("bin", "sbin", "dev", "proc", "sys", "tmp", "mnt", "etc", "root", "run")


def cpio_member(archive: bytes, wanted: str) -> bytes:
    """The contents of `wanted` in an uncompressed newc cpio archive."""
    offset = 0
    while offset + 110 <= len(archive):
        header = archive[offset : offset + 110]
        if header[:6] not in (b"070701", b"070702"):
            raise ValueError(f"not a newc cpio archive at byte {offset}")
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        size, name_size = fields[6], fields[11]
        name = archive[offset + 110 : offset + 110 + name_size - 1].decode()
        start = (offset + 110 + name_size + 3) & ~3
        if name == wanted:
            return archive[start : start + size]
        if name == "TRAILER!!!":
            break
        offset = (start + size + 3) & ~3
    raise KeyError(f"{wanted} is not in the archive")


def mbr(total_sectors: int) -> bytes:
    """A DOS partition table with one Linux partition from FIRST_SECTOR to the end."""
    table = bytearray(SECTOR)
    entry = struct.pack(
        "<B3sB3sII",
        0x80,  # bootable, as cloud images mark their root
        b"\xfe\xff\xff",  # CHS fields: "use LBA"
        LINUX_PARTITION,
        b"\xfe\xff\xff",
        FIRST_SECTOR,
        total_sectors - FIRST_SECTOR,
    )
    table[446 : 446 + len(entry)] = entry
    table[440:444] = b"CHPY"  # disk signature
    table[510:512] = b"\x55\xaa"
    return bytes(table)


def build(guest: Path, out: Path, size_mib: int = 64) -> None:
    busybox = cpio_member((guest / "initramfs.cpio").read_bytes(), "bin/busybox")
    total_sectors = size_mib * (1 << 20) // SECTOR
    with tempfile.TemporaryDirectory(prefix="ch-rootdisk-") as scratch:
        root = Path(scratch) / "root"
        for name in DIRECTORIES:
            (root / name).mkdir(parents=True)
        (root / "bin/busybox").write_bytes(busybox)
        (root / "bin/busybox").chmod(0o755)
        (root / "bin/sh").symlink_to("busybox")
        shutil.copyfile(HERE / "rootdisk-init", root / "sbin/init")
        (root / "sbin/init").chmod(0o755)
        out.unlink(missing_ok=True)
        with out.open("wb") as disk:
            disk.truncate(total_sectors * SECTOR)
        fs_kib = (total_sectors - FIRST_SECTOR) * SECTOR // 1024
        subprocess.run(
            [
                "mke2fs", "-q", "-F", "-t", "ext4", "-L", "cloudimg-rootfs",
                "-E", f"offset={FIRST_SECTOR * SECTOR}", "-d", str(root),
                str(out), f"{fs_kib}k",
            ],
            check=True,
        )  # fmt: skip
    with out.open("r+b") as disk:
        disk.write(mbr(total_sectors))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-3].strip(), file=sys.stderr)
        return 2
    build(Path(argv[0]), Path(argv[1]), int(argv[2]) if len(argv) == 3 else 64)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
