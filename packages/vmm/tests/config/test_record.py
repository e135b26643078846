"""The configuration classes are real dataclasses: fields, replace, equality, frozen."""

from __future__ import annotations

import dataclasses

import pytest
from vmm.config import CpusConfig, DiskConfig, PciDeviceCommon, VmConfig


def test_configs_are_dataclasses_with_their_fields() -> None:
    assert dataclasses.is_dataclass(DiskConfig)
    names = [field.name for field in dataclasses.fields(DiskConfig)]
    assert names[:4] == ["id", "iommu", "pci_segment", "pci_device_id"]  # inherited first
    assert "path" in names
    assert "lock_granularity" in names


def test_replace_makes_a_changed_copy() -> None:
    disk = DiskConfig(path="/a")
    changed = dataclasses.replace(disk, readonly=True)
    assert changed.readonly
    assert not disk.readonly
    assert changed.path == "/a"


def test_configs_are_frozen() -> None:
    disk = DiskConfig(path="/a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        disk.path = "/b"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del disk.path


def test_equal_configs_compare_and_hash_equal() -> None:
    assert DiskConfig(path="/a") == DiskConfig(path="/a")
    assert hash(DiskConfig(path="/a")) == hash(DiskConfig(path="/a"))
    assert DiskConfig(path="/a") != DiskConfig(path="/b")
    assert DiskConfig() != PciDeviceCommon()  # another class is never equal


def test_constructors_are_keyword_only_and_check_their_arguments() -> None:
    with pytest.raises(TypeError, match="missing required keyword-only argument: 'max_vcpus'"):
        CpusConfig(boot_vcpus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        DiskConfig(bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        DiskConfig("/a")  # type: ignore[call-arg]


def test_repr_shows_the_fields() -> None:
    assert repr(CpusConfig(boot_vcpus=2, max_vcpus=2)).startswith(
        "CpusConfig(boot_vcpus=2, max_vcpus=2, topology=None"
    )


def test_asdict_works() -> None:
    assert dataclasses.asdict(VmConfig())["cpus"]["boot_vcpus"] == 1
