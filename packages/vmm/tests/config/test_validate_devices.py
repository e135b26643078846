"""validate(): disks, net, PCI placement, ids and the other devices, as CH checks them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vmm.config import ValidationError, VmConfig, VmParams, parse_vm_config, validate


def _error(params: VmParams, *, check_files: bool = True) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate(parse_vm_config(params), check_files=check_files)
    return caught.value


def _valid(params: VmParams) -> VmConfig:
    return validate(parse_vm_config(params), check_files=False)


def test_a_disk_image_must_exist(elf_kernel: str, tmp_path: Path) -> None:
    error = _error(VmParams(kernel=elf_kernel, disks=(f"path={tmp_path}/nope.img",)))
    assert error.path == "disks[0].path"
    assert error.for_option().startswith("--disk: cannot open")


def test_a_real_disk_image_is_valid(elf_kernel: str, disk_image: str) -> None:
    validate(parse_vm_config(VmParams(kernel=elf_kernel, disks=(f"path={disk_image}",))))


READ_ONLY_FILE = "/sys/kernel/uevent_seqnum"  # sysfs refuses writes even to root


@pytest.mark.skipif(not os.path.exists(READ_ONLY_FILE), reason="needs sysfs")
def test_an_image_that_cannot_be_written_needs_readonly_on(elf_kernel: str) -> None:
    error = _error(VmParams(kernel=elf_kernel, disks=(f"path={READ_ONLY_FILE}",)))
    assert "Permission denied" in error.message
    config = parse_vm_config(
        VmParams(kernel=elf_kernel, disks=(f"path={READ_ONLY_FILE},readonly=on",))
    )
    validate(config)


def test_a_disk_needs_a_path() -> None:
    assert _error(VmParams(kernel="k", disks=("id=d0",)), check_files=False).path == "disks[0].path"


def test_disk_queues_may_not_exceed_boot_vcpus() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,num_queues=2",)), check_files=False)
    assert error.message == "Queue count (2) must not exceed boot vCPUs (1)"
    _valid(VmParams(kernel="k", cpus="boot=2", disks=("path=/a,num_queues=2",)))


def test_disk_queue_size_is_a_power_of_two() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,queue_size=100",)), check_files=False)
    assert error.message == "Queue size must be a power of 2 no greater than 32768: 100"


def test_a_block_queue_needs_more_than_two_entries() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,queue_size=2",)), check_files=False)
    assert error.message == "Block queue size must be greater than 2: 2"


def test_a_disk_serial_is_at_most_20_bytes() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,serial=" + "s" * 21,)), check_files=False)
    assert error.message == "Block device serial length (21) exceeds maximum allowed length (20)"


def test_vhost_user_disks_need_shared_memory_and_a_socket() -> None:
    error = _error(VmParams(kernel="k", disks=("vhost_user=on,socket=/s",)), check_files=False)
    assert "requires using shared memory" in error.message
    error = _error(
        VmParams(kernel="k", memory="size=1G,shared=on", disks=("vhost_user=on",)),
        check_files=False,
    )
    assert error.message == "No socket provided when using vhost-user"
    _valid(VmParams(kernel="k", memory="size=1G,shared=on", disks=("vhost_user=on,socket=/s",)))


def test_a_disk_rate_limit_group_must_exist() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,rate_limit_group=g",)), check_files=False)
    assert error.message == "Invalid rate-limiter group"
    _valid(
        VmParams(
            kernel="k",
            rate_limit_groups=("id=g,bw_size=10,bw_refill_time=10",),
            disks=("path=/a,rate_limit_group=g",),
        )
    )


def test_ids_are_unique_across_devices() -> None:
    error = _error(
        VmParams(kernel="k", disks=("path=/a,id=dev0",), net=("tap=t0,id=dev0",)), check_files=False
    )
    assert (error.path, error.message) == ("net[0].id", "Identifier dev0 is not unique")


def test_ids_may_not_start_with_two_underscores() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,id=__x",)), check_files=False)
    assert error.message == "Identifier __x is not valid"


def test_a_pci_slot_must_exist_and_slot_zero_is_the_host_bridge() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,pci_device_id=32",)), check_files=False)
    assert error.message == "Given PCI device ID (32) is out of the supported range of 0..32"
    error = _error(VmParams(kernel="k", disks=("path=/a,pci_device_id=0",)), check_files=False)
    assert error.message == "Given PCI device ID (0) is reserved"


def test_a_pci_segment_must_exist() -> None:
    error = _error(VmParams(kernel="k", disks=("path=/a,pci_segment=1",)), check_files=False)
    assert error.message == "Invalid PCI segment id: 1"
    _valid(VmParams(kernel="k", platform="num_pci_segments=2", disks=("path=/a,pci_segment=1",)))


def test_a_device_behind_the_iommu_turns_the_iommu_on() -> None:
    assert _valid(VmParams(kernel="k", disks=("path=/a,iommu=on",))).iommu
    assert not _valid(VmParams(kernel="k", disks=("path=/a",))).iommu


def test_net_needs_at_least_two_queues_in_pairs() -> None:
    error = _error(VmParams(kernel="k", net=("tap=t0,num_queues=1",)), check_files=False)
    assert error.message == "Number of queues (1) to virtio_net should be higher than 2"
    error = _error(VmParams(kernel="k", cpus="boot=2", net=("num_queues=3",)), check_files=False)
    assert "must be even" in error.message


def test_net_queue_pairs_may_not_exceed_boot_vcpus() -> None:
    error = _error(VmParams(kernel="k", net=("tap=t0,num_queues=4",)), check_files=False)
    assert error.message == "Queue count (4) must not exceed boot vCPUs (1)"


def test_net_fds_give_one_queue_pair_each() -> None:
    error = _error(VmParams(kernel="k", net=("fd=[3,4]",)), check_files=False)
    assert (
        error.message == "Number of queues (2) to virtio_net does not match the number of FDs (4)"
    )
    error = _error(VmParams(kernel="k", net=("fd=[2]",)), check_files=False)
    assert error.message == "Reserved fd number (<= 2): 2"


def test_net_mtu_is_at_least_1280() -> None:
    error = _error(VmParams(kernel="k", net=("tap=t0,mtu=1000",)), check_files=False)
    assert (
        error.message == "Provided MTU 1000 is lower than 1280 (expected by VIRTIO specification)"
    )


def test_net_offloads_need_checksum_offload() -> None:
    error = _error(VmParams(kernel="k", net=("tap=t0,offload_csum=off",)), check_files=False)
    assert error.message == '"offload_tso" and "offload_ufo" depend on "offload_csum"'


def test_net_ip_and_mask_come_together() -> None:
    error = _error(VmParams(kernel="k", net=("ip=10.0.0.1",)), check_files=False)
    assert error.message == "IP provided without a mask"
    error = _error(VmParams(kernel="k", net=("mask=255.0.0.0",)), check_files=False)
    assert error.message == "Mask provided without an IP"


def test_net_mask_must_be_a_netmask() -> None:
    error = _error(VmParams(kernel="k", net=("ip=10.0.0.1,mask=255.0.255.0",)), check_files=False)
    assert error.path == "net[0].mask"


def test_net_ip_and_mask_from_json_must_be_addresses() -> None:
    # Found by fuzz_config_json: is_netmask raised ValueError from ipaddress.
    config = VmConfig.from_json(
        {"payload": {"kernel": "k"}, "net": [{"ip": "10.0.0.1", "mask": "not an address"}]}
    )
    with pytest.raises(ValidationError) as caught:
        validate(config, check_files=False)
    assert caught.value.path == "net[0].mask"
    assert caught.value.message == "'not an address': expected an IPv4 or IPv6 address"


@pytest.mark.parametrize("field", ["payload.kernel", "disks[0].path", "serial.file"])
def test_a_path_with_a_nul_byte_is_refused(elf_kernel: str, field: str) -> None:
    # os.stat raised ValueError ("embedded null byte"); JSON paths may hold "\u0000".
    config = {
        "payload.kernel": {"payload": {"kernel": "/k\0"}},
        "disks[0].path": {"payload": {"kernel": elf_kernel}, "disks": [{"path": "/d\0"}]},
        "serial.file": {
            "payload": {"kernel": elf_kernel},
            "serial": {"mode": "File", "file": "/s\0"},
        },
    }[field]
    with pytest.raises(ValidationError) as caught:
        validate(VmConfig.from_json(config))
    assert caught.value.path == field
    assert caught.value.message.endswith("contains a NUL byte")


def test_the_rng_source_must_open(elf_kernel: str, tmp_path: Path) -> None:
    error = _error(VmParams(kernel=elf_kernel, rng=f"src={tmp_path}/none"))
    assert error.option == "--rng"


def test_special_vsock_cids_are_refused() -> None:
    error = _error(VmParams(kernel="k", vsock="cid=2,socket=/v"), check_files=False)
    assert error.message == "2 is a special VSOCK CID"


def test_a_balloon_must_be_smaller_than_ram() -> None:
    error = _error(VmParams(kernel="k", balloon="size=1G"), check_files=False)
    assert error.message == f"Balloon size ({1 << 30}) greater than RAM ({512 << 20})"


def test_vhost_user_fs_needs_shared_memory() -> None:
    error = _error(VmParams(kernel="k", fs=("tag=t,socket=/s",)), check_files=False)
    assert error.path == "fs[0]"
    _valid(VmParams(kernel="k", memory="size=1G,shared=on", fs=("tag=t,socket=/s",)))


def test_vfio_devices_need_exactly_one_of_path_and_fd() -> None:
    error = _error(VmParams(kernel="k", devices=("id=v0",)), check_files=False)
    assert error.message == "VFIO device config must specify `path=` or `fd=`"
    error = _error(VmParams(kernel="k", devices=("fd=5",)), check_files=False)
    assert error.message == "VFIO device `fd=` requires platform `iommufd_fd=<fd>`"


def test_duplicate_vfio_paths_are_refused() -> None:
    error = _error(VmParams(kernel="k", devices=("path=/sys/d", "path=/sys/d")), check_files=False)
    assert error.message == "Duplicated device path: /sys/d"


def test_numa_zones_belong_to_one_node() -> None:
    error = _error(
        VmParams(
            kernel="k",
            memory="size=0",
            memory_zones=("id=z0,size=1G",),
            numa=("guest_numa_id=0,memory_zones=[z0]", "guest_numa_id=1,memory_zones=[z0]"),
        ),
        check_files=False,
    )
    assert error.message == "Memory zone: z0 belongs to multiple NUMA nodes: 0 and 1"


def test_landlock_rule_paths_must_exist(tmp_path: Path) -> None:
    error = _error(
        VmParams(kernel="k", landlock_rules=(f"path={tmp_path}/x,access=rw",)), check_files=False
    )
    assert error.option == "--landlock-rules"


@pytest.mark.parametrize("field", ["kernel", "initramfs", "disk"])
def test_a_fifo_is_refused_without_blocking(elf_kernel: str, tmp_path: Path, field: str) -> None:
    """Opening a FIFO would block until a writer comes: the type is checked first."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    params = {
        "kernel": VmParams(kernel=str(fifo)),
        "initramfs": VmParams(kernel=elf_kernel, initramfs=str(fifo)),
        "disk": VmParams(kernel=elf_kernel, disks=(f"path={fifo}",)),
    }[field]
    error = _error(params)
    assert "is a FIFO or socket, not a file or a device" in error.message


@pytest.mark.parametrize("option", ["serial", "console"])
def test_a_console_file_that_is_a_fifo_is_refused(
    elf_kernel: str, tmp_path: Path, option: str
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    console = f"file={fifo}"
    params = (
        VmParams(kernel=elf_kernel, serial=console)
        if option == "serial"
        else VmParams(kernel=elf_kernel, console=console)
    )
    error = _error(params)
    assert error.for_option() == f"--{option}: '{fifo}' is a FIFO or socket, not a file"
