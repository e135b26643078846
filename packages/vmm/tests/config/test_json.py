"""CH's JSON VmConfig: defaults as CH's, strict decoding with errors naming the field path."""

from __future__ import annotations

from typing import Any

import pytest
from vmm.config import (
    ConsoleOutputMode,
    CpusConfig,
    DiskConfig,
    JsonError,
    MemoryConfig,
    PayloadConfig,
    PlatformConfig,
    RngConfig,
    SerialConfig,
    VmConfig,
    VmParams,
    parse_vm_config,
)


def _decode_error(document: Any) -> JsonError:
    with pytest.raises(JsonError) as caught:
        VmConfig.from_json(document)
    return caught.value


def test_a_minimal_document_gets_chs_defaults() -> None:
    config = VmConfig.from_json({"payload": {"kernel": "/path/to/kernel"}})
    assert config.cpus == CpusConfig(boot_vcpus=1, max_vcpus=1)
    assert config.memory == MemoryConfig(size=512 << 20)
    assert config.rng == RngConfig(src="/dev/urandom")
    assert config.serial == SerialConfig(mode=ConsoleOutputMode.NULL)
    assert config.payload == PayloadConfig(kernel="/path/to/kernel")


def test_the_command_line_and_json_agree_on_defaults() -> None:
    # CH's own test_valid_vm_config_default: `--kernel k` == {"payload": {"kernel": "k"}}
    assert parse_vm_config(VmParams(kernel="k")) == VmConfig.from_json({"payload": {"kernel": "k"}})


def test_json_uses_chs_field_names_and_enum_spellings() -> None:
    config = parse_vm_config(
        VmParams(kernel="k", disks=("path=/img,readonly=on,id=d0",), serial="tty")
    )
    document = config.to_json()
    assert document["cpus"]["boot_vcpus"] == 1
    assert document["memory"]["hotplug_method"] == "Acpi"
    assert document["serial"] == {"mode": "Tty"}
    assert document["disks"][0]["path"] == "/img"
    assert document["disks"][0]["id"] == "d0"
    assert document["disks"][0]["image_type"] == "Unknown"


def test_fields_that_are_none_are_left_out() -> None:
    document = VmConfig.from_json({"payload": {"kernel": "k"}}).to_json()
    assert "disks" not in document
    assert "platform" not in document
    assert document["payload"] == {"kernel": "k"}


def test_a_null_optional_field_means_absent() -> None:
    assert VmConfig.from_json({"payload": {"kernel": "k"}, "disks": None}).disks is None


def test_an_unknown_field_is_rejected_with_its_path() -> None:
    error = _decode_error({"payload": {"kernel": "k"}, "disks": [{"path": "/a"}, {"paht": "/b"}]})
    assert error.path == "disks[1].paht"
    assert str(error) == "disks[1].paht: unknown field"


def test_an_unknown_top_level_field_is_rejected() -> None:
    assert _decode_error({"cpu": {}}).path == "cpu"


def test_a_wrong_type_is_rejected_with_its_path() -> None:
    error = _decode_error({"disks": [{"path": 12}]})
    assert str(error) == "disks[0].path: expected a string, got the number 12"


def test_a_boolean_is_not_an_integer() -> None:
    assert _decode_error({"cpus": {"boot_vcpus": True, "max_vcpus": 1}}).path == "cpus.boot_vcpus"


def test_an_integer_is_not_a_boolean() -> None:
    assert _decode_error({"memory": {"size": 1 << 30, "shared": 1}}).path == "memory.shared"


def test_a_float_is_not_an_integer() -> None:
    assert _decode_error({"memory": {"size": 1.5}}).path == "memory.size"


def test_integers_are_range_checked_like_the_rust_field() -> None:
    error = _decode_error({"disks": [{"path": "/a", "queue_size": 70000}]})
    assert error.path == "disks[0].queue_size"
    assert "out of range for u16" in error.message


def test_a_required_field_must_be_present() -> None:
    error = _decode_error({"cpus": {"boot_vcpus": 2}})
    assert str(error) == "cpus.max_vcpus: missing field"


def test_an_enum_takes_chs_spelling_only() -> None:
    error = _decode_error({"serial": {"mode": "tty"}})
    assert error.path == "serial.mode"
    assert "'Tty'" in error.message


def test_an_array_field_needs_an_array() -> None:
    assert _decode_error({"disks": {"path": "/a"}}).path == "disks"


def test_the_document_must_be_an_object() -> None:
    assert str(_decode_error([1, 2])) == "$: expected an object, got an array"


def test_platform_accepts_deprecated_aliases() -> None:
    platform = VmConfig.from_json({"platform": {"serial_number": "SN", "uuid": "u"}}).platform
    assert platform == PlatformConfig(system_serial_number="SN", system_uuid="u")


def test_an_alias_and_its_field_together_are_a_duplicate() -> None:
    error = _decode_error({"platform": {"serial_number": "a", "system_serial_number": "b"}})
    assert "duplicate field" in error.message


def test_file_descriptors_in_json_become_minus_one() -> None:
    # Like CH: an fd number in a request body means nothing in this process.
    config = VmConfig.from_json({"net": [{"fds": [5, 6], "num_queues": 4}]})
    assert config.net is not None
    assert config.net[0].fds == (-1, -1)


def test_flattened_pci_fields_sit_on_the_device() -> None:
    config = VmConfig.from_json({"disks": [{"path": "/a", "pci_segment": 1, "iommu": True}]})
    assert config.disks == (DiskConfig(path="/a", pci_segment=1, iommu=True),)
