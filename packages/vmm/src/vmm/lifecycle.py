"""Why a VM stopped, and the one-shot event every part of the VMM uses to say so."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass


class StopReason(enum.Enum):
    """What ended the VM; the command's exit status follows from it."""

    GUEST_RESET = "the guest rebooted"
    GUEST_SHUTDOWN = "the guest shut down"
    GUEST_CRASH = "the guest crashed"
    SIGNAL = "the VMM was asked to stop"
    ERROR = "the VMM failed"


@dataclass(frozen=True, slots=True)
class StopEvent:
    reason: StopReason
    detail: str = ""

    @property
    def exit_status(self) -> int:
        """0 for a clean end (guest reboot or shutdown, a stop request), 1 for failures."""
        return 1 if self.reason in (StopReason.ERROR, StopReason.GUEST_CRASH) else 0


class StopSignal:
    """Set once by whoever first decides the VM must stop; later requests are ignored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._stop: StopEvent | None = None

    def request(self, reason: StopReason, detail: str = "") -> None:
        with self._lock:
            if self._stop is None:
                self._stop = StopEvent(reason, detail)
                self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> StopEvent | None:
        """Block until a stop is requested (signal handlers still run meanwhile)."""
        self._event.wait(timeout)
        return self._stop
