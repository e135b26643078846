"""Time to load the test guest's kernel + initramfs into fresh guest memory.

The reference is the floor for any loader: the same number of bytes from each
file read with one ``readinto`` straight into a fresh private anonymous mmap,
at the same guest offsets. Both sides fault in the same fresh pages; the loader
also parses and validates the headers, reads the segments with ``os.preadv``
and zeroes the bss. Goal: the loader within 1.5x of the raw copy.
"""

from __future__ import annotations

import mmap
import os
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

from linux_loader import load_bzimage, load_elf, load_initramfs, read_setup_header
from vm_memory import GuestMemoryMmap

RUNS = 31
MEMORY_SIZE = 512 << 20
INITRAMFS_CEILING = 128 << 20
ROOT = Path(__file__).resolve().parents[3]
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)

# CPU time of this thread (page faults and copies included): a busy machine
# skews it less than wall-clock time.
clock = time.thread_time_ns


def find(name: str) -> Path | None:
    folders = [ROOT / "build" / "guest", ROOT.parent / "shared" / "guest"]
    if os.environ.get("CH_GUEST_DIR"):
        folders.insert(0, Path(os.environ["CH_GUEST_DIR"]))
    return next((folder / name for folder in folders if (folder / name).is_file()), None)


def elf_loads(path: Path) -> list[tuple[int, int, int]]:
    """``(file offset, guest address, file size)`` of each PT_LOAD segment."""
    data = path.read_bytes()[:4096]
    phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    headers = struct.iter_unpack("<IIQQQQQQ", data[phoff : phoff + phnum * 56])
    return [(h[2], h[4], h[5]) for h in headers if h[0] == 1 and h[5]]


Run = Callable[[], tuple[Callable[[], None], Callable[[], None]]]


def median_ms(run: Run) -> float:
    """Median CPU ms of the timed part: ``run`` sets up (untimed) and returns
    the timed function and the (untimed) clean-up."""
    samples = []
    for _ in range(RUNS):
        timed, cleanup = run()
        start = clock()
        timed()
        samples.append(clock() - start)
        cleanup()
    return statistics.median(samples) / 1e6


def fresh_memory() -> GuestMemoryMmap:
    return GuestMemoryMmap.from_ranges([(0, MEMORY_SIZE)])


def fresh_mmap() -> mmap.mmap:
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE
    return mmap.mmap(-1, MEMORY_SIZE, flags=flags)


def raw_readinto(target: mmap.mmap, path: Path, offset: int, address: int, size: int) -> None:
    with path.open("rb", buffering=0) as file:
        file.seek(offset)
        view = memoryview(target)[address : address + size]
        file.readinto(view)
        view.release()


def bench_vmlinux(vmlinux: Path, initramfs: Path) -> tuple[float, float]:
    segments = elf_loads(vmlinux)
    kernel_bytes = sum(size for _, _, size in segments)
    first_offset, first_address = segments[0][0], segments[0][1]
    initramfs_size = initramfs.stat().st_size
    initramfs_address = (INITRAMFS_CEILING - initramfs_size) // 4096 * 4096

    def loader() -> tuple[Callable[[], None], Callable[[], None]]:
        memory = fresh_memory()

        def timed() -> None:
            kernel = load_elf(memory, vmlinux)
            load_initramfs(memory, initramfs, lowest=kernel.kernel_end, highest=INITRAMFS_CEILING)

        return timed, memory.close

    def raw() -> tuple[Callable[[], None], Callable[[], None]]:
        target = fresh_mmap()

        def timed() -> None:
            raw_readinto(target, vmlinux, first_offset, first_address, kernel_bytes)
            raw_readinto(target, initramfs, 0, initramfs_address, initramfs_size)

        return timed, target.close

    median_ms(loader)  # warm the page cache and the code paths
    return median_ms(loader), median_ms(raw)


def bench_bzimage(bzimage: Path) -> tuple[float, float]:
    header = read_setup_header(bzimage)

    def loader() -> tuple[Callable[[], None], Callable[[], None]]:
        memory = fresh_memory()

        def timed() -> None:
            load_bzimage(memory, bzimage)

        return timed, memory.close

    def raw() -> tuple[Callable[[], None], Callable[[], None]]:
        target = fresh_mmap()

        def timed() -> None:
            raw_readinto(
                target, bzimage, header.setup_size, header.pref_address, header.kernel_size
            )

        return timed, target.close

    median_ms(loader)
    return median_ms(loader), median_ms(raw)


def main() -> int:
    vmlinux, initramfs, bzimage = find("vmlinux"), find("initramfs.cpio"), find("bzImage")
    if vmlinux is None or initramfs is None:
        print("bench_load: no test guest (vmlinux + initramfs.cpio) found; nothing measured")
        return 0
    print(f"linux-loader: median CPU time of {RUNS} loads into fresh 512 MiB guest memory")
    print(f"{'what':<44} {'loader ms':>10} {'raw ms':>8} {'ratio':>6}")
    loaded, raw = bench_vmlinux(vmlinux, initramfs)
    print(f"{'vmlinux + initramfs.cpio (goal <= 1.5x)':<44} {loaded:10.2f} {raw:8.2f} "
          f"{loaded / raw:6.2f}")  # fmt: skip
    for name, path in [("bzImage (test guest)", bzimage), ("vmlinuz (Debian)", debian_kernel())]:
        if path is not None:
            loaded, raw = bench_bzimage(path)
            print(f"{name:<44} {loaded:10.2f} {raw:8.2f} {loaded / raw:6.2f}")
    return 0


def debian_kernel() -> Path | None:
    path = ROOT / "build" / "debian-kernel" / "vmlinuz"
    return path if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
