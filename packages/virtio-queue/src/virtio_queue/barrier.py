"""Memory barriers between the device (this thread) and the driver (a vCPU).

The driver runs on another CPU and shares the rings with us through guest
memory. The spec (2.7.13, 2.7.7.2, 2.7.10) puts barriers at four points:

1. read barrier: after loading ``avail->idx``, before loading the ring entries
   and descriptors it publishes (load -> load);
2. write barrier: after storing a used element, before storing ``used->idx``
   (store -> store);
3. full barrier: after storing ``used->idx``, before loading ``used_event`` or
   ``avail->flags`` to decide on an interrupt (store -> load);
4. full barrier: after storing ``avail_event`` or ``used->flags`` to re-enable
   notifications, before loading ``avail->idx`` again (store -> load).

Every load and store here is a C call (``struct`` on a ``memoryview`` of the
mapping), executed in program order; the interpreter never reorders them. The
CPU may. On x86-64 (TSO) loads are not reordered with older loads and stores
not with older stores, so 1 and 2 hold on their own: :data:`STRONGLY_ORDERED`
lets the hot paths skip them. A store may still pass a later load (the store
buffer), so 3 and 4 need a real fence. Python has none; acquiring and
releasing a :class:`threading.Lock` does the job, because CPython's lock is a
POSIX semaphore whose fast path is a ``lock cmpxchg`` and whose release is a
``lock xadd``: locked instructions, full barriers on x86. On other
architectures the same calls are acquire/release operations and the read and
write barriers are issued too (best effort: this VMM targets x86-64 KVM).
"""

from __future__ import annotations

import platform
import threading
from typing import Final

__all__ = ["STRONGLY_ORDERED", "full_barrier"]

STRONGLY_ORDERED: Final = platform.machine().lower() in {"x86_64", "amd64", "i386", "i686"}
"""True on hosts whose loads and stores keep their order (x86 TSO)."""

# Held for no time by anyone: it exists for the locked instructions that
# acquiring and releasing it execute, not to protect any data.
_FENCE: Final = threading.Lock()
_acquire: Final = _FENCE.acquire
_release: Final = _FENCE.release


def full_barrier() -> None:
    """Order every earlier load and store before every later one (x86: a
    locked instruction, like ``mfence``). It costs about three empty Python
    function calls (see the benchmark) and runs once per batch of chains."""
    _acquire()
    _release()
