"""Interrupt lines: how a device raises its interrupt without knowing about KVM.

A device models its interrupt output pin as a level and calls
:meth:`InterruptLine.set_level` each time that level changes;
:meth:`InterruptLine.trigger` is a one-shot edge for devices that only have
events. What the VMM plugs in decides how this reaches the guest:

- :class:`EventFdInterrupt`: the VMM registers the eventfd with KVM as an
  irqfd on the device's GSI. Each write of the eventfd makes KVM raise and at
  once lower the GSI, an edge, which suits the edge-triggered ISA IRQs of the
  legacy devices (the PIC/IOAPIC latch it). A falling level needs no action.
- :class:`CallbackInterrupt`: calls ``set_line(level)``, e.g. a VMM's
  ``KVM_IRQ_LINE`` wrapper (where the in-kernel irqchip sees both edges), or a
  recorder in tests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

__all__ = ["CallbackInterrupt", "EventFdInterrupt", "InterruptLine"]


class InterruptLine(Protocol):
    """A device's interrupt output."""

    def trigger(self) -> None:
        """Deliver one edge-triggered interrupt."""

    def set_level(self, asserted: bool) -> None:
        """Drive the line to ``asserted``. Devices call it only when the level changes."""


class EventFdInterrupt:
    """An interrupt line that writes 1 to an eventfd, for a KVM irqfd.

    The eventfd stays the caller's unless it came from :meth:`create`; either
    way :meth:`close` (or ``with``) closes it only when this object owns it.
    """

    __slots__ = ("_fd", "_owned")

    def __init__(self, eventfd: int, *, owned: bool = False) -> None:
        self._fd = eventfd
        self._owned = owned

    @classmethod
    def create(cls) -> Self:
        """A new non-blocking, close-on-exec eventfd owned by the returned line."""
        return cls(os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK), owned=True)

    @property
    def fd(self) -> int:
        """The eventfd to register as an irqfd."""
        return self._fd

    def trigger(self) -> None:
        # BlockingIOError: the counter is at its maximum, so interrupts are pending already.
        with contextlib.suppress(BlockingIOError):
            os.eventfd_write(self._fd, 1)

    def set_level(self, asserted: bool) -> None:
        if asserted:
            self.trigger()

    def close(self) -> None:
        if self._owned and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventFdInterrupt(fd={self._fd}, owned={self._owned})"


class CallbackInterrupt:
    """An interrupt line that reports every level change to ``set_line``.

    ``trigger`` is a pulse: ``set_line(True)`` then ``set_line(False)``.
    ``set_line`` runs on the thread that changed the device's state, with the
    device's lock held: it must be quick and must not call back into the device.
    """

    __slots__ = ("_set_line",)

    def __init__(self, set_line: Callable[[bool], object]) -> None:
        self._set_line = set_line

    def trigger(self) -> None:
        self._set_line(True)
        self._set_line(False)

    def set_level(self, asserted: bool) -> None:
        self._set_line(asserted)
