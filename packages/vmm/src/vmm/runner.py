"""The `cloud-hypervisor` process: the control loop in the main thread, with its signals.

One run path, with or without an API socket: `run()` hands the command
line's VM (if any) to the control loop (`vmm.control.Vmm`), which builds,
reboots, stops and reports it exactly as it does a VM that `vm.create` and
`vm.boot` gave it. This module adds only what belongs to the process:
SIGINT and SIGTERM become `vmm.shutdown` (exit status 0), SIGUSR2 has the
vCPUs log their registers, the event monitor is opened and the API service
attached and closed. The serial console (`--serial tty`: raw terminal and
stdin pump) belongs to each VM (`vmm.launch.LaunchedVm`).

Nothing of the API server is imported here: the caller starts the
`ApiService` (before the slow imports, so `vmm.ping` answers early).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Protocol

from vmm.control import Launcher, Vmm

if TYPE_CHECKING:
    from vmm.api.actions import Action
    from vmm.config import VmConfig
    from vmm.config.vmm_options import EventMonitorConfig

__all__ = ["ApiEndpoint", "run"]


class ApiEndpoint(Protocol):
    """What `run()` needs of the API service (`vmm.ApiService`): to hand it the
    control loop's `submit`, and to close it when the VMM ends."""

    def attach(self, submit: Callable[[Action, object], object]) -> None: ...
    def close(self) -> None: ...


def run(
    config: VmConfig | None,
    *,
    api: ApiEndpoint | None = None,
    event_monitor: EventMonitorConfig | None = None,
    no_shutdown: bool = False,
    start_time: float | None = None,
    launcher: Launcher | None = None,
) -> int:
    """Run the VMM until it shuts down; returns the exit status (0: a clean end).

    `config`, when given, is booted first (as `vm.create` and `vm.boot`);
    if it cannot boot, the error is raised. Without `api`, a guest reset or
    shutdown ends the VMM with status 0 (as the plain command does); with it,
    the VMM serves requests, a guest reset reboots the VM and the VMM ends at
    `vmm.shutdown`. `no_shutdown` keeps the VMM up when the guest shuts down.
    A VM failure ends it with status 1, SIGINT or SIGTERM with status 0.
    `launcher` builds each VM (default: `vmm.launch.LaunchedVm`).
    """
    start = time.monotonic() if start_time is None else start_time
    with contextlib.ExitStack() as cleanup:
        if api is not None:
            cleanup.callback(api.close)
        events = None
        if event_monitor is not None:
            from vmm.events import open_event_monitor  # json: only when asked for

            events = open_event_monitor(path=event_monitor.path, fd=event_monitor.fd, start=start)
            cleanup.callback(events.close)
        vmm = Vmm(
            events=events,
            launcher=launcher,
            no_shutdown=no_shutdown,
            exit_on_reset=api is None,
            start_time=start,
        )
        if api is not None:
            api.attach(vmm.submit)
        _handle_signals(vmm, cleanup)
        return vmm.run(config)


def _handle_signals(vmm: Vmm, cleanup: contextlib.ExitStack) -> None:
    """SIGINT/SIGTERM: a clean `vmm.shutdown`; SIGUSR2: log the vCPUs' registers.
    The previous handlers come back when `cleanup` closes.

    A handler runs in the main thread between two of its bytecodes, maybe while
    that thread holds a lock, so it takes none: SIGINT/SIGTERM only queue the
    request (`SimpleQueue.put` is reentrant) and SIGUSR2 only sets a flag and
    kicks each vCPU; the control loop and the vCPU threads do the rest."""

    def shut_down(signum: int, frame: FrameType | None) -> None:
        vmm.request_shutdown(f"received {signal.Signals(signum).name}")

    def report(signum: int, frame: FrameType | None) -> None:
        vmm.report_vcpu_states()

    handlers = {signal.SIGINT: shut_down, signal.SIGTERM: shut_down, signal.SIGUSR2: report}
    for signum, handler in handlers.items():
        previous = signal.signal(signum, handler)
        cleanup.callback(signal.signal, signum, previous)
