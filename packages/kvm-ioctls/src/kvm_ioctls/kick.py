"""Kicking a vCPU thread out of KVM_RUN with a signal.

A signal delivered to a thread inside KVM_RUN makes the ioctl return EINTR
(`fcntl.ioctl` does not retry it), so `run()` returns `Intr`. Python only
lets the main thread install handlers, so the VMM calls
`install_kick_handler()` once at start; the handler itself does nothing.
"""

from __future__ import annotations

import signal
import threading

from kvm_ioctls.errors import invalid_argument

KICK_SIGNAL = signal.SIGRTMIN


def _ignore_kick(signum: int, frame: object) -> None:
    """The kick's only effect is interrupting KVM_RUN."""


def install_kick_handler() -> None:
    """Install the no-op handler for the kick signal; idempotent, main thread only."""
    if threading.current_thread() is not threading.main_thread():
        raise invalid_argument("signal", "install_kick_handler() must run in the main thread")
    signal.signal(KICK_SIGNAL, _ignore_kick)
    signal.siginterrupt(KICK_SIGNAL, True)
