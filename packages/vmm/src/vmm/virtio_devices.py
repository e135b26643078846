"""From the user's device options to virtio devices: `--disk`, `--net`, `--rng`, `--console`.

Each option becomes a `DeviceSpec` whose builder opens the host side (image
file, tap, entropy source, console fds) only when the VM is built; the
`ExitStack` given to it closes what the device itself does not own.
Device ids follow Cloud Hypervisor's (`_disk0`, `_net1`, `_rng`, `_console`)
unless the option sets `id=`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from vm_devices.virtio.device import VirtioDevice

from vmm.config import ConsoleOutputMode, VmConfig
from vmm.config.devices import DiskConfig, ImageType, NetConfig
from vmm.device_manager import DeviceSpec
from vmm.errors import VmmError

Builder = Callable[[contextlib.ExitStack], VirtioDevice]


def device_specs(config: VmConfig) -> tuple[DeviceSpec, ...]:
    """The virtio devices `config` asks for, in Cloud Hypervisor's order."""
    specs: list[DeviceSpec] = []
    for index, disk in enumerate(config.disks or ()):
        specs.append(
            DeviceSpec(disk.id or f"_disk{index}", _disk_builder(disk), disk.pci_device_id)
        )
    for index, net in enumerate(config.net or ()):
        specs.append(DeviceSpec(net.id or f"_net{index}", _net_builder(net), net.pci_device_id))
    rng = config.rng
    if rng is not None and rng.src:
        src = rng.src
        specs.append(DeviceSpec(rng.id or "_rng", lambda _: _rng(src), rng.pci_device_id))
    console = config.console
    if console.mode is not ConsoleOutputMode.OFF:
        # A terminal's input goes to one console: the serial port's when it is on the tty.
        stdin = config.serial.mode is not ConsoleOutputMode.TTY
        build = _console_builder(console.mode, console.file, take_stdin=stdin)
        specs.append(DeviceSpec(console.id or "_console", build, console.pci_device_id))
    return tuple(specs)


# `--disk image_type=` as vm-devices names formats (None: detect it, as CH does).
_IMAGE_TYPES = {
    ImageType.UNKNOWN: None,
    ImageType.RAW: "raw",
    ImageType.QCOW2: "qcow2",
    ImageType.FIXED_VHD: "vhd",
    ImageType.VHDX: "vhdx",
    ImageType.FLAT_VMDK: "vmdk",
}


def _disk_builder(disk: DiskConfig) -> Builder:
    if disk.path is None:
        raise VmmError("--disk: path is required (vhost-user disks are not supported)")
    path = disk.path

    def build(_: contextlib.ExitStack) -> VirtioDevice:
        from vm_devices.virtio.devices.block import Block

        return Block(
            path,
            readonly=disk.readonly,
            direct=disk.direct,
            num_queues=disk.num_queues,
            queue_size=disk.queue_size,
            serial=disk.serial,
            sparse=disk.sparse,
            image_type=_IMAGE_TYPES[disk.image_type],
        )

    return build


def _net_builder(net: NetConfig) -> Builder:
    def build(_: contextlib.ExitStack) -> VirtioDevice:
        import socket

        from vm_devices.virtio.devices.net import Net, parse_mac
        from vm_devices.virtio.devices.netlink import configure_interface, set_link_attributes
        from vm_devices.virtio.devices.tap import Tap

        pairs = max(net.num_queues // 2, 1)
        host_mac = parse_mac(net.host_mac, "host_mac") if net.host_mac else None
        if net.fds:
            tap = Tap.from_fds([int(fd) for fd in net.fds])
        else:
            tap = Tap.create(net.tap, queue_pairs=pairs)
        try:
            if net.ip is not None or (net.tap is None and not net.fds):
                configure_interface(tap.name, net.ip, net.mask, mac=host_mac, mtu=net.mtu)
            elif host_mac is not None or net.mtu is not None:
                set_link_attributes(socket.if_nametoindex(tap.name), mac=host_mac, mtu=net.mtu)
            return Net(
                tap,
                mac=net.mac,
                queue_size=net.queue_size,
                mtu=net.mtu,
                offload_csum=net.offload_csum,
                offload_tso=net.offload_tso,
                offload_ufo=net.offload_ufo,
            )
        except BaseException:
            tap.close()
            raise

    return build


def _rng(src: str) -> VirtioDevice:
    from vm_devices.virtio.devices.rng import Rng

    return Rng(src)


def _console_builder(mode: ConsoleOutputMode, path: str | None, *, take_stdin: bool) -> Builder:
    def build(cleanup: contextlib.ExitStack) -> VirtioDevice:
        from vm_devices.virtio.devices.console import Console

        input_fd: int | None = None
        match mode:
            case ConsoleOutputMode.TTY:
                output = os.dup(1)
                if take_stdin and os.isatty(0):
                    input_fd = os.dup(0)
                    cleanup.callback(os.close, input_fd)
            case ConsoleOutputMode.FILE:
                assert path is not None
                output = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            case _:
                output = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        cleanup.callback(os.close, output)
        return Console(output, input_fd)

    return build
