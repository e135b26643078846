"""The REST API served for tests: a real socket, router and control loop; no VM unless asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmm.control import Launcher, Vmm
    from vmm.events import EventMonitor

__all__ = ["serve_api"]

_LOOP_JOIN_TIMEOUT = 10.0


@contextmanager
def serve_api(
    path: str,
    *,
    version: str = "0.1.0",
    events: EventMonitor | None = None,
    launcher: Launcher | None = None,
) -> Iterator[Vmm]:
    """Serve the API on a Unix socket at `path`; yields the control loop behind it.

    The loop runs in a thread here (the VMM runs it in its main thread);
    everything that does not need the main thread works the same. `launcher`
    builds the VMs (`vmm.testing.fake_vm.Guests` for tests without /dev/kvm). On the
    way out the loop is asked to shut down (stopping a VM it booted) and the
    socket closes, so a test that fails half-way leaves nothing running.
    """
    from vmm.api.service import ApiService
    from vmm.control import Vmm

    control = Vmm(events=events, launcher=launcher)
    service = ApiService.start(path=path, version=version)
    try:
        service.attach(control.submit)
        loop = threading.Thread(target=control.run, name="vmm-control", daemon=True)
        loop.start()
        try:
            yield control
        finally:
            if loop.is_alive():
                control.request_shutdown()
                loop.join(_LOOP_JOIN_TIMEOUT)
    finally:
        service.close()
