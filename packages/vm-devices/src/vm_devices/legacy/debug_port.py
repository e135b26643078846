"""The POST/debug port 0x80: timestamps of codes the guest writes, to time the boot.

As in Cloud Hypervisor, each byte written is logged with the seconds since
the VMM started, and the code range names the part of the guest's software
stack that wrote it (0x00-0x1f firmware, 0x20-0x3f bootloader, 0x40-0x5f
kernel, 0x60-0x7f userspace, 0x80-0xff custom). The events are also kept
(the most recent ``max_events``) for tests and the boot benchmark.

Linux itself writes 0 to port 0x80 as an I/O delay (``outb_p``) unless KVM
advertises ``KVM_FEATURE_NOP_IO_DELAY``. Every write is logged at INFO by
default; with ``log_zero=False`` writes of 0 are logged at DEBUG instead (they
are recorded either way).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from vm_devices.errors import DeviceConfigError

__all__ = ["DEBUG_PORT", "DEBUG_PORT_LENGTH", "DebugPort", "DebugPortEvent", "DebugPortRange"]

logger = logging.getLogger(__name__)

DEBUG_PORT = 0x80
DEBUG_PORT_LENGTH = 1


class DebugPortRange(Enum):
    """Who writes a code, by Cloud Hypervisor's convention."""

    FIRMWARE = "Firmware"
    BOOTLOADER = "Bootloader"
    KERNEL = "Kernel"
    USERSPACE = "Userspace"
    CUSTOM = "Custom"

    @classmethod
    def of(cls, code: int) -> DebugPortRange:
        return _RANGES[min(code >> 5, 4)]


_RANGES = (
    DebugPortRange.FIRMWARE,
    DebugPortRange.BOOTLOADER,
    DebugPortRange.KERNEL,
    DebugPortRange.USERSPACE,
    DebugPortRange.CUSTOM,
)


@dataclass(frozen=True, slots=True)
class DebugPortEvent:
    """One write: the byte and the seconds since the start timestamp."""

    code: int
    seconds: float

    @property
    def range(self) -> DebugPortRange:
        return DebugPortRange.of(self.code)


class DebugPort:
    """Port 0x80. ``start`` is a ``clock()`` value (``time.monotonic()`` by default)."""

    def __init__(
        self,
        start: float | None = None,
        *,
        max_events: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        log_zero: bool = True,
    ) -> None:
        if max_events < 0:
            raise DeviceConfigError("DebugPort", "max_events", max_events, "must not be negative")
        self._clock = clock
        self._start = clock() if start is None else start
        self._events: deque[DebugPortEvent] = deque(maxlen=max_events)
        self._lock = threading.Lock()
        self._log_zero = log_zero

    @property
    def start(self) -> float:
        return self._start

    @property
    def events(self) -> list[DebugPortEvent]:
        """The recorded writes, oldest first (a copy)."""
        with self._lock:
            return list(self._events)

    def read(self, base: int, offset: int, data: memoryview) -> None:
        data[:] = bytes(len(data))

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        seconds = self._clock() - self._start
        with self._lock:
            for code in data:
                self._events.append(DebugPortEvent(code, seconds))
        for code in data:
            level = logging.INFO if code or self._log_zero else logging.DEBUG
            if logger.isEnabledFor(level):
                logger.log(
                    level,
                    "[Debug I/O port: %s code %#x] %.6f seconds",
                    DebugPortRange.of(code).value,
                    code,
                    seconds,
                )
