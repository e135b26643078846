"""Test support for this VMM and the packages built on it.

* Tiny guests (`guests`): PVH ELF "kernels" of a few instructions that count
  or echo on COM1 and boot in microseconds, for lifecycle tests on /dev/kvm.
* `serve_api` (`api`): the REST API on a socket, answered by a real control
  loop in a thread, for the API's tests and the `ch-remote` client's.
* `vmm.testing.fake_kvm`: `FakeKvm`, `FakeVm` and `FakeVcpu`, with the
  surface the VMM core uses (`vmm.hypervisor`), scripted vCPU exits and a
  failure at a chosen call, so the VM, its vCPU threads and its devices are
  tested without /dev/kvm (imported from there, not re-exported here).
"""

from vmm.testing.api import serve_api
from vmm.testing.guests import (
    COUNTER_ADDRESS,
    LOAD_ADDRESS,
    counter_kernel,
    echo_kernel,
    pvh_kernel,
    write_counter_kernel,
)

__all__ = [
    "COUNTER_ADDRESS",
    "LOAD_ADDRESS",
    "counter_kernel",
    "echo_kernel",
    "pvh_kernel",
    "serve_api",
    "write_counter_kernel",
]
