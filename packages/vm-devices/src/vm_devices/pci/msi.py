"""Message-signalled interrupts: how an MSI-X table reaches the VMM's interrupt routing.

A device's MSI-X vectors form an :class:`MsiInterruptGroup`. The device's
table calls :meth:`MsiInterruptGroup.update` whenever the guest changes a
vector's message (address, data) or masking, and :meth:`MsiInterruptGroup.trigger`
to deliver a vector. A VMM implements it with KVM: one GSI per vector routed as
an MSI with ``KVM_SET_GSI_ROUTING``, one irqfd per GSI, and ``trigger`` writing
that eventfd (:class:`EventFdMsiGroup` does the eventfd part). Tests use
:class:`RecordingMsiGroup`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["EventFdMsiGroup", "MsiInterruptGroup", "MsiMessage", "RecordingMsiGroup"]


@dataclass(frozen=True, slots=True)
class MsiMessage:
    """One MSI: the guest-physical ``address`` to write and the 32-bit ``data`` to write there."""

    address: int
    data: int


class MsiInterruptGroup(Protocol):
    """A device's MSI vectors, as the VMM delivers them. Both methods are called
    from vCPU threads (table writes) and device worker threads (triggers)."""

    def update(self, vector: int, address: int, data: int, masked: bool) -> None:
        """Vector ``vector`` now sends ``data`` to ``address``; ``masked`` vectors
        are not triggered (the table keeps them pending) and need no route."""

    def trigger(self, vector: int) -> None:
        """Deliver vector ``vector`` with its last message."""


class RecordingMsiGroup:
    """An :class:`MsiInterruptGroup` for tests: ``routes`` holds each vector's last
    update as ``(message, masked)``; ``delivered`` lists the messages triggered, in order."""

    def __init__(self) -> None:
        self.routes: dict[int, tuple[MsiMessage, bool]] = {}
        self.delivered: list[MsiMessage] = []
        self.vectors: list[int] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def update(self, vector: int, address: int, data: int, masked: bool) -> None:
        with self._lock:
            self.routes[vector] = (MsiMessage(address, data), masked)

    def trigger(self, vector: int) -> None:
        with self._changed:
            route = self.routes.get(vector)
            message = route[0] if route is not None else MsiMessage(0, 0)
            self.delivered.append(message)
            self.vectors.append(vector)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` messages were delivered (False on timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.delivered) >= count, timeout)


class EventFdMsiGroup:
    """One eventfd per vector, for the VMM to register as KVM irqfds.

    ``trigger`` writes the vector's eventfd; ``update`` is passed on to
    ``on_update(vector, address, data, masked)``, where the VMM reprograms the
    vector's GSI route (``KVM_SET_GSI_ROUTING``). :meth:`close` closes the eventfds.
    """

    def __init__(
        self, count: int, on_update: Callable[[int, int, int, bool], object] | None = None
    ) -> None:
        self.eventfds = [os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) for _ in range(count)]
        self._on_update = on_update

    def update(self, vector: int, address: int, data: int, masked: bool) -> None:
        if self._on_update is not None and 0 <= vector < len(self.eventfds):
            self._on_update(vector, address, data, masked)

    def trigger(self, vector: int) -> None:
        if 0 <= vector < len(self.eventfds):
            try:  # noqa: SIM105 (hot path: no context manager per kick)
                os.eventfd_write(self.eventfds[vector], 1)
            except BlockingIOError:  # a full counter: interrupts are pending already
                pass

    def close(self) -> None:
        for fd in self.eventfds:
            os.close(fd)
        self.eventfds = []
