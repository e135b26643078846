"""DirtyBitmap: decoding KVM's dirty log (one bit per 4 KiB page, u64 words)."""

from __future__ import annotations

import array
import random

import pytest
from vm_memory import DirtyBitmap, DirtyBitmapError, GuestAddress

PAGE = 0x1000
BASE = 0x1_0000_0000


def _bitmap(pages: int, dirty: set[int]) -> bytes:
    bits = sum(1 << page for page in dirty)
    return bits.to_bytes(DirtyBitmap.buffer_size(pages * PAGE), "little")


def test_buffer_size_rounds_up_to_whole_u64_words() -> None:
    assert DirtyBitmap.buffer_size(PAGE) == 8
    assert DirtyBitmap.buffer_size(64 * PAGE) == 8
    assert DirtyBitmap.buffer_size(65 * PAGE) == 16
    assert DirtyBitmap.buffer_size(1 << 30) == (1 << 18) // 64 * 8


def test_a_missing_bitmap_means_all_clean() -> None:
    bitmap = DirtyBitmap(BASE, 16 * PAGE)
    assert bitmap.count() == 0
    assert not bitmap
    assert list(bitmap.dirty_pages()) == []


def test_dirty_pages_are_the_set_bits_lowest_first() -> None:
    bitmap = DirtyBitmap(BASE, 200 * PAGE, _bitmap(200, {0, 3, 64, 65, 199}))
    assert bitmap
    assert bitmap.count() == 5
    assert list(bitmap.dirty_pages()) == [
        GuestAddress(BASE + page * PAGE) for page in (0, 3, 64, 65, 199)
    ]


def test_bit_order_matches_kvm_u64_words() -> None:
    # Page 70 is bit 6 of the second word.
    words = array.array("Q", [0, 1 << 6])
    bitmap = DirtyBitmap(0, 128 * PAGE, words)
    assert list(bitmap.dirty_pages()) == [GuestAddress(70 * PAGE)]
    assert DirtyBitmap.from_words(0, 128 * PAGE, [0, 1 << 6]) == bitmap


def test_is_dirty_by_address() -> None:
    bitmap = DirtyBitmap(BASE, 8 * PAGE, _bitmap(8, {2}))
    assert bitmap.is_dirty(BASE + 2 * PAGE)
    assert bitmap.is_dirty(GuestAddress(BASE + 3 * PAGE - 1))
    assert not bitmap.is_dirty(BASE + 3 * PAGE)
    assert not bitmap.is_dirty(BASE - 1)
    assert not bitmap.is_dirty(BASE + 8 * PAGE)


def test_dirty_ranges_coalesce_runs() -> None:
    dirty = {1, 2, 3, 10} | set(range(60, 140))
    bitmap = DirtyBitmap(BASE, 256 * PAGE, _bitmap(256, dirty))
    assert list(bitmap.dirty_ranges()) == [
        (GuestAddress(BASE + PAGE), 3 * PAGE),
        (GuestAddress(BASE + 10 * PAGE), PAGE),
        (GuestAddress(BASE + 60 * PAGE), 80 * PAGE),
    ]


def test_runs_match_a_page_by_page_decoding() -> None:
    rng = random.Random(7)
    pages = 64 * 20 + 13
    dirty = {page for page in range(pages) if rng.random() < 0.3}
    dirty |= set(range(128, 320))  # whole words of ones
    bitmap = DirtyBitmap(0, pages * PAGE, _bitmap(pages, dirty))
    from_runs = {
        (addr.value + offset) // PAGE
        for addr, length in bitmap.dirty_ranges()
        for offset in range(0, length, PAGE)
    }
    assert from_runs == dirty
    assert [a.value // PAGE for a in bitmap.dirty_pages()] == sorted(dirty)
    assert bitmap.count() == len(dirty)


def test_last_partial_page_is_clipped_to_the_range() -> None:
    bitmap = DirtyBitmap(0, 2 * PAGE + 0x100, _bitmap(3, {2}))
    assert list(bitmap.dirty_ranges()) == [(GuestAddress(2 * PAGE), 0x100)]


def test_bits_past_the_last_page_are_ignored() -> None:
    bitmap = DirtyBitmap(0, 4 * PAGE, (0xFF).to_bytes(8, "little"))
    assert bitmap.count() == 4


def test_union_of_two_passes() -> None:
    first = DirtyBitmap(BASE, 64 * PAGE, _bitmap(64, {1, 5}))
    second = DirtyBitmap(BASE, 64 * PAGE, _bitmap(64, {5, 9}))
    union = first | second
    assert [a.value for a in union.dirty_pages()] == [BASE + p * PAGE for p in (1, 5, 9)]
    assert first.count() == 2  # unchanged


def test_union_needs_the_same_range() -> None:
    with pytest.raises(DirtyBitmapError, match="cannot merge"):
        DirtyBitmap(0, 64 * PAGE) | DirtyBitmap(PAGE, 64 * PAGE)


def test_to_bytes_is_the_kvm_layout() -> None:
    raw = _bitmap(100, {0, 99})
    assert DirtyBitmap(0, 100 * PAGE, raw).to_bytes() == raw


def test_a_short_bitmap_is_refused() -> None:
    with pytest.raises(DirtyBitmapError) as info:
        DirtyBitmap(0, 65 * PAGE, bytes(8))
    assert info.value.size == 65 * PAGE


def test_words_must_be_u64() -> None:
    with pytest.raises(DirtyBitmapError, match="not a u64"):
        DirtyBitmap.from_words(0, 64 * PAGE, [1 << 64])


@pytest.mark.parametrize("page_size", [0, 3000])
def test_page_size_must_be_a_power_of_two(page_size: int) -> None:
    with pytest.raises(DirtyBitmapError):
        DirtyBitmap(0, PAGE, page_size=page_size)


def test_repr_counts_dirty_pages() -> None:
    assert repr(DirtyBitmap(0, 4 * PAGE, _bitmap(4, {1}))) == (
        "DirtyBitmap([0x0, +0x4000), 1/4 pages dirty)"
    )
