"""The virtio devices a config asks for, in CH's order and under CH's ids (no KVM needed)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from vm_devices.virtio.devices.block import Block
from vmm.config import VmParams, parse_vm_config
from vmm.virtio_devices import device_specs


def _ids(params: VmParams) -> list[str]:
    return [spec.id for spec in device_specs(parse_vm_config(params))]


def test_devices_take_chs_default_ids_in_chs_order() -> None:
    params = VmParams(kernel="k", disks=("path=/a", "path=/b"), net=("tap=t0",), console="tty")
    assert _ids(params) == ["_disk0", "_disk1", "_net0", "_rng", "_console"]


def test_an_id_given_names_the_device() -> None:
    params = VmParams(
        kernel="k",
        disks=("path=/a,id=root",),
        net=("tap=t0,id=uplink",),
        rng="src=/dev/urandom,id=entropy",
        console="tty,id=hvc",
    )
    assert _ids(params) == ["root", "uplink", "entropy", "hvc"]


def test_console_off_builds_no_console() -> None:
    assert _ids(VmParams(kernel="k", console="off")) == ["_rng"]


def test_pci_device_id_asks_for_a_slot() -> None:
    config = parse_vm_config(
        VmParams(kernel="k", disks=("path=/a,pci_device_id=7",), rng="src=/r,pci_device_id=9")
    )
    slots = {spec.id: spec.pci_slot for spec in device_specs(config)}
    assert slots == {"_disk0": 7, "_rng": 9, "_console": None}


def test_disk_options_reach_the_block_device(tmp_path: Path) -> None:
    image = tmp_path / "thick.img"
    with image.open("wb") as file:
        file.truncate(1 << 20)
    config = parse_vm_config(
        VmParams(kernel="k", disks=(f"path={image},sparse=off,readonly=off,serial=s1",))
    )
    (disk_spec,) = [spec for spec in device_specs(config) if spec.id == "_disk0"]
    with contextlib.ExitStack() as stack:
        device = disk_spec.build(stack)
        assert isinstance(device, Block)
        try:
            assert not device.disk.sparse
            assert device.serial.startswith(b"s1")
            assert image.stat().st_blocks * 512 >= 1 << 20  # preallocated: sparse=off
        finally:
            device.shutdown()
