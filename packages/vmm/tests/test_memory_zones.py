"""--memory-zone RAM: laid out in zone order around the 32-bit hole, each zone its own backing."""

from __future__ import annotations

from pathlib import Path

import pytest
from vm_memory import MappingOptions
from vmm.arch import layout
from vmm.errors import GuestRamError
from vmm.memory_zones import RamZone, ZonePiece, create_zoned_ram, lay_out

MiB, GiB = 1 << 20, 1 << 30


def test_zones_fill_the_ram_ranges_in_order_and_continue_above_the_hole() -> None:
    zones = [RamZone("a", 2 * GiB), RamZone("b", 2 * GiB), RamZone("c", 1 * GiB)]
    assert lay_out(zones) == [
        ZonePiece("a", 0, 2 * GiB, 0),
        ZonePiece("b", 2 * GiB, 1 * GiB, 0),
        ZonePiece("b", layout.RAM_64BIT_START, 1 * GiB, 1 * GiB),
        ZonePiece("c", layout.RAM_64BIT_START + 1 * GiB, 1 * GiB, 0),
    ]
    # The same guest memory map as one --memory of the total.
    ranges = layout.ram_ranges(5 * GiB)
    assert (ranges[0][1], ranges[1][1]) == (3 * GiB, 2 * GiB)


def test_each_zone_gets_its_backing(tmp_path: Path) -> None:
    shared_file = tmp_path / "shared.img"
    shared_file.write_bytes(bytes(4 * MiB))
    private_file = tmp_path / "private.img"
    private_file.write_bytes(b"\xaa" * (4 * MiB))
    zones = [
        RamZone("anon", 8 * MiB),
        RamZone("memfd", 4 * MiB, shared=True),
        RamZone("shared", 4 * MiB, file=str(shared_file), shared=True),
        RamZone("private", 4 * MiB, file=str(private_file)),
        RamZone("dir", 4 * MiB, file=str(tmp_path), shared=True),
        RamZone("prefaulted", 4 * MiB, options=MappingOptions(prefault=True)),
    ]
    memory = create_zoned_ram(zones)
    try:
        starts = {piece.zone: piece.start for piece in lay_out(zones)}
        assert [(r.start.value, r.size) for r in memory] == [
            (piece.start, piece.size) for piece in lay_out(zones)
        ]
        assert memory.read(starts["private"], 2) == b"\xaa\xaa"
        memory.write(starts["shared"] + 4096, b"guest")
        memory.write(starts["private"], b"guest")
        backed = {r.start.value: r.file_offset for r in memory}
        assert backed[starts["anon"]] is None
        assert backed[starts["memfd"]] is not None
        assert backed[starts["dir"]] is not None
    finally:
        memory.close()
    assert shared_file.read_bytes()[4096:4101] == b"guest"  # shared: the file took the write
    assert private_file.read_bytes()[:5] == b"\xaa" * 5  # private: copy on write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.img", "shared.img"]


def test_a_file_too_small_for_its_zone_is_a_clear_error_and_nothing_stays_mapped(
    tmp_path: Path,
) -> None:
    small = tmp_path / "small.img"
    small.write_bytes(bytes(MiB))
    with open("/proc/self/maps") as maps:
        before = sum(1 for _ in maps)
    with pytest.raises(GuestRamError, match=r"memory zone 'b': .*fewer than offset"):
        create_zoned_ram([RamZone("a", 4 * MiB), RamZone("b", 4 * MiB, file=str(small))])
    with open("/proc/self/maps") as maps:
        assert sum(1 for _ in maps) == before


def test_a_missing_file_names_the_zone(tmp_path: Path) -> None:
    with pytest.raises(GuestRamError, match="memory zone 'z'"):
        create_zoned_ram([RamZone("z", 4 * MiB, file=str(tmp_path / "missing"))])
