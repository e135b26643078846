"""Guest memory that can change while devices run.

Memory hotplug adds a region while device threads keep reading and writing
guest memory. :class:`GuestMemoryAtomic` holds the current, immutable
:class:`~vm_memory.mmap.GuestMemoryMmap`; readers take a snapshot with
:meth:`~GuestMemoryAtomic.memory` (one attribute read, no lock) and use it for
the request at hand, writers build a new map and publish it under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from vm_memory.address import AddressLike
from vm_memory.mmap import GuestMemoryMmap
from vm_memory.region import GuestMemoryRegion

__all__ = ["GuestMemoryAtomic"]


class GuestMemoryAtomic:
    """The current guest memory map, replaceable as a whole.

    Snapshots stay valid after a replacement: a device finishing a request
    keeps using the map it started with. Regions shared by the old and the
    new map stay open; a region removed from the map is handed back to the
    caller to close once nothing uses it.
    """

    __slots__ = ("_lock", "_memory")

    def __init__(self, memory: GuestMemoryMmap) -> None:
        self._memory = memory
        self._lock = threading.Lock()

    def memory(self) -> GuestMemoryMmap:
        """The current map; cheap enough to call once per device request."""
        return self._memory

    def replace(self, memory: GuestMemoryMmap) -> GuestMemoryMmap:
        """Publish ``memory`` and return the map it replaces."""
        with self._lock:
            old, self._memory = self._memory, memory
        return old

    def update(self, change: Callable[[GuestMemoryMmap], GuestMemoryMmap]) -> GuestMemoryMmap:
        """Publish ``change(current map)``, with no other update in between,
        and return it. If ``change`` raises, the current map stays."""
        with self._lock:
            self._memory = change(self._memory)
            return self._memory

    def add_region(self, region: GuestMemoryRegion) -> GuestMemoryMmap:
        """Publish a map with ``region`` added and return it."""
        return self.update(lambda memory: memory.insert_region(region))

    def remove_region(self, start: AddressLike, size: int) -> GuestMemoryRegion:
        """Publish a map without the region ``[start, start + size)`` and return
        that region, still open."""
        with self._lock:
            self._memory, region = self._memory.remove_region(start, size)
        return region

    def __repr__(self) -> str:
        return f"GuestMemoryAtomic({self._memory!r})"
