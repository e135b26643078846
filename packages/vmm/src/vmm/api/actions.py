"""The API's vocabulary: the actions a request asks of the VMM and the ways they fail.

Each failure carries CH's chain of messages (the JSON body of an error
response) and maps to one HTTP status in `vmm.api.routes`.
"""

from __future__ import annotations

import enum

__all__ = [
    "NEEDS_VM",
    "NEVER_SUPPORTED",
    "Action",
    "ControlError",
    "NotSupportedError",
    "VmActionError",
    "VmNotCreatedError",
    "VmStateError",
]


class Action(enum.Enum):
    """What a request asks the control loop to do; the value is CH's endpoint name."""

    VMM_SHUTDOWN = "vmm.shutdown"
    CREATE = "vm.create"
    BOOT = "vm.boot"
    DELETE = "vm.delete"
    SHUTDOWN = "vm.shutdown"
    REBOOT = "vm.reboot"
    PAUSE = "vm.pause"
    RESUME = "vm.resume"
    INFO = "vm.info"
    COUNTERS = "vm.counters"
    POWER_BUTTON = "vm.power-button"
    NMI = "vm.nmi"
    RESIZE = "vm.resize"
    RESIZE_ZONE = "vm.resize-zone"
    RESIZE_DISK = "vm.resize-disk"
    ADD_DEVICE = "vm.add-device"
    ADD_USER_DEVICE = "vm.add-user-device"
    ADD_DISK = "vm.add-disk"
    ADD_FS = "vm.add-fs"
    ADD_GENERIC_VHOST_USER = "vm.add-generic-vhost-user"
    ADD_NET = "vm.add-net"
    ADD_PMEM = "vm.add-pmem"
    ADD_VDPA = "vm.add-vdpa"
    ADD_VSOCK = "vm.add-vsock"
    REMOVE_DEVICE = "vm.remove-device"
    SNAPSHOT = "vm.snapshot"
    RESTORE = "vm.restore"
    COREDUMP = "vm.coredump"
    SEND_MIGRATION = "vm.send-migration"
    RECEIVE_MIGRATION = "vm.receive-migration"


# Actions on a VM that this VMM cannot do yet: answered "not supported" once
# the VM exists (CH answers 404 before that). Restore and migration reception
# create a VM, so they are refused in any state.
NEEDS_VM = frozenset(
    {
        Action.RESIZE,
        Action.RESIZE_ZONE,
        Action.RESIZE_DISK,
        Action.ADD_DEVICE,
        Action.ADD_USER_DEVICE,
        Action.ADD_DISK,
        Action.ADD_FS,
        Action.ADD_GENERIC_VHOST_USER,
        Action.ADD_NET,
        Action.ADD_PMEM,
        Action.ADD_VDPA,
        Action.ADD_VSOCK,
        Action.REMOVE_DEVICE,
        Action.SNAPSHOT,
        Action.COREDUMP,
        Action.SEND_MIGRATION,
        Action.POWER_BUTTON,
        Action.NMI,
    }
)
NEVER_SUPPORTED = frozenset({Action.RESTORE, Action.RECEIVE_MIGRATION})


class ControlError(Exception):
    """A request the VMM refused or failed; `chain` is CH's list of error messages."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action}: {reason}")
        self.action = action
        self.reason = reason

    @property
    def chain(self) -> list[str]:
        return ["Error from API", _FAILED.get(self.action, f"{self.action} failed"), self.reason]


class VmNotCreatedError(ControlError):
    """The request needs a VM and none is created (HTTP 404)."""

    def __init__(self, action: str) -> None:
        super().__init__(action, "The VM is not created")


class VmStateError(ControlError):
    """The VM exists but is in the wrong state for the request (HTTP 405)."""

    def __init__(self, action: str, state: str) -> None:
        super().__init__(action, f"Invalid VM state for this request: {state}")
        self.state = state


class VmActionError(ControlError):
    """The VMM tried and failed, e.g. the kernel could not be loaded (HTTP 500)."""


class NotSupportedError(ControlError):
    """This VMM cannot do that yet (HTTP 501)."""

    def __init__(self, action: str) -> None:
        super().__init__(action, f"{action} is not supported by this VMM yet")


_FAILED = {
    "vm.create": "The VM could not be created",
    "vm.boot": "The VM could not boot",
    "vm.shutdown": "The VM could not shut down",
    "vm.reboot": "The VM could not reboot",
    "vm.pause": "The VM could not pause",
    "vm.resume": "The VM could not resume",
    "vm.info": "The VM information could not be retrieved",
    "vm.counters": "The VM counters could not be retrieved",
    "vm.delete": "The VM could not be deleted",
}
