"""Property tests: any VmConfig survives CH's JSON and CH's command-line syntax unchanged.

The strategies draw every shape the command line can express, with text that
includes quotes, commas, brackets, '=' and blanks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from vmm.config import (
    BalloonConfig,
    ConsoleConfig,
    ConsoleOutputMode,
    CoreScheduling,
    CpuAffinity,
    CpuFeatures,
    CpusConfig,
    CpuTopology,
    DebugConsoleConfig,
    DeviceConfig,
    DiskConfig,
    FsConfig,
    GenericVhostUserConfig,
    HotplugMethod,
    ImageType,
    LandlockConfig,
    LockGranularity,
    MemoryConfig,
    MemoryZoneConfig,
    NetConfig,
    NumaConfig,
    NumaDistance,
    PayloadConfig,
    PciSegmentConfig,
    PlatformConfig,
    PmemConfig,
    RateLimiterConfig,
    RateLimiterGroupConfig,
    RngConfig,
    RtcConfig,
    SerialConfig,
    TokenBucketConfig,
    TpmConfig,
    UserDeviceConfig,
    VdpaConfig,
    VhostMode,
    VirtQueueAffinity,
    VmConfig,
    VsockConfig,
    parse_vm_config,
    to_vm_params,
)
from vmm.config.values import dequote, format_size, parse_size, quote, split_commas

U8 = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFF_FFFF)
U64 = st.integers(0, (1 << 64) - 1)
SMALL = st.integers(0, 64)
# Any text, including quotes, commas, brackets, '=' and surrounding blanks.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
NAMES = st.text("abcdefghij0123456789_-./", min_size=1, max_size=8)
SIZES = st.one_of(
    U64,
    st.integers(0, (1 << 34) - 1).map(lambda n: n << 30),
    st.integers(0, 4096).map(lambda n: n << 20),
)
INT_LISTS = st.lists(st.integers(0, 300), min_size=1, max_size=6).map(tuple)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def optional_tuple(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return optional(st.lists(strategy, min_size=1, max_size=3).map(tuple))


def pci(**fields: Any) -> dict[str, Any]:
    return {
        "id": optional(TEXT),
        "iommu": st.booleans(),
        "pci_segment": U16,
        "pci_device_id": optional(U8),
        **fields,
    }


buckets = st.builds(
    TokenBucketConfig,
    size=st.integers(1, 1 << 40),
    one_time_burst=U64,
    refill_time=st.integers(1, 1 << 40),
)
limiters = st.builds(RateLimiterConfig, bandwidth=optional(buckets), ops=optional(buckets)).filter(
    lambda limiter: limiter.bandwidth is not None or limiter.ops is not None
)
affinity_cpus = st.lists(st.integers(0, 100), min_size=1, max_size=4).map(tuple)


@st.composite
def disks(draw: st.DrawFn) -> DiskConfig:
    socket = draw(optional(TEXT))
    image = ImageType.UNKNOWN if socket is not None else draw(st.sampled_from(ImageType))
    return draw(
        st.builds(
            DiskConfig,
            **pci(
                path=optional(TEXT),
                readonly=st.booleans(),
                direct=st.booleans(),
                num_queues=SMALL,
                queue_size=U16,
                vhost_user=st.booleans(),
                vhost_socket=st.just(socket),
                rate_limit_group=optional(TEXT),
                rate_limiter_config=optional(limiters),
                disable_io_uring=st.booleans(),
                disable_aio=st.booleans(),
                serial=optional(TEXT),
                queue_affinity=optional_tuple(
                    st.builds(VirtQueueAffinity, queue_index=U16, host_cpus=affinity_cpus)
                ),
                backing_files=st.booleans(),
                sparse=st.booleans(),
                image_type=st.just(image),
                lock_granularity=st.sampled_from(LockGranularity),
            ),
        )
    )


ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
nets = st.builds(
    NetConfig,
    **pci(
        tap=optional(TEXT),
        ip=optional(ips),
        mask=optional(ips),
        mac=optional(macs),
        host_mac=optional(macs),
        mtu=optional(U16),
        num_queues=SMALL,
        queue_size=U16,
        vhost_user=st.booleans(),
        vhost_socket=optional(TEXT),
        vhost_mode=st.sampled_from(VhostMode),
        fds=optional(st.lists(st.integers(0, 1000), min_size=1, max_size=4).map(tuple)),
        rate_limiter_config=optional(limiters),
        offload_tso=st.booleans(),
        offload_ufo=st.booleans(),
        offload_csum=st.booleans(),
    ),
)


@st.composite
def console_fields(draw: st.DrawFn, *, socket: bool = True) -> dict[str, Any]:
    modes = [m for m in ConsoleOutputMode if socket or m is not ConsoleOutputMode.SOCKET]
    mode = draw(st.sampled_from(modes))
    fields: dict[str, Any] = {"mode": mode}
    if mode is ConsoleOutputMode.FILE:
        fields["file"] = draw(TEXT)
    if mode is ConsoleOutputMode.SOCKET:
        fields["socket"] = draw(TEXT)
    return fields


@st.composite
def serials(draw: st.DrawFn) -> SerialConfig:
    return SerialConfig(**draw(console_fields()))


@st.composite
def consoles(draw: st.DrawFn) -> ConsoleConfig:
    common = draw(st.fixed_dictionaries(pci()))
    return ConsoleConfig(**draw(console_fields()), **common)


@st.composite
def debug_consoles(draw: st.DrawFn) -> DebugConsoleConfig:
    return DebugConsoleConfig(**draw(console_fields(socket=False)), iobase=draw(optional(U16)))


cpus = st.builds(
    CpusConfig,
    boot_vcpus=U32,
    max_vcpus=U32,
    topology=optional(
        st.builds(
            CpuTopology, threads_per_core=U16, cores_per_die=U16, dies_per_package=U16, packages=U16
        )
    ),
    kvm_hyperv=st.booleans(),
    max_phys_bits=U8,
    affinity=optional_tuple(st.builds(CpuAffinity, vcpu=U32, host_cpus=affinity_cpus)),
    features=st.builds(CpuFeatures, amx=st.booleans()),
    nested=st.booleans(),
    core_scheduling=st.sampled_from(CoreScheduling),
)


@st.composite
def memories(draw: st.DrawFn) -> MemoryConfig:
    mergeable = draw(st.booleans())
    zones = draw(
        optional_tuple(
            st.builds(
                MemoryZoneConfig,
                id=TEXT,
                size=SIZES,
                file=optional(TEXT),
                shared=st.booleans(),
                hugepages=st.booleans(),
                hugepage_size=optional(SIZES),
                host_numa_node=optional(U32),
                hotplug_size=optional(SIZES),
                hotplugged_size=optional(SIZES),
                prefault=st.booleans(),
                reserve=st.booleans(),
                mergeable=st.booleans(),
            )
        )
    )
    return draw(
        st.builds(
            MemoryConfig,
            size=SIZES,
            mergeable=st.just(mergeable),
            hotplug_method=st.sampled_from(HotplugMethod),
            hotplug_size=optional(SIZES),
            hotplugged_size=optional(SIZES),
            shared=st.booleans(),
            hugepages=st.booleans(),
            hugepage_size=optional(SIZES),
            prefault=st.booleans(),
            reserve=st.booleans(),
            zones=st.just(zones),
            thp=st.booleans(),
        )
    )


payloads = st.one_of(
    st.builds(
        PayloadConfig,
        kernel=TEXT.filter(bool),
        firmware=st.none(),
        cmdline=optional(TEXT),
        initramfs=optional(TEXT),
    ),
    st.builds(
        PayloadConfig,
        firmware=TEXT.filter(bool),
        kernel=optional(TEXT),
        cmdline=optional(TEXT),
        initramfs=optional(TEXT),
    ),
)

platforms = st.builds(
    PlatformConfig,
    num_pci_segments=U16,
    iommu_segments=optional(st.lists(U16, min_size=1, max_size=3).map(tuple)),
    iommu_address_width_bits=U8,
    system_serial_number=optional(TEXT),
    system_uuid=optional(TEXT),
    oem_strings=optional(st.lists(TEXT, min_size=1, max_size=3).map(tuple)),
    system_manufacturer=optional(TEXT),
    chassis_asset_tag=optional(TEXT),
    iommufd=st.booleans(),
    iommufd_fd=optional(st.integers(0, 1 << 20)),
    vfio_p2p_dma=st.booleans(),
)


@st.composite
def numa_nodes(draw: st.DrawFn) -> NumaConfig:
    device_id = draw(optional(TEXT))
    generic_initiator = device_id is not None
    return NumaConfig(
        guest_numa_id=draw(U32),
        cpus=None
        if generic_initiator
        else draw(optional(st.lists(st.integers(0, 64), min_size=1, max_size=4).map(tuple))),
        distances=draw(optional_tuple(st.builds(NumaDistance, destination=U32, distance=U8))),
        memory_zones=None
        if generic_initiator
        else draw(optional(st.lists(TEXT, min_size=1, max_size=3).map(tuple))),
        pci_segments=draw(optional(st.lists(U16, min_size=1, max_size=3).map(tuple))),
        device_id=device_id,
    )


vhost_device_types = st.integers(1, 0xFFFF_FFFF).filter(lambda n: n not in (23, 35))


def vm_configs() -> st.SearchStrategy[VmConfig]:
    """Every VmConfig the command line can express (iommu is computed, never given)."""
    return st.builds(
        VmConfig,
        cpus=cpus,
        memory=memories(),
        payload=optional(payloads),
        rate_limit_groups=optional_tuple(
            st.builds(RateLimiterGroupConfig, id=TEXT, rate_limiter_config=limiters)
        ),
        disks=optional_tuple(disks()),
        net=optional_tuple(nets),
        rng=st.builds(RngConfig, **pci(src=TEXT)),
        balloon=optional(
            st.builds(
                BalloonConfig,
                **pci(size=U64, deflate_on_oom=st.booleans(), free_page_reporting=st.booleans()),
            )
        ),
        fs=optional_tuple(
            st.builds(
                FsConfig,
                **pci(
                    iommu=st.just(False),
                    tag=st.text("abc", max_size=36),
                    socket=TEXT,
                    num_queues=SMALL,
                    queue_size=U16,
                ),
            )
        ),
        generic_vhost_user=optional_tuple(
            st.builds(
                GenericVhostUserConfig,
                **pci(
                    iommu=st.just(False),
                    socket=TEXT,
                    queue_sizes=st.lists(U16, min_size=1, max_size=3).map(tuple),
                    device_type=vhost_device_types,
                ),
            )
        ),
        pmem=optional_tuple(
            st.builds(
                PmemConfig, **pci(file=TEXT, size=optional(SIZES), discard_writes=st.booleans())
            )
        ),
        serial=serials(),
        console=consoles(),
        debug_console=debug_consoles(),
        devices=optional_tuple(
            st.builds(
                DeviceConfig,
                **pci(
                    path=optional(TEXT),
                    fd=optional(st.integers(-(1 << 31), (1 << 31) - 1)),
                    x_nv_gpudirect_clique=optional(U8),
                    x_exclude_mmap_bars=st.lists(st.integers(0, 10), max_size=3).map(tuple),
                ),
            )
        ),
        user_devices=optional_tuple(
            st.builds(UserDeviceConfig, **pci(iommu=st.just(False), socket=TEXT))
        ),
        vdpa=optional_tuple(st.builds(VdpaConfig, **pci(path=TEXT, num_queues=SMALL))),
        vsock=optional(st.builds(VsockConfig, **pci(cid=U32, socket=TEXT))),
        pvpanic=st.booleans(),
        numa=optional_tuple(numa_nodes()),
        watchdog=st.booleans(),
        rtc=optional(st.builds(RtcConfig, **pci())),
        pci_segments=optional_tuple(
            st.builds(
                PciSegmentConfig,
                pci_segment=U16,
                mmio32_aperture_weight=U32,
                mmio64_aperture_weight=U32,
            )
        ),
        platform=optional(platforms),
        tpm=optional(st.builds(TpmConfig, socket=TEXT)),
        landlock_enable=st.booleans(),
        landlock_rules=optional_tuple(
            st.builds(LandlockConfig, path=TEXT, access=st.sampled_from(["r", "w", "rw"]))
        ),
    )


def _without_fds(config: VmConfig) -> VmConfig:
    """JSON cannot carry fds (CH turns them into -1): compare configs without them."""
    nets = tuple(dataclasses.replace(net, fds=None) for net in config.net or ()) or None
    devices = tuple(dataclasses.replace(d, fd=None) for d in config.devices or ()) or None
    platform = config.platform and dataclasses.replace(config.platform, iommufd_fd=None)
    return dataclasses.replace(config, net=nets, devices=devices, platform=platform)


@settings(max_examples=80, deadline=None)
@given(vm_configs())
def test_json_round_trip_gives_the_same_config(config: VmConfig) -> None:
    config = _without_fds(config)
    assert VmConfig.from_json(config.to_json()) == config


@settings(max_examples=25, deadline=None)
@given(vm_configs())
def test_json_turns_every_fd_into_minus_one(config: VmConfig) -> None:
    decoded = VmConfig.from_json(config.to_json())
    for net in decoded.net or ():
        assert net.fds is None or set(net.fds) == {-1}
    for device in decoded.devices or ():
        assert device.fd in (None, -1)
    assert decoded.platform is None or decoded.platform.iommufd_fd in (None, -1)


@settings(max_examples=80, deadline=None)
@given(vm_configs())
def test_option_syntax_round_trip_gives_the_same_config(config: VmConfig) -> None:
    assert parse_vm_config(to_vm_params(config)) == config


@given(TEXT)
def test_a_quoted_value_comes_back_whole(text: str) -> None:
    (item,) = split_commas(quote(text))
    assert dequote(item) == text


@given(SIZES)
def test_a_formatted_size_parses_back(size: int) -> None:
    assert parse_size(format_size(size)) == size
