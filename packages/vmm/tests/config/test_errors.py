"""The error family: every error names where it is and what is wrong."""

from __future__ import annotations

import pytest
from vmm.config import ConfigError, JsonError, OptionError, ValidationError


def test_all_errors_are_config_errors() -> None:
    for error in (OptionError("--cpus", "x"), JsonError("cpus", "x"), ValidationError("cpus", "x")):
        assert isinstance(error, ConfigError)


def test_an_option_error_reads_option_then_message() -> None:
    error = OptionError("--memory", "invalid value '12Q' for size", key="size", value="12Q")
    assert str(error) == "--memory: invalid value '12Q' for size"
    assert (error.where, error.key, error.value) == ("--memory", "size", "12Q")


@pytest.mark.parametrize(
    ("path", "option"),
    [
        ("cpus.max_vcpus", "--cpus"),
        ("memory.size", "--memory"),
        ("memory.zones[1].id", "--memory-zone"),
        ("payload.kernel", "--kernel"),
        ("payload.initramfs", "--initramfs"),
        ("disks[3].path", "--disk"),
        ("net[0].mac", "--net"),
        ("rng.src", "--rng"),
        ("serial.file", "--serial"),
        ("console", "--console"),
        ("platform.num_pci_segments", "--platform"),
    ],
)
def test_a_validation_error_knows_its_option(path: str, option: str) -> None:
    error = ValidationError(path, "bad")
    assert error.option == option
    assert error.for_option() == f"{option}: bad"
    assert str(error) == f"{path}: bad"


def test_a_field_no_option_sets_keeps_its_path() -> None:
    error = ValidationError("iommu", "bad")
    assert error.option is None
    assert error.for_option() == "iommu: bad"
