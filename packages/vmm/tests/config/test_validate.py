"""validate(): payload files, consoles, vCPUs, memory; errors carry path and option."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from vmm.config import (
    ConsoleConfig,
    ConsoleOutputMode,
    PayloadConfig,
    ValidationError,
    VmConfig,
    VmParams,
    parse_vm_config,
    validate,
)


def _config(kernel: str, **options: object) -> VmConfig:
    return parse_vm_config(VmParams(kernel=kernel, **options))  # type: ignore[arg-type]


def _error(config: VmConfig, *, check_files: bool = True) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate(config, check_files=check_files)
    return caught.value


def test_a_default_config_with_a_kernel_is_valid(elf_kernel: str) -> None:
    config = _config(elf_kernel)
    assert validate(config) == config


def test_a_bzimage_is_a_kernel(bzimage_kernel: str) -> None:
    validate(_config(bzimage_kernel))


def test_no_payload_is_an_error() -> None:
    error = _error(VmConfig())
    assert error.message == "No bootitem provided: neither firmware nor kernel"
    assert error.option == "--kernel"


def test_a_kernel_and_a_firmware_together_are_an_error(elf_kernel: str) -> None:
    config = _config(elf_kernel, firmware=elf_kernel)
    assert _error(config).for_option() == (
        "--firmware: Specifying a kernel is not supported when a firmware is provided"
    )


def test_a_firmware_drops_cmdline_and_initramfs_with_a_warning(
    elf_kernel: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = VmConfig(payload=PayloadConfig(firmware=elf_kernel, cmdline="quiet", initramfs="x"))
    with caplog.at_level(logging.WARNING):
        checked = validate(config)
    assert checked.payload == PayloadConfig(firmware=elf_kernel)
    assert "Ignoring cmdline parameter" in caplog.text


def test_a_missing_kernel_file_is_an_error(tmp_path: Path) -> None:
    error = _error(_config(str(tmp_path / "nope")))
    assert (
        error.for_option()
        == f"--kernel: cannot open '{tmp_path / 'nope'}': No such file or directory"
    )


def test_a_file_that_is_not_a_kernel_is_an_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 200)
    error = _error(_config(str(text)))
    assert error.path == "payload.kernel"
    assert "is not a Linux kernel: neither an ELF vmlinux nor a bzImage" in error.message


def test_a_directory_is_not_a_kernel(tmp_path: Path) -> None:
    assert _error(_config(str(tmp_path))).option == "--kernel"


def test_a_kernel_path_through_a_file_is_an_error(elf_kernel: str) -> None:
    error = _error(_config(f"{elf_kernel}/vmlinux"))
    assert error.message.endswith("Not a directory")


def test_a_missing_initramfs_is_an_error(elf_kernel: str, tmp_path: Path) -> None:
    error = _error(_config(elf_kernel, initramfs=str(tmp_path / "initrd")))
    assert error.option == "--initramfs"


def test_file_checks_can_be_skipped() -> None:
    validate(_config("/no/such/kernel"), check_files=False)


def test_a_nul_in_the_command_line_is_an_error(elf_kernel: str) -> None:
    assert _error(_config(elf_kernel, cmdline="a\0b")).option == "--cmdline"


@pytest.mark.parametrize("mode", ["pty", "socket=/tmp/s"])
def test_console_pty_and_socket_are_not_available_yet(elf_kernel: str, mode: str) -> None:
    error = _error(_config(elf_kernel, console=mode))
    assert error.option == "--console"
    assert "not available yet" in error.message


@pytest.mark.parametrize("mode", ["tty", "null", "off"])
def test_the_virtio_console_modes_validate(elf_kernel: str, mode: str) -> None:
    validate(_config(elf_kernel, console=mode))


@pytest.mark.parametrize("mode", ["pty", "socket=/tmp/s"])
def test_serial_pty_and_socket_are_not_available_yet(elf_kernel: str, mode: str) -> None:
    error = _error(_config(elf_kernel, serial=mode))
    assert error.option == "--serial"
    assert "not available yet" in error.message


@pytest.mark.parametrize("mode", ["off", "null", "tty", "file=/tmp/serial.log"])
def test_serial_off_null_tty_and_file_are_available(elf_kernel: str, mode: str) -> None:
    validate(_config(elf_kernel, serial=mode))


def test_the_debug_console_is_not_available_yet(elf_kernel: str) -> None:
    assert _error(_config(elf_kernel, debug_console="tty")).option == "--debug-console"


def test_a_file_console_from_json_needs_a_path(elf_kernel: str) -> None:
    config = VmConfig.from_json(
        {"payload": {"kernel": elf_kernel}, "serial": {"mode": "File"}, "console": {"mode": "Off"}}
    )
    assert _error(config).path == "serial.file"


def test_boot_vcpus_must_be_at_least_one(elf_kernel: str) -> None:
    assert _error(_config(elf_kernel, cpus="boot=0")).path == "cpus.boot_vcpus"


def test_max_vcpus_below_boot_vcpus_is_an_error(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, cpus="boot=4,max=2"))
    assert error.for_option() == "--cpus: Max CPUs (2) lower than boot CPUs (4)"


def test_too_many_vcpus_is_an_error(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, cpus="boot=1,max=9000"))
    assert error.message == "Too many CPUs: specified 9000 but 8192 is the limit"


def test_the_topology_product_must_be_max_vcpus(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, cpus="boot=2,max=4,topology=1:2:1:1"))
    assert error.path == "cpus.topology"
    assert "does not match maximum vCPUs (4)" in error.message
    validate(_config(elf_kernel, cpus="boot=2,max=4,topology=1:2:1:2"))


def test_no_topology_part_may_be_zero(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, cpus="boot=1,topology=1:0:1:1"))
    assert error.message == "No part of the CPU topology can be zero"


def test_at_most_two_threads_per_core(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, cpus="boot=4,topology=4:1:1:1"))
    assert error.message == "CPU topology supports at most 2 threads per core"


def test_affinity_for_a_missing_vcpu_is_an_error(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, cpus="boot=2,affinity=[2@[0]]"))
    assert error.path == "cpus.affinity[0].vcpu"


def test_too_little_memory_is_an_error(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, memory="size=32M"))
    assert error.for_option() == (
        "--memory: 32 MiB of guest memory is too little: a Linux guest needs at least 64 MiB"
    )
    validate(_config(elf_kernel, memory="size=64M"))


def test_memory_must_be_whole_pages(elf_kernel: str) -> None:
    assert "multiple of 4 KiB" in _error(_config(elf_kernel, memory="size=134217729")).message


def test_memory_zones_count_towards_the_minimum(elf_kernel: str) -> None:
    validate(_config(elf_kernel, memory="size=0", memory_zones=("id=z0,size=128M",)))


def test_a_hugepage_size_needs_hugepages(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, memory="size=1G,hugepage_size=2M"))
    assert error.message == "Huge page size specified but huge pages not enabled"


def test_a_hugepage_size_is_a_power_of_two(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, memory="size=1G,hugepages=on,hugepage_size=3M"))
    assert error.message == f"Huge page size is not power of 2: {3 << 20}"


def test_shared_and_mergeable_memory_exclude_each_other(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, memory="size=1G,shared=on,mergeable=on"))
    assert error.message == "Invalid to set both 'mergeable' and 'shared' for memory"


def test_memory_zone_ids_are_unique(elf_kernel: str) -> None:
    zones = ("id=z,size=64M", "id=z,size=64M")
    error = _error(_config(elf_kernel, memory="size=0", memory_zones=zones))
    assert error.message == "Identifier z is not unique"


@pytest.mark.parametrize(
    ("memory", "zones", "message"),
    [
        ("size=128M", ("id=z,size=64M",), "can't be provided if the memory size is not 0"),
        ("size=0", (), "must be provided if the memory size is 0"),
        ("size=0", ("id=z,size=67110912",), "size 67110912 is not a non-zero multiple of its"),
        ("size=0", ("id=z,size=65M,hugepages=on",), "page size (2048 KiB)"),
    ],
)
def test_memory_zones_are_checked_as_in_cloud_hypervisor(
    elf_kernel: str, memory: str, zones: tuple[str, ...], message: str
) -> None:
    assert message in _error(_config(elf_kernel, memory=memory, memory_zones=zones)).message


_ZONES = ("id=a,size=64M", "id=b,size=64M")


@pytest.mark.parametrize(
    ("numa", "message"),
    [
        (("guest_numa_id=0", "guest_numa_id=0"), "NUMA node 0 is defined twice"),
        (("guest_numa_id=0", "guest_numa_id=2"), "guest_numa_id values must be 0 to 1"),
        (("guest_numa_id=0,memory_zones=[c]",), "NUMA node 0: unknown memory zone 'c'"),
        (("guest_numa_id=0,cpus=[4]",), "vCPU 4 does not exist (max vCPUs is 2)"),
        (
            ("guest_numa_id=0,cpus=[0-1]", "guest_numa_id=1,cpus=[1]"),
            "vCPU 1 belongs to multiple NUMA nodes: 0 and 1",
        ),
        (
            ("guest_numa_id=0,memory_zones=[a]", "guest_numa_id=1,memory_zones=[a]"),
            "Memory zone: a belongs to multiple NUMA nodes: 0 and 1",
        ),
        (("guest_numa_id=0,distances=[1@20]",), "distance to unknown node 1"),
        (("guest_numa_id=0,distances=[0@11]",), "the distance to itself is 10, not 11"),
        (("guest_numa_id=0,distances=[1@5]", "guest_numa_id=1"), "must be more than 10"),
        (
            ("guest_numa_id=0,distances=[1@30]", "guest_numa_id=1,distances=[0@40]"),
            "NUMA distances are not symmetric: node 0 to 1 is 30, node 1 to 0 is 40",
        ),
        (
            ("guest_numa_id=0,distances=[1@30]", "guest_numa_id=1"),
            "node 0 to 1 is 30, node 1 to 0 is 20",
        ),
    ],
)
def test_numa_nodes_must_describe_a_real_machine(
    elf_kernel: str, numa: tuple[str, ...], message: str
) -> None:
    config = _config(elf_kernel, cpus="boot=2", memory="size=0", memory_zones=_ZONES, numa=numa)
    assert message in _error(config).message


def test_a_symmetric_numa_machine_is_valid(elf_kernel: str) -> None:
    numa = (
        "guest_numa_id=0,cpus=[0],memory_zones=[a],distances=[1@25]",
        "guest_numa_id=1,cpus=[1],memory_zones=[b],distances=[0@25]",
    )
    validate(_config(elf_kernel, cpus="boot=2", memory="size=0", memory_zones=_ZONES, numa=numa))


def test_the_platform_segment_count_is_checked(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, platform="num_pci_segments=97"))
    assert error.option == "--platform"
    assert error.message == "Number of PCI segments (97) not in range of 1 to 96"


def test_an_iommufd_fd_needs_iommufd(elf_kernel: str) -> None:
    error = _error(_config(elf_kernel, platform="iommufd_fd=5,iommufd=off"))
    assert error.message == "Platform `iommufd_fd=<fd>` requires `iommufd=on`"


def test_validate_returns_the_config_unchanged_when_nothing_is_normalized(elf_kernel: str) -> None:
    config = dataclasses.replace(
        _config(elf_kernel), console=ConsoleConfig(mode=ConsoleOutputMode.OFF)
    )
    assert validate(config) is config


NOT_UTF8 = ["\ud800", b"\xb4".decode("utf-8", "surrogateescape")]  # JSON's, and argv's escape


@pytest.mark.parametrize("text", NOT_UTF8)
def test_a_path_that_is_not_utf8_is_an_error_naming_its_field(text: str) -> None:
    # A JSON "\ud800" in a path raised UnicodeEncodeError from os.stat.
    error = _error(_config(f"/k{text}"))
    assert (error.path, error.message) == ("payload.kernel", "not valid UTF-8 (a lone surrogate)")


@pytest.mark.parametrize("text", NOT_UTF8)
def test_a_disk_serial_that_is_not_utf8_is_an_error_naming_the_option(text: str) -> None:
    # Found by fuzz_cli: the serial's length check raised UnicodeEncodeError.
    config = _config("/k", disks=("path=/a",))
    disk = dataclasses.replace(config.disks[0], serial=f"s{text}")  # type: ignore[index]
    error = _error(dataclasses.replace(config, disks=(disk,)), check_files=False)
    assert error.path == "disks[0].serial"
    assert error.for_option() == "--disk: not valid UTF-8 (a lone surrogate)"
