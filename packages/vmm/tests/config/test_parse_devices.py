"""Device options: --disk, --net, --rng and the others, CH's keys, defaults and errors."""

from __future__ import annotations

import re
from functools import partial

import pytest
from vmm.config import (
    ImageType,
    LockGranularity,
    OptionError,
    TokenBucketConfig,
    VhostMode,
    VirtQueueAffinity,
    VmParams,
    parse_vm_config,
)
from vmm.config.parse import parse_named_option

parse_balloon = partial(parse_named_option, "balloon")
parse_device = partial(parse_named_option, "device")
parse_disk = partial(parse_named_option, "disk")
parse_fs = partial(parse_named_option, "fs")
parse_generic_vhost_user = partial(parse_named_option, "generic-vhost-user")
parse_net = partial(parse_named_option, "net")
parse_pmem = partial(parse_named_option, "pmem")
parse_rate_limit_group = partial(parse_named_option, "rate-limit-group")
parse_rng = partial(parse_named_option, "rng")
parse_rtc = partial(parse_named_option, "rtc")
parse_user_device = partial(parse_named_option, "user-device")
parse_vdpa = partial(parse_named_option, "vdpa")
parse_vsock = partial(parse_named_option, "vsock")


def test_disk_defaults_are_chs() -> None:
    disk = parse_disk("path=/img")
    assert disk.path == "/img"
    assert (disk.readonly, disk.direct, disk.num_queues, disk.queue_size) == (False, False, 1, 128)
    assert disk.sparse
    assert disk.image_type is ImageType.UNKNOWN
    assert disk.lock_granularity is LockGranularity.BYTE_RANGE


def test_disk_keys() -> None:
    disk = parse_disk(
        "path=/img,readonly=on,direct=on,num_queues=4,queue_size=256,id=disk0,serial=SN1,"
        "image_type=qcow2,lock_granularity=full,sparse=off"
    )
    assert (disk.readonly, disk.direct, disk.num_queues, disk.queue_size) == (True, True, 4, 256)
    assert (disk.id, disk.serial) == ("disk0", "SN1")
    assert disk.image_type is ImageType.QCOW2
    assert disk.lock_granularity is LockGranularity.FULL
    assert not disk.sparse


def test_disk_rate_limits_make_token_buckets() -> None:
    disk = parse_disk("path=/img,bw_size=1000,bw_refill_time=10,ops_size=5")
    assert disk.rate_limiter_config is not None
    assert disk.rate_limiter_config.bandwidth == TokenBucketConfig(
        size=1000, one_time_burst=0, refill_time=10
    )
    assert disk.rate_limiter_config.ops is None  # a bucket needs a size and a refill time


def test_disk_queue_affinity() -> None:
    disk = parse_disk("path=/img,num_queues=2,queue_affinity=[0@[1],1@[2-3]]")
    assert disk.queue_affinity == (
        VirtQueueAffinity(queue_index=0, host_cpus=(1,)),
        VirtQueueAffinity(queue_index=1, host_cpus=(2, 3)),
    )


def test_several_disks_make_several_devices() -> None:
    config = parse_vm_config(VmParams(kernel="k", disks=("path=/a", "path=/b,readonly=on")))
    assert config.disks is not None
    assert [d.path for d in config.disks] == ["/a", "/b"]


def test_a_bad_disk_toggle_names_the_option() -> None:
    with pytest.raises(OptionError, match="--disk: invalid value 'maybe' for readonly"):
        parse_disk("path=/img,readonly=maybe")


def test_a_queue_size_beyond_u16_is_rejected() -> None:
    with pytest.raises(OptionError, match="queue_size"):
        parse_disk("path=/img,queue_size=65536")


def test_net_defaults_are_chs() -> None:
    net = parse_net("tap=tap0")
    assert (net.tap, net.num_queues, net.queue_size) == ("tap0", 2, 256)
    assert net.offload_tso
    assert net.offload_ufo
    assert net.offload_csum
    assert net.vhost_mode is VhostMode.CLIENT
    assert (net.ip, net.mask, net.mac) == (None, None, None)


def test_net_keys() -> None:
    net = parse_net(
        "tap=tap0,ip=192.168.249.1,mask=255.255.255.0,mac=12:34:56:78:90:AB,"
        "host_mac=12:34:56:78:90:ac,mtu=1500,num_queues=4,queue_size=512,id=net0"
    )
    assert (net.ip, net.mask) == ("192.168.249.1", "255.255.255.0")
    assert (net.mac, net.host_mac) == ("12:34:56:78:90:ab", "12:34:56:78:90:ac")
    assert (net.mtu, net.num_queues, net.queue_size, net.id) == (1500, 4, 512, "net0")


def test_net_takes_tap_fds() -> None:
    assert parse_net("fd=[3,4],num_queues=4").fds == (3, 4)


def test_a_bad_mac_names_the_option_and_key() -> None:
    with pytest.raises(OptionError, match="--net: invalid value '12:34' for mac"):
        parse_net("mac=12:34")


def test_a_bad_ip_names_the_option_and_key() -> None:
    with pytest.raises(OptionError, match=re.escape("--net: invalid value '300.1.1.1' for ip")):
        parse_net("ip=300.1.1.1")


def test_rng_takes_a_source() -> None:
    assert parse_rng("src=/dev/random").src == "/dev/random"
    assert parse_rng("iommu=on").src == "/dev/urandom"


def test_rtc_alone_enables_the_device() -> None:
    assert parse_rtc("").id is None
    assert parse_vm_config(VmParams(kernel="k", rtc="")).rtc is not None


def test_balloon_takes_a_size() -> None:
    balloon = parse_balloon("size=256M,deflate_on_oom=on")
    assert (balloon.size, balloon.deflate_on_oom) == (256 << 20, True)


def test_fs_needs_a_tag_and_a_socket() -> None:
    assert parse_fs("tag=myfs,socket=/s").num_queues == 1
    with pytest.raises(OptionError, match="--fs: tag missing"):
        parse_fs("socket=/s")
    with pytest.raises(OptionError, match="--fs: socket missing"):
        parse_fs("tag=myfs")
    with pytest.raises(OptionError, match="max tag length is 36"):
        parse_fs("tag=" + "t" * 37 + ",socket=/s")


def test_generic_vhost_user_takes_names_or_numbers() -> None:
    device = parse_generic_vhost_user("device_type=fs,socket=/s,queue_sizes=[1024,1024]")
    assert (device.device_type, device.queue_sizes) == (26, (1024, 1024))
    assert parse_generic_vhost_user("device_type=26,socket=/s,queue_sizes=[8]").device_type == 26


def test_generic_vhost_user_rejects_devices_vhost_user_cannot_do() -> None:
    with pytest.raises(OptionError, match="cannot be implemented via vhost-user"):
        parse_generic_vhost_user("device_type=watchdog,socket=/s,queue_sizes=[8]")
    with pytest.raises(OptionError, match="leading zeros or unknown string"):
        parse_generic_vhost_user("device_type=026,socket=/s,queue_sizes=[8]")


def test_pmem_needs_a_file() -> None:
    assert parse_pmem("file=/p,size=1G").size == 1 << 30
    with pytest.raises(OptionError, match="--pmem: file missing"):
        parse_pmem("size=1G")


def test_vfio_device_by_path_or_fd() -> None:
    assert parse_device("path=/sys/bus/pci/devices/0000:01:00.0").path is not None
    device = parse_device("fd=7,x_exclude_mmap_bars=[0,2]")
    assert (device.fd, device.x_exclude_mmap_bars) == (7, (0, 2))


def test_user_device_and_vdpa_need_their_path() -> None:
    with pytest.raises(OptionError, match="--user-device: socket missing"):
        parse_user_device("id=u0")
    with pytest.raises(OptionError, match="--vdpa: path missing"):
        parse_vdpa("num_queues=2")


def test_vsock_needs_a_cid_and_a_socket() -> None:
    assert parse_vsock("cid=3,socket=/v").cid == 3
    with pytest.raises(OptionError, match="--vsock: cid missing"):
        parse_vsock("socket=/v")
    with pytest.raises(OptionError, match="--vsock: socket missing"):
        parse_vsock("cid=3")


def test_rate_limit_groups_hold_a_limiter() -> None:
    group = parse_rate_limit_group("id=g0,bw_size=100,bw_refill_time=10")
    assert group.id == "g0"
    assert group.rate_limiter_config.bandwidth is not None
