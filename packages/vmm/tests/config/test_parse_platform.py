"""--platform, --pci-segment, --numa, --tpm, --landlock-rules; --api-socket, --event-monitor."""

from __future__ import annotations

from functools import partial

import pytest
from vmm.config import ApiSocketConfig, EventMonitorConfig, NumaDistance, OptionError
from vmm.config.parse import parse_named_option
from vmm.config.vmm_options import parse_api_socket, parse_event_monitor

parse_landlock_rule = partial(parse_named_option, "landlock-rules")
parse_numa = partial(parse_named_option, "numa")
parse_pci_segment = partial(parse_named_option, "pci-segment")
parse_platform = partial(parse_named_option, "platform")
parse_tpm = partial(parse_named_option, "tpm")


def test_platform_defaults_and_keys() -> None:
    platform = parse_platform("num_pci_segments=2,iommu_segments=[1],oem_strings=[a,b]")
    assert (platform.num_pci_segments, platform.iommu_segments) == (2, (1,))
    assert platform.oem_strings == ("a", "b")
    assert platform.iommu_address_width_bits == 64
    assert platform.vfio_p2p_dma


def test_platform_accepts_chs_deprecated_serial_number_and_uuid() -> None:
    platform = parse_platform("serial_number=SN,uuid=1234")
    assert (platform.system_serial_number, platform.system_uuid) == ("SN", "1234")


def test_an_iommufd_fd_turns_iommufd_on() -> None:
    assert parse_platform("iommufd_fd=9").iommufd
    assert not parse_platform("iommufd_fd=9,iommufd=off").iommufd


def test_pci_segment_weights_default_to_one() -> None:
    segment = parse_pci_segment("pci_segment=1")
    assert (segment.mmio32_aperture_weight, segment.mmio64_aperture_weight) == (1, 1)


def test_numa_nodes() -> None:
    node = parse_numa("guest_numa_id=1,cpus=[2-3],distances=[0@20,1@10],memory_zones=[z1]")
    assert node.cpus == (2, 3)
    assert node.memory_zones == ("z1",)
    assert node.distances == (
        NumaDistance(destination=0, distance=20),
        NumaDistance(destination=1, distance=10),
    )


def test_a_numa_node_needs_an_id() -> None:
    with pytest.raises(OptionError, match="guest_numa_id is required"):
        parse_numa("cpus=[0]")


def test_a_generic_initiator_has_no_cpus() -> None:
    with pytest.raises(OptionError, match="cannot be used with cpus or memory zones"):
        parse_numa("guest_numa_id=1,device_id=d0,cpus=[0]")


def test_tpm_needs_a_socket() -> None:
    assert parse_tpm("socket=/t").socket == "/t"
    with pytest.raises(OptionError, match="--tpm: socket missing"):
        parse_tpm("")


def test_landlock_rules_need_path_and_access() -> None:
    assert parse_landlock_rule("path=/tmp,access=rw").access == "rw"
    with pytest.raises(OptionError, match="path/access field missing"):
        parse_landlock_rule("path=/tmp")


def test_api_socket_by_path_by_fd_or_bare_path() -> None:
    assert parse_api_socket("path=/run/ch.sock") == ApiSocketConfig(path="/run/ch.sock")
    assert parse_api_socket("fd=3") == ApiSocketConfig(fd=3)
    assert parse_api_socket("/run/ch.sock") == ApiSocketConfig(path="/run/ch.sock")


def test_event_monitor_needs_a_path_or_fd() -> None:
    assert parse_event_monitor("path=/tmp/ev") == EventMonitorConfig(path="/tmp/ev")
    assert parse_event_monitor("fd=4") == EventMonitorConfig(fd=4)
    with pytest.raises(OptionError, match="--event-monitor: path or fd required"):
        parse_event_monitor("")
    with pytest.raises(OptionError, match="--event-monitor: invalid value 'x' for fd"):
        parse_event_monitor("fd=x")
