"""The device-side state of a queue, as plain data (snapshot, migration)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QueueState"]


@dataclass(frozen=True, slots=True)
class QueueState:
    """Everything needed to recreate a :class:`~virtio_queue.queue.Queue`.

    The rings themselves live in guest memory and travel with it; this is the
    device's side: configuration plus where the device stopped
    (``next_avail``: the next available entry to pop, ``next_used``: the next
    used entry to fill). ``Queue.from_state`` checks every field.
    """

    max_size: int
    size: int
    ready: bool
    desc_table: int
    avail_ring: int
    used_ring: int
    next_avail: int
    next_used: int
    event_idx_enabled: bool
