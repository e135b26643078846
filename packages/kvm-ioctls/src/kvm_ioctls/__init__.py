"""Safe wrappers over the Linux KVM ioctls, shaped like rust-vmm's kvm-ioctls.

`Kvm` opens /dev/kvm, `Kvm.create_vm()` gives a `VmFd`, `VmFd.create_vcpu()`
a `VcpuFd` whose `run()` returns typed exits (`IoOut`, `MmioRead`, `Hlt`,
...). Every failure is a `KvmError` carrying errno and the ioctl's name.
"""

from kvm_ioctls.cpuid import CpuId
from kvm_ioctls.errors import KvmError
from kvm_ioctls.exits import (
    Debug,
    FailEntry,
    GuestException,
    Hlt,
    Hypercall,
    InternalError,
    Intr,
    IoapicEoi,
    IoIn,
    IoOut,
    IrqWindowOpen,
    MmioRead,
    MmioWrite,
    Shutdown,
    SystemEvent,
    Unsupported,
    VcpuExit,
)
from kvm_ioctls.ioevent import IoEventAddress, MmioAddress, PioAddress
from kvm_ioctls.kick import KICK_SIGNAL, install_kick_handler
from kvm_ioctls.routing import IrqchipRoute, IrqRoute, MsiRoute
from kvm_ioctls.stats import KvmStats
from kvm_ioctls.system import Kvm
from kvm_ioctls.vcpu import VcpuFd
from kvm_ioctls.vm import VmFd

__version__ = "0.1.0"

__all__ = [
    "KICK_SIGNAL",
    "CpuId",
    "Debug",
    "FailEntry",
    "GuestException",
    "Hlt",
    "Hypercall",
    "InternalError",
    "Intr",
    "IoEventAddress",
    "IoIn",
    "IoOut",
    "IoapicEoi",
    "IrqRoute",
    "IrqWindowOpen",
    "IrqchipRoute",
    "Kvm",
    "KvmError",
    "KvmStats",
    "MmioAddress",
    "MmioRead",
    "MmioWrite",
    "MsiRoute",
    "PioAddress",
    "Shutdown",
    "SystemEvent",
    "Unsupported",
    "VcpuExit",
    "VcpuFd",
    "VmFd",
    "install_kick_handler",
]
