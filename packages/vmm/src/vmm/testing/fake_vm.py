"""Fake booted VMs for the control loop (its `RunningVm` protocol), and a launcher of them.

The control loop's decisions (states, statuses, events, exit codes) are then
tested without /dev/kvm: `Guests(keeps_running)` launches VMs that run until
the VMM stops them; other behaviours end them as a guest would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from vmm.lifecycle import StopEvent, StopReason

if TYPE_CHECKING:
    from vmm.config import VmConfig

__all__ = ["FakeVm", "Guests", "keeps_running"]


class FakeVm:
    """A VM that runs until `end()` (the guest) or `stop()` (the VMM) ends it."""

    def __init__(
        self, config: VmConfig, on_start: Callable[[FakeVm], None], stopped: threading.Event
    ) -> None:
        self.config = config
        self._on_start = on_start
        self._stopped = stopped
        self._ended = threading.Event()
        self._event: StopEvent | None = None
        self.started = self.stopped_by_vmm = False
        self.reports = 0
        self.power_button_presses = 0

    def end(self, reason: StopReason, detail: str = "") -> None:
        if self._event is None:
            self._event = StopEvent(reason, detail)
            self._ended.set()

    def start(self) -> None:
        self.started = True
        self._on_start(self)

    def wait(self, timeout: float | None = None) -> StopEvent | None:
        self._ended.wait(timeout)
        return self._event

    def stop(self) -> StopEvent:
        self.stopped_by_vmm = True
        self.end(StopReason.SIGNAL, "stopped by the VMM")
        self._stopped.set()
        assert self._event is not None
        return self._event

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def counters(self) -> dict[str, dict[str, int]]:
        return {}

    def device_tree(self) -> dict[str, dict[str, object]]:
        return {}

    def report_vcpu_states(self) -> None:
        self.reports += 1

    def power_button(self) -> None:
        self.power_button_presses += 1


class Guests:
    """The launcher: the n-th VM launched does the n-th thing (the last one is repeated)."""

    def __init__(self, *behaviours: Callable[[FakeVm], None]) -> None:
        self._behaviours = behaviours
        self.launched: list[FakeVm] = []
        self.stopped = threading.Event()  # the VMM stopped one of them

    def __call__(self, config: VmConfig) -> FakeVm:
        behaviour = self._behaviours[min(len(self.launched), len(self._behaviours) - 1)]
        vm = FakeVm(config, behaviour, self.stopped)
        self.launched.append(vm)
        return vm


def keeps_running(vm: FakeVm) -> None:
    """A guest that runs until the VMM stops it."""
