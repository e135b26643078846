"""Coverage-guided fuzzing of load_kernel: any input either loads inside guest
memory or raises LoaderError.

Raw random bytes rarely get past the magic numbers, so the first byte picks
how the rest is read: laid over the headers of a small valid ELF or bzImage,
the rest of the image following as the template has it, or as a whole image.
The seeds are whole images cut from the real kernels on this machine
(kernel_seeds.py), so the fuzzer starts from the headers of real vmlinux and
bzImage files, written to a seed folder at each start.

    python packages/linux-loader/fuzz/fuzz_load_kernel.py -runs=1000000
"""

from __future__ import annotations

import io
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

with atheris.instrument_imports():
    from linux_loader import LoaderError, load_kernel

from kernel_seeds import kernel_seeds
from linux_loader.testing import ELF64_HEADER, PROGRAM_HEADER, elf_image, pvh_note
from vm_memory import GuestMemoryMmap

# Room for a real kernel: Debian's asks for 64 MiB (init_size) from 16 MiB up.
MEMORY_SIZE = 128 << 20


def tiny_elf() -> bytes:
    """A PVH kernel: 64 HLTs loaded at 1 MiB, 8 KiB in memory."""
    return elf_image(
        [(0x10_0000, b"\xf4" * 64, 0x2000)], entry=0x10_0000, notes=pvh_note(0x10_0000, width=8)
    )


# The fuzzer's bytes overlay the ELF header, the two program headers and the note.
ELF_HEADERS_END = ELF64_HEADER.size + 2 * PROGRAM_HEADER.size + len(pvh_note(0, width=8))


def tiny_bzimage() -> bytes:
    image = bytearray(2 * 512 + 4096)  # one setup sector + boot sector, then the kernel
    fields = {
        0x1F1: ("<B", 1),  # setup_sects
        0x1F4: ("<I", 4096 // 16),  # syssize
        0x1FE: ("<H", 0xAA55),
        0x200: ("<H", 0x6AEB),  # jmp to the end of the header
        0x202: ("<I", 0x53726448),
        0x206: ("<H", 0x020F),
        0x211: ("<B", 0x01),  # LOADED_HIGH
        0x230: ("<I", 0x20_0000),
        0x234: ("<B", 1),  # relocatable
        0x235: ("<B", 21),
        0x236: ("<H", 0x01),  # XLF_KERNEL_64
        0x238: ("<I", 2047),
        0x258: ("<Q", 0x100_0000),
        0x260: ("<I", 0x10_0000),
    }
    for offset, (fmt, value) in fields.items():
        struct.pack_into(fmt, image, offset, value)
    return bytes(image)


TEMPLATES = [(tiny_elf(), 0, ELF_HEADERS_END), (tiny_bzimage(), 0x1F1, 0x26C)]
WHOLE_IMAGE = len(TEMPLATES)  # the first byte that takes the rest as the image


def image_of(data: bytes) -> bytes:
    mode = data[0] % (len(TEMPLATES) + 1)
    if mode == WHOLE_IMAGE:
        return data[1:]
    template, start, end = TEMPLATES[mode]
    overlay = data[1 : 1 + end - start]
    image = template[:start] + overlay + template[start + len(overlay) :]
    if len(data) > 1 + end - start:  # extra bytes choose a truncation
        image = image[: int.from_bytes(data[-2:], "little") % (len(image) + 1)]
    return image


def test_one(data: bytes) -> None:
    if not data:
        return
    image = image_of(data)
    with GuestMemoryMmap.from_ranges([(0, MEMORY_SIZE)]) as memory:
        try:
            result = load_kernel(memory, io.BytesIO(image))
        except LoaderError:
            return
        assert memory.check_range(result.kernel_load, result.kernel_end - result.kernel_load)


def seeded_argv(argv: list[str]) -> list[str]:
    """`argv` with the seed folder (the real kernels' seeds, the two templates) and, unless
    `argv` names one, a corpus folder for what libFuzzer finds, under $TMPDIR/ch-fuzz/."""
    folder = Path(tempfile.gettempdir(), "ch-fuzz", "fuzz_load_kernel")
    seeds = folder / "seeds"
    shutil.rmtree(seeds, ignore_errors=True)
    seeds.mkdir(parents=True)
    for index, seed in enumerate([bytes([mode]) for mode in range(WHOLE_IMAGE)]):
        (seeds / f"template-{index}").write_bytes(seed)
    for index, seed in enumerate(kernel_seeds()):
        (seeds / f"kernel-{index:02d}").write_bytes(bytes([WHOLE_IMAGE]) + seed)
    extra = []
    if not any(arg.startswith("-artifact_prefix=") for arg in argv[1:]):
        extra.append(f"-artifact_prefix={folder}/")
    if all(arg.startswith("-") for arg in argv[1:]):
        (folder / "corpus").mkdir(exist_ok=True)
        extra.append(str(folder / "corpus"))
    return [*argv, *extra, str(seeds)]


def main() -> None:
    atheris.Setup(seeded_argv(sys.argv), test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
