"""The event monitor (`--event-monitor`): lifecycle events written as Cloud Hypervisor writes them.

Each event is one JSON object, pretty-printed the way serde_json does it and
followed by a blank line (CH's own tests split the file on "\\n\\n"):

    {
      "timestamp": {
        "secs": 0,
        "nanos": 52351
      },
      "source": "vm",
      "event": "booted",
      "properties": null
    }

The timestamp counts from the monitor's creation (the VMM's start). The file
is non-blocking, as in CH, so a stalled reader of a FIFO loses events rather
than stalling the VMM. Only the standard library is used: the monitor is set
up before the API socket listens.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping

__all__ = ["EventMonitor", "open_event_monitor"]

log = logging.getLogger(__name__)


class EventMonitor:
    """Writes events to one file descriptor it owns; safe to call from any thread."""

    def __init__(self, fd: int, *, start: float | None = None) -> None:
        self._fd = fd
        self._start = time.monotonic() if start is None else start
        self._lock = threading.Lock()
        os.set_blocking(fd, False)

    def emit(self, source: str, event: str, properties: Mapping[str, str] | None = None) -> None:
        """Log the event and append it to the monitor file."""
        log.info(
            "Event: source = %s event = %s %s",
            source,
            event,
            ", ".join(f"{k} = {v}" for k, v in (properties or {}).items()),
        )
        elapsed = time.monotonic() - self._start
        secs = int(elapsed)
        record = {
            "timestamp": {"secs": secs, "nanos": int((elapsed - secs) * 1e9)},
            "source": source,
            "event": event,
            "properties": dict(properties) if properties is not None else None,
        }
        data = (json.dumps(record, indent=2) + "\n\n").encode()
        with self._lock:
            if self._fd < 0:
                return
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except BlockingIOError:
                log.warning("event monitor: the reader is not keeping up; event %r lost", event)
            except OSError as error:
                log.warning("event monitor: cannot write event %r: %s", event, error.strerror)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def open_event_monitor(
    *, path: str | None = None, fd: int | None = None, start: float | None = None
) -> EventMonitor:
    """A monitor on `path` (created or truncated) or on an inherited `fd` (taken over)."""
    if fd is not None:
        return EventMonitor(fd, start=start)
    if path is None:
        raise ValueError("the event monitor needs a path or an fd")
    return EventMonitor(
        os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644), start=start
    )
