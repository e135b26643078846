"""Zero-copy views of a live queue's rings and of the guest memory behind them.

A ready :class:`~virtio_queue.queue.Queue` makes one :class:`QueueViews` the
first time it runs against a memory map: a ``memoryview`` of each ring area
(bounds-checked once, here, instead of once per access) and one of every
memory region, where its chains cut their buffers from. The rings are views
cast to their element types (``H`` for indices and ring entries, ``I`` for
used elements), so a ring load or store is one indexing operation, a single
aligned host load or store; descriptors are read with one ``struct`` call.
Casts use host byte order: on a big-endian host there are no ring views and
the queue goes through the memory map's little-endian accessors instead.

The views pin the memory regions (a region cannot be unmapped while a view of
it lives). The queue releases them when it is reset, reconfigured, set not
ready or released; memory hot-remove has to quiesce the device (or hand it
the new map) before it can unmap a region.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from contextlib import suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vm_memory import GuestMemory

__all__ = ["QueueViews"]

_NO_VIEW = memoryview(b"")
_LITTLE_ENDIAN = sys.byteorder == "little"


class QueueViews:
    """The descriptor table at ``desc_table`` (``size`` entries) and the rings
    at ``avail_ring`` and ``used_ring`` in ``memory``, as views.

    ``table`` is a byte view of the descriptor table; ``avail`` the available
    ring as u16s (flags, idx, ``size`` entries, used_event); ``used`` the used
    ring as u16s (flags, idx, ..., avail_event at ``2 + 4 * size``) and
    ``used_elements`` its elements as u32 pairs (id, len). Each is None for
    an area that is guest memory but spans two regions (the queue then goes
    through ``memory`` for it), and on big-endian hosts. The caller has
    checked that every area is guest memory. Built with ``views=False`` it
    holds no view at all (a chain made by hand parses through ``memory``).
    """

    __slots__ = (
        "_ends",
        "_regions",
        "_starts",
        "avail",
        "desc_table",
        "hot",
        "memory",
        "released",
        "size",
        "table",
        "used",
        "used_elements",
    )

    def __init__(
        self,
        memory: GuestMemory,
        desc_table: int,
        size: int,
        avail_ring: int = 0,
        used_ring: int = 0,
        *,
        views: bool = True,
    ) -> None:
        self.memory = memory
        self.desc_table = desc_table
        self.size = size
        self.released = False
        regions = memory.regions if views else ()
        self._starts = [region.start.value for region in regions]
        self._ends = [region.start.value + region.size for region in regions]
        self._regions = [region.as_memoryview() for region in regions]
        # (start, end, view) of the region the last buffer lookup found.
        self.hot: tuple[int, int, memoryview] = (
            (self._starts[0], self._ends[0], self._regions[0]) if regions else (0, 0, _NO_VIEW)
        )
        self.table: memoryview | None = None
        self.avail: memoryview | None = None
        self.used: memoryview | None = None
        self.used_elements: memoryview | None = None
        if views and _LITTLE_ENDIAN:
            self.table = self.buffer(desc_table, 16 * size)
            avail = self.buffer(avail_ring, 6 + 2 * size)
            used = self.buffer(used_ring, 6 + 8 * size)
            if avail is not None:
                self.avail = avail.cast("H")
            if used is not None:
                self.used = used.cast("H")
                self.used_elements = used[4 : 4 + 8 * size].cast("I")

    def buffer(self, addr: int, length: int) -> memoryview | None:
        """A view of ``[addr, addr + length)`` (``length`` > 0) if it lies inside
        one region, else None (outside guest memory, or across regions). The
        region found becomes :attr:`hot`."""
        index = bisect_right(self._starts, addr) - 1
        if index < 0 or addr + length > self._ends[index]:
            return None
        start = self._starts[index]
        region = self._regions[index]
        self.hot = (start, self._ends[index], region)
        offset = addr - start
        # In bounds by the check above: a slice never comes out shorter.
        return region[offset : offset + length]

    def release(self) -> None:
        """Let go of every view (chains parsed from them keep their own
        slices); chains not parsed yet fail with an ``InvalidChainError``."""
        self.released = True
        old = [self.table, self.avail, self.used, self.used_elements, *self._regions]
        self.table = self.avail = self.used = self.used_elements = None
        self._regions = []
        self._starts = []
        self._ends = []
        self.hot = (0, 0, _NO_VIEW)
        for view in old:
            if view is not None:
                with suppress(BufferError):  # exported to C code right now: dropped
                    view.release()
