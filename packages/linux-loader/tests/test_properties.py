"""Properties over mutated real images: every load either succeeds with all of the
kernel inside guest memory, or raises LoaderError and leaves guest memory as it
was. No other exception, whatever the header says."""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from linux_loader import KernelLoaderResult, LoaderError, SetupHeader, load_bzimage, load_elf
from vm_memory import GuestMemoryMmap

MiB = 1 << 20
PAGE = 4096
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INTERESTING = [
    0, 1, 2, 0x1F, 0x38, 0x40, 0x1000, 0x10_0000, 0x100_0000, 0x7FFF_FFFF, 0xFFFF_FFFF,
    1 << 32, 1 << 63, (1 << 64) - 1, (1 << 64) - 0x1000,
]  # fmt: skip


def untouched(memory: GuestMemoryMmap) -> bool:
    """Whether no page of ``memory`` was ever touched: ``mincore`` finds none
    resident in the fresh anonymous mappings. A write of any value, even of the
    bytes that were there, makes its page resident."""
    libc = ctypes.CDLL(None, use_errno=True)
    for region in memory.regions:
        vector = (ctypes.c_ubyte * (region.size // PAGE))()
        if libc.mincore(ctypes.c_void_p(region.host_address), ctypes.c_size_t(region.size), vector):
            raise OSError(ctypes.get_errno(), "mincore failed")
        if any(vector):
            return False
    return True


@dataclass
class Scratch:
    """Writable copies of a real image, patched per example and restored after.

    Truncation at a small length writes a fresh short file; at a large length
    it uses one of a few copies truncated once (rewriting megabytes per
    example would dominate the run time).
    """

    folder: Path
    original: bytes
    memory_size: int
    fields: list[tuple[int, int]]  # (offset, width) of header fields
    regions: list[tuple[int, int]]  # [start, end) byte ranges worth mutating
    small: int  # truncations below this length are written fresh
    truncated: dict[int | None, Path] = field(default_factory=dict)

    def prepare(self, lengths: list[int]) -> None:
        for length in [None, *lengths]:
            path = self.folder / f"image-{length}"
            path.write_bytes(self.original[:length])
            self.truncated[length] = path

    @contextmanager
    def mutated(self, patches: list[tuple[int, bytes]], truncate: int | None) -> Iterator[Path]:
        length = len(self.original) if truncate is None else truncate
        patches = [(offset, data[: length - offset]) for offset, data in patches if offset < length]
        if truncate not in self.truncated:
            image = bytearray(self.original[:length])
            for offset, data in patches:
                image[offset : offset + len(data)] = data
            path = self.folder / "small"
            path.write_bytes(image)
            yield path
            return
        path = self.truncated[truncate]
        with path.open("r+b", buffering=0) as file:
            try:
                for offset, data in patches:
                    os.pwrite(file.fileno(), data, offset)
                yield path
            finally:
                for offset, data in reversed(patches):
                    os.pwrite(file.fileno(), self.original[offset : offset + len(data)], offset)

    def run(
        self,
        load: Callable[[GuestMemoryMmap, Path], KernelLoaderResult],
        patches: list[tuple[int, bytes]],
        truncate: int | None,
    ) -> KernelLoaderResult | None:
        """Load the mutated image into fresh memory and check the contract."""
        with (
            self.mutated(patches, truncate) as path,
            GuestMemoryMmap.from_ranges([(0, self.memory_size)]) as memory,
        ):
            try:
                result = load(memory, path)
            except LoaderError as error:
                event(f"refused: {type(error).__name__}")
                assert untouched(memory), "a failed load wrote to guest memory"
                return None
            event("loaded")
            assert result.kernel_load < result.kernel_end
            assert memory.check_range(result.kernel_load, result.kernel_end - result.kernel_load)
            return result

    def mutations(self) -> st.SearchStrategy[tuple[list[tuple[int, bytes]], int | None]]:
        def random_bytes(region: tuple[int, int]) -> st.SearchStrategy[tuple[int, bytes]]:
            return st.tuples(
                st.integers(region[0], region[1] - 1), st.binary(min_size=1, max_size=8)
            )

        def field_value(field: tuple[int, int]) -> st.SearchStrategy[tuple[int, bytes]]:
            offset, width = field
            limit = 1 << (8 * width)
            current = int.from_bytes(self.original[offset : offset + width], "little")
            values = st.one_of(
                st.sampled_from(INTERESTING),
                st.integers(0, limit - 1),
                st.integers(-0x10_0000, 0x10_0000).map(lambda delta: current + delta),
            )
            return values.map(lambda value: (offset, (value % limit).to_bytes(width, "little")))

        patch = st.one_of(
            st.sampled_from(self.regions).flatmap(random_bytes),
            st.sampled_from(self.fields).flatmap(field_value),
        )
        patches = st.lists(patch, min_size=1, max_size=4)
        large = sorted(length for length in self.truncated if length is not None)
        truncate = st.one_of(
            st.none(), st.none(), st.integers(0, self.small - 1), st.sampled_from(large)
        )
        return st.tuples(patches, truncate)


def fitting_size(result: KernelLoaderResult) -> int:
    """Just enough RAM for the unmutated kernel, plus 4 MiB."""
    return (result.kernel_end + 2 * MiB - 1) // (2 * MiB) * (2 * MiB) + 4 * MiB


@pytest.fixture(scope="module")
def elf_scratch(vmlinux: Path, tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    original = vmlinux.read_bytes()
    with GuestMemoryMmap.from_ranges([(0, 1 << 30)]) as big:
        size = fitting_size(load_elf(big, vmlinux))
    phoff, phnum = (
        struct.unpack_from("<Q", original, 32)[0],
        struct.unpack_from("<H", original, 56)[0],
    )
    fields = [(16, 2), (18, 2), (20, 4), (24, 8), (32, 8), (52, 2), (54, 2), (56, 2)]
    regions = [(0, phoff + phnum * 56)]
    lengths = [len(original) // 2]
    for index in range(phnum):
        base = phoff + index * 56
        fields += [(base, 4), (base + 8, 8), (base + 24, 8), (base + 32, 8), (base + 40, 8)]
        p_type, _, offset, _, _, filesz = struct.unpack_from("<IIQQQQ", original, base)
        lengths.append(offset + filesz - 1)
        if p_type == 4:  # PT_NOTE: the PVH entry is in here
            regions.append((offset, offset + filesz))
            lengths += [offset + 12, offset + filesz // 2]
    scratch = Scratch(
        tmp_path_factory.mktemp("elf"), original, size, fields, regions, phoff + phnum * 56 + 64
    )
    scratch.prepare(sorted(set(lengths)))
    return scratch


@pytest.fixture(scope="module")
def bzimage_scratch(guest_bzimage: Path, tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    original = guest_bzimage.read_bytes()
    with GuestMemoryMmap.from_ranges([(0, 1 << 30)]) as big:
        header = load_bzimage(big, guest_bzimage).setup_header
        assert header is not None
        size = fitting_size(load_bzimage(big, guest_bzimage))
    fields = [
        (0x1F1 + int(getattr(SetupHeader, name).offset), ctypes.sizeof(kind))
        for name, kind, *_ in SetupHeader._fields_
    ]
    end = header.setup_size + header.kernel_size
    scratch = Scratch(
        tmp_path_factory.mktemp("bzimage"), original, size, fields, [(0x1F1, 0x26C)], 0x1000
    )
    scratch.prepare([header.setup_size, end // 2, end - 1])
    return scratch


@given(data=st.data())
@SETTINGS
def test_mutated_vmlinux_loads_inside_memory_or_fails_cleanly(
    elf_scratch: Scratch, data: st.DataObject
) -> None:
    patches, truncate = data.draw(elf_scratch.mutations())
    result = elf_scratch.run(load_elf, patches, truncate)
    if result is not None and result.pvh_entry is not None:
        assert result.kernel_load <= result.pvh_entry < result.kernel_end
        assert result.pvh_entry < 1 << 32


@given(data=st.data(), kernel_offset=st.none() | st.sampled_from(INTERESTING) | st.integers(0))
@SETTINGS
def test_mutated_bzimage_loads_inside_memory_or_fails_cleanly(
    bzimage_scratch: Scratch, data: st.DataObject, kernel_offset: int | None
) -> None:
    patches, truncate = data.draw(bzimage_scratch.mutations())

    def load(memory: GuestMemoryMmap, path: Path) -> KernelLoaderResult:
        return load_bzimage(memory, path, kernel_offset=kernel_offset)

    result = bzimage_scratch.run(load, patches, truncate)
    if result is not None:
        assert result.entry == result.kernel_load + 0x200
        assert result.kernel_load >= 0x10_0000


def test_untouched_sees_a_write_of_the_same_bytes() -> None:
    with GuestMemoryMmap.from_ranges([(0, 4 * MiB)]) as memory:
        assert untouched(memory)
        memory.write(3 * MiB, b"\0")
        assert not untouched(memory)
