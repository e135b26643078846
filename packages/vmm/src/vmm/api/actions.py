"""The API's vocabulary: the actions a request asks of the VMM and the ways they fail.

Each failure carries CH's chain of messages (the JSON body of an error
response) and maps to one HTTP status in `vmm.api.routes`.
"""

from __future__ import annotations

import enum

__all__ = [
    "CONFIG_EDITS",
    "NEEDS_RUNNING_VM",
    "NEVER_SUPPORTED",
    "VM_ALREADY_CREATED",
    "VM_NOT_RUNNING",
    "Action",
    "ControlError",
    "NoDeviceError",
    "NotSupportedError",
    "VmActionError",
    "VmConfigError",
    "VmMissingConfigError",
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


# Requests that change a VM's configuration. On a VM created but not booted
# they edit the stored config, as CH does; on a running VM they would hot-plug,
# which this VMM cannot do yet (501).
CONFIG_EDITS = frozenset(
    {
        Action.RESIZE,
        Action.RESIZE_ZONE,
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
    }
)
# Requests on a running VM that this VMM cannot do yet: "VM is not running"
# (500) without one, as CH answers, else "not supported" (501).
NEEDS_RUNNING_VM = frozenset(
    {
        Action.RESIZE_DISK,
        Action.SNAPSHOT,
        Action.COREDUMP,
        Action.SEND_MIGRATION,
        Action.NMI,
    }
)
# Restore and migration reception create a VM: refused in any state.
NEVER_SUPPORTED = frozenset({Action.RESTORE, Action.RECEIVE_MIGRATION})


class ControlError(Exception):
    """A request the VMM refused or failed; `chain` is CH's list of error messages."""

    status = 500

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action}: {reason}")
        self.action = action
        self.reason = reason

    @property
    def chain(self) -> list[str]:
        return ["Error from API", _FAILED.get(self.action, f"{self.action} failed"), self.reason]


class VmNotCreatedError(ControlError):
    """The request needs a VM and none is created (HTTP 404, CH's VmNotCreated)."""

    status = 404

    def __init__(self, action: str, reason: str = "VM is not created") -> None:
        super().__init__(action, reason)


class VmMissingConfigError(VmNotCreatedError):
    """vm.boot with no VM created (HTTP 404, CH's VmMissingConfig)."""

    def __init__(self, action: str) -> None:
        super().__init__(action, "VM config is missing")


class VmStateError(ControlError):
    """The VM is in the wrong state for the request (HTTP 500, as CH answers):
    "VM is already created", "VM is not running" or an invalid transition."""


VM_ALREADY_CREATED = "VM is already created"
VM_NOT_RUNNING = "VM is not running"


class VmConfigError(ControlError):
    """The VM's configuration is not valid for the request (HTTP 400, CH's ConfigValidation;
    409 when an id or a path is already in use)."""

    def __init__(self, action: str, reason: str, *, conflict: bool = False) -> None:
        super().__init__(action, reason)
        self.status = 409 if conflict else 400


class NoDeviceError(ControlError):
    """remove-device of an id the VM does not have (HTTP 404, CH's NoDeviceToRemove)."""

    status = 404

    def __init__(self, action: str, device_id: str) -> None:
        super().__init__(action, f"No device with id {device_id!r} to remove")


class VmActionError(ControlError):
    """The VMM tried and failed, e.g. the kernel could not be loaded (HTTP 500)."""


class NotSupportedError(ControlError):
    """This VMM cannot do that yet (HTTP 501)."""

    status = 501

    def __init__(self, action: str) -> None:
        super().__init__(action, f"{action} is not supported by this VMM yet")


# CH's messages for a failed request (its ApiError), the second of the chain.
_FAILED = {
    "vm.create": "The VM could not be created",
    "vm.boot": "The VM could not boot",
    "vm.delete": "The VM could not be deleted",
    "vm.info": "The VM info is not available",
    "vm.pause": "The VM could not be paused",
    "vm.resume": "The VM could not resume",
    "vm.shutdown": "The VM could not shutdown",
    "vm.reboot": "The VM could not reboot",
    "vm.counters": "The VM counters could not be retrieved",
    "vm.snapshot": "The VM could not be snapshotted",
    "vm.restore": "The VM could not be restored",
    "vm.coredump": "The VM could not be coredumped",
    "vm.resize": "The VM could not be resized",
    "vm.resize-disk": "The disk could not be resized",
    "vm.resize-zone": "The memory zone could not be resized",
    "vm.add-device": "The device could not be added to the VM",
    "vm.add-user-device": "The user device could not be added to the VM",
    "vm.remove-device": "The device could not be removed from the VM",
    "vm.add-disk": "The disk could not be added to the VM",
    "vm.add-fs": "The fs could not be added to the VM",
    "vm.add-generic-vhost-user": "The generic vhost-user device could not be added to the VM",
    "vm.add-pmem": "The pmem device could not be added to the VM",
    "vm.add-net": "The network device could not be added to the VM",
    "vm.add-vdpa": "The vDPA device could not be added to the VM",
    "vm.add-vsock": "The vsock device could not be added to the VM",
    "vm.receive-migration": "Error receiving migration",
    "vm.send-migration": "Error dispatching the migration worker",
    "vm.power-button": "Error triggering power button",
    "vm.nmi": "Error triggering NMI",
    "vmm.shutdown": "The VMM could not shutdown",
}
