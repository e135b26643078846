"""Typed vCPU exits: what `VcpuFd.run()` returns.

Each exit carries exactly the data of its kind, as views into the vCPU's
mmap'd `kvm_run` page, not copies: writing the bytes of an `IoIn` or
`MmioRead` view is how the VMM answers the guest before the next `run()`.
The views are valid until the next `run()` of the same vCPU.

The classes are small slotted value types with `__match_args__`, so a VMM
loop reads naturally::

    match vcpu.run():
        case IoOut(port, data): ...
        case MmioRead(address, data): data[:] = ...
        case Hlt(): ...
"""

from __future__ import annotations

from typing import ClassVar

from kvm_bindings import ExitReason


class _Exit:
    __slots__ = ()
    reason: ClassVar[int]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.__match_args__
        )

    def __hash__(self) -> int:
        return hash(type(self))

    __match_args__: ClassVar[tuple[str, ...]] = ()


class IoIn(_Exit):
    """The guest reads `len(data)` bytes from `port` (`count` accesses of a string I/O)."""

    __slots__ = ("count", "data", "port")
    __match_args__ = ("port", "data")
    reason = ExitReason.IO

    def __init__(self, port: int, data: memoryview, count: int = 1) -> None:
        self.port = port
        self.data = data
        self.count = count


class IoOut(_Exit):
    """The guest writes `data` to `port` (`count` accesses of a string I/O)."""

    __slots__ = ("count", "data", "port")
    __match_args__ = ("port", "data")
    reason = ExitReason.IO

    def __init__(self, port: int, data: memoryview, count: int = 1) -> None:
        self.port = port
        self.data = data
        self.count = count


class MmioRead(_Exit):
    """The guest reads `len(data)` bytes at guest-physical `address`; fill `data`."""

    __slots__ = ("address", "data")
    __match_args__ = ("address", "data")
    reason = ExitReason.MMIO

    def __init__(self, address: int, data: memoryview) -> None:
        self.address = address
        self.data = data


class MmioWrite(_Exit):
    """The guest writes `data` at guest-physical `address`."""

    __slots__ = ("address", "data")
    __match_args__ = ("address", "data")
    reason = ExitReason.MMIO

    def __init__(self, address: int, data: memoryview) -> None:
        self.address = address
        self.data = data


class Hlt(_Exit):
    """The guest executed HLT with no in-kernel irqchip to wait for interrupts."""

    __slots__ = ()
    reason = ExitReason.HLT


class Shutdown(_Exit):
    """The guest triple-faulted (or otherwise shut down the CPU)."""

    __slots__ = ()
    reason = ExitReason.SHUTDOWN


class Intr(_Exit):
    """KVM_RUN returned without running the guest: a signal or `immediate_exit` (a kick),
    or EAGAIN after an application processor received its start-up IPI. Run again."""

    __slots__ = ()
    reason = ExitReason.INTR


class IrqWindowOpen(_Exit):
    """The guest can take an interrupt now (requested with `request_interrupt_window`)."""

    __slots__ = ()
    reason = ExitReason.IRQ_WINDOW_OPEN


class SystemEvent(_Exit):
    """A platform event: `type` is a `SystemEventType` (shutdown, reset, crash, ...)."""

    __slots__ = ("data", "type")
    __match_args__ = ("type", "data")
    reason = ExitReason.SYSTEM_EVENT

    def __init__(self, type: int, data: tuple[int, ...]) -> None:
        self.type = type
        self.data = data


class FailEntry(_Exit):
    """KVM could not enter the guest; the reason is hardware specific."""

    __slots__ = ("cpu", "hardware_entry_failure_reason")
    __match_args__ = ("hardware_entry_failure_reason", "cpu")
    reason = ExitReason.FAIL_ENTRY

    def __init__(self, hardware_entry_failure_reason: int, cpu: int) -> None:
        self.hardware_entry_failure_reason = hardware_entry_failure_reason
        self.cpu = cpu


class InternalError(_Exit):
    """KVM failed internally, e.g. could not emulate an instruction (`suberror` 1)."""

    __slots__ = ("data", "suberror")
    __match_args__ = ("suberror", "data")
    reason = ExitReason.INTERNAL_ERROR

    def __init__(self, suberror: int, data: tuple[int, ...]) -> None:
        self.suberror = suberror
        self.data = data


class Hypercall(_Exit):
    """The guest made a hypercall KVM forwards to user space; write the result into `ret`."""

    __slots__ = ("args", "longmode", "nr", "ret")
    __match_args__ = ("nr", "args")
    reason = ExitReason.HYPERCALL

    def __init__(self, nr: int, args: tuple[int, ...], longmode: bool, ret: memoryview) -> None:
        self.nr = nr
        self.args = args
        self.longmode = longmode
        self.ret = ret


class GuestException(_Exit):
    """A guest exception KVM reports to user space."""

    __slots__ = ("error_code", "exception")
    __match_args__ = ("exception", "error_code")
    reason = ExitReason.EXCEPTION

    def __init__(self, exception: int, error_code: int) -> None:
        self.exception = exception
        self.error_code = error_code


class Debug(_Exit):
    """A debug exception (breakpoint or single step) with the debug registers."""

    __slots__ = ("dr6", "dr7", "exception", "pc")
    __match_args__ = ("exception", "pc")
    reason = ExitReason.DEBUG

    def __init__(self, exception: int, pc: int, dr6: int, dr7: int) -> None:
        self.exception = exception
        self.pc = pc
        self.dr6 = dr6
        self.dr7 = dr7


class IoapicEoi(_Exit):
    """The guest acknowledged a level-triggered interrupt (split irqchip)."""

    __slots__ = ("vector",)
    __match_args__ = ("vector",)
    reason = ExitReason.IOAPIC_EOI

    def __init__(self, vector: int) -> None:
        self.vector = vector


class Unsupported(_Exit):
    """An exit this package has no type for; `exit_reason` is KVM's number."""

    __slots__ = ("exit_reason",)
    __match_args__ = ("exit_reason",)
    reason = ExitReason.UNKNOWN

    def __init__(self, exit_reason: int) -> None:
        self.exit_reason = exit_reason


VcpuExit = (
    IoIn
    | IoOut
    | MmioRead
    | MmioWrite
    | Hlt
    | Shutdown
    | Intr
    | IrqWindowOpen
    | SystemEvent
    | FailEntry
    | InternalError
    | Hypercall
    | GuestException
    | Debug
    | IoapicEoi
    | Unsupported
)
