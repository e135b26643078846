"""Edits of a created, not yet booted VM's configuration by API requests, as CH makes them.

Before `vm.boot`, CH's `add-disk` and the other `add-*` requests append the
device to the stored config (checked as a whole, 400 or 409 when it is not
valid), `remove-device` takes it out again (404 for an unknown id), and
`resize`/`resize-zone` change the sizes the VM will boot with. Each function
returns the new config; the control loop stores it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vmm.api.actions import Action, NoDeviceError, VmActionError, VmConfigError
from vmm.api.bodies import VmRemoveDevice, VmResize, VmResizeZone
from vmm.config import ValidationError, VmConfig, validate

__all__ = ["edit_config"]

# Where each add-* request puts its device in VmConfig.
_DEVICE_FIELDS = {
    Action.ADD_DISK: "disks",
    Action.ADD_NET: "net",
    Action.ADD_FS: "fs",
    Action.ADD_PMEM: "pmem",
    Action.ADD_DEVICE: "devices",
    Action.ADD_USER_DEVICE: "user_devices",
    Action.ADD_VDPA: "vdpa",
    Action.ADD_GENERIC_VHOST_USER: "generic_vhost_user",
    Action.ADD_VSOCK: "vsock",
}
# Every field that holds devices with an `id`, for remove-device.
_REMOVABLE = ("disks", "net", "fs", "pmem", "devices", "user_devices", "vdpa",
              "generic_vhost_user", "vsock")  # fmt: skip


def edit_config(action: Action, config: VmConfig, body: object) -> VmConfig:
    """`config` changed as `action` asks; raises ControlError when it cannot be."""
    if action in _DEVICE_FIELDS:
        return _add_device(action, config, body)
    if action is Action.REMOVE_DEVICE:
        assert isinstance(body, VmRemoveDevice)
        return _remove_device(config, body.id)
    if action is Action.RESIZE:
        assert isinstance(body, VmResize)
        return _resize(config, body)
    if action is Action.RESIZE_ZONE:
        assert isinstance(body, VmResizeZone)
        return _resize_zone(config, body)
    raise AssertionError(f"{action.value} does not edit a config")


def _add_device(action: Action, config: VmConfig, device: Any) -> VmConfig:
    name = _DEVICE_FIELDS[action]
    current = getattr(config, name)
    if name == "vsock":
        if current is not None:
            raise VmConfigError(action.value, "Only one vsock device is allowed")
        edited = dataclasses.replace(config, vsock=device)
    else:
        changes: dict[str, Any] = {name: (*(current or ()), device)}
        edited = dataclasses.replace(config, **changes)
    try:
        validate(edited, check_files=False)  # checked whole; stored as given
    except ValidationError as error:
        conflict = "is not unique" in error.message
        raise VmConfigError(action.value, str(error), conflict=conflict) from None
    return edited


def _remove_device(config: VmConfig, device_id: str) -> VmConfig:
    for name in _REMOVABLE:
        current = getattr(config, name)
        if name == "vsock":
            if current is not None and current.id == device_id:
                return dataclasses.replace(config, vsock=None)
            continue
        kept = tuple(device for device in current or () if device.id != device_id)
        if len(kept) != len(current or ()):
            changes: dict[str, Any] = {name: kept or None}
            return dataclasses.replace(config, **changes)
    raise NoDeviceError(Action.REMOVE_DEVICE.value, device_id)


def _resize(config: VmConfig, resize: VmResize) -> VmConfig:
    edited = config
    if resize.desired_vcpus is not None:
        cpus = dataclasses.replace(edited.cpus, boot_vcpus=resize.desired_vcpus)
        edited = dataclasses.replace(edited, cpus=cpus)
    if resize.desired_ram is not None:
        memory = dataclasses.replace(edited.memory, size=resize.desired_ram)
        edited = dataclasses.replace(edited, memory=memory)
    if resize.desired_balloon is not None and edited.balloon is not None:
        balloon = dataclasses.replace(edited.balloon, size=resize.desired_balloon)
        edited = dataclasses.replace(edited, balloon=balloon)
    return edited


def _resize_zone(config: VmConfig, resize: VmResizeZone) -> VmConfig:
    zones = config.memory.zones or ()
    if not any(zone.id == resize.id for zone in zones):
        raise VmActionError(
            Action.RESIZE_ZONE.value, f"Could not find the memory zone {resize.id} for the resize"
        )
    resized = tuple(
        dataclasses.replace(zone, size=resize.desired_ram) if zone.id == resize.id else zone
        for zone in zones
    )
    return dataclasses.replace(config, memory=dataclasses.replace(config.memory, zones=resized))
