"""The host-wide guest-boot lock, one implementation for the tests and the benches.

On a nested PVM host a guest whose vCPU shares a host CPU with another guest
slows down many times over, so every boot (tests, benches, `dev_cli.sh boot`,
boots by hand with `flock /tmp/guest-boot.lock ...`) holds this flock for its
whole length. Standard library only: the benches import it as plain scripts.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BOOT_LOCK = os.environ.get("CH_GUEST_BOOT_LOCK", "/tmp/guest-boot.lock")


@contextmanager
def guest_boot_lock(
    timeout: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the lock; `on_wait` hears once that another boot holds it. Raises
    TimeoutError when it is not free within `timeout` seconds (None: wait on)."""
    fd = os.open(BOOT_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another guest boot held {BOOT_LOCK} for {timeout:.0f} s"
                    ) from None
                if not waiting and on_wait is not None:
                    on_wait(f"waiting for another guest boot to end ({BOOT_LOCK})")
                waiting = True
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing the only descriptor drops the lock
