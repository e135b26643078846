"""CH's statuses and messages, request by request and state by state (read from CH's
`vmm/src/lib.rs` and `api/http/mod.rs`): 404 for a missing VM or config, 500 for a
request in the wrong state, 400/409 for a config that is not valid, 204 for config
edits before boot. The VMs are fakes (`vmm.testing.fake_vm`): no /dev/kvm needed."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vmm.testing import serve_api
from vmm.testing.fake_vm import Guests, keeps_running
from vmm_api_helpers import Served

NOT_CREATED, MISSING, NOT_RUNNING = "VM is not created", "VM config is missing", "VM is not running"
ALREADY = "VM is already created"
GET = {"vm.info", "vm.counters"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Served]:
    path = str(tmp_path / "api.sock")
    with serve_api(path, launcher=Guests(keeps_running)) as control:
        yield Served(path, control, tmp_path / "no-events")


def _call(api: Served, endpoint: str, body: object = None) -> tuple[int, object]:
    return api.request("GET" if endpoint in GET else "PUT", endpoint, body)


def _refused(api: Served, endpoint: str, body: object = None) -> tuple[int, str]:
    status, chain = _call(api, endpoint, body)
    assert isinstance(chain, list), chain
    assert chain[0] == "Error from API"
    return status, chain[-1]


BEFORE_CREATE = [
    ("vm.info", 404, NOT_CREATED),
    ("vm.boot", 404, MISSING),
    ("vm.reboot", 404, NOT_CREATED),
    ("vm.pause", 500, NOT_RUNNING),
    ("vm.resume", 500, NOT_RUNNING),
    ("vm.shutdown", 500, NOT_RUNNING),
    ("vm.counters", 500, NOT_RUNNING),
    ("vm.power-button", 500, NOT_RUNNING),
    ("vm.nmi", 500, NOT_RUNNING),
]


@pytest.mark.parametrize(("endpoint", "status", "message"), BEFORE_CREATE)
def test_before_create(api: Served, endpoint: str, status: int, message: str) -> None:
    assert _refused(api, endpoint) == (status, message)


CREATED = [
    ("vm.create", 500, ALREADY),
    ("vm.reboot", 404, NOT_CREATED),
    ("vm.pause", 500, NOT_RUNNING),
    ("vm.resume", 500, NOT_RUNNING),
    ("vm.shutdown", 500, NOT_RUNNING),
    ("vm.counters", 500, NOT_RUNNING),
]


@pytest.mark.parametrize(("endpoint", "status", "message"), CREATED)
def test_created_not_booted(
    api: Served, vm_config: dict[str, object], endpoint: str, status: int, message: str
) -> None:
    assert _call(api, "vm.create", vm_config) == (204, None)
    body = vm_config if endpoint == "vm.create" else None
    assert _refused(api, endpoint, body) == (status, message)


def test_running_and_paused(api: Served, vm_config: dict[str, object]) -> None:
    _call(api, "vm.create", vm_config)
    assert _call(api, "vm.boot") == (204, None)
    assert _refused(api, "vm.boot") == (500, ALREADY)
    assert _refused(api, "vm.resume")[0] == 500
    assert _call(api, "vm.pause") == (204, None)
    assert _refused(api, "vm.pause")[0] == 500
    assert _call(api, "vm.resume") == (204, None)
    assert _call(api, "vm.counters")[0] == 200
    assert _refused(api, "vm.nmi")[0] == 501
    assert _refused(api, "vm.add-disk", {"path": "/tmp/x.img"})[0] == 501  # hot-plug
    assert _call(api, "vm.reboot") == (204, None)
    assert _call(api, "vm.shutdown") == (204, None)
    assert _refused(api, "vm.shutdown") == (500, NOT_RUNNING)


def test_create_stores_a_config_it_can_decode_and_boot_checks_it(
    api: Served, vm_config: dict[str, object]
) -> None:
    config = {**vm_config, "payload": {"kernel": "/nonexistent/vmlinux"}}
    assert _call(api, "vm.create", config) == (204, None)
    status, message = _refused(api, "vm.boot")
    assert status == 400
    assert "payload.kernel" in message
    assert _call(api, "vm.info")[0] == 200  # still created, not booted


def test_boot_refuses_what_this_vmm_does_not_build(
    api: Served, vm_config: dict[str, object], tmp_path: Path
) -> None:
    pmem = tmp_path / "pmem.img"
    pmem.write_bytes(bytes(2 << 20))
    assert _call(api, "vm.create", {**vm_config, "pmem": [{"file": str(pmem)}]}) == (204, None)
    status, message = _refused(api, "vm.boot")
    assert status == 400
    assert "pmem" in message
    assert "not supported" in message


def test_unknown_fields_are_ignored_and_logged_as_ch_ignores_them(
    api: Served, vm_config: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    payload = vm_config["payload"]
    assert isinstance(payload, dict)
    config = {**vm_config, "fw_cfg_config": {"x": 1}, "payload": {**payload, "igvm": "/x.igvm"}}
    with caplog.at_level(logging.WARNING):
        assert _call(api, "vm.create", config) == (204, None)
    assert "fw_cfg_config" in caplog.text
    assert "payload.igvm" in caplog.text
    status, info = _call(api, "vm.info")
    assert status == 200
    assert isinstance(info, dict)
    assert "fw_cfg_config" not in info["config"]


def test_config_edits_before_boot(
    api: Served, vm_config: dict[str, object], tmp_path: Path
) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    assert _refused(api, "vm.add-disk", {"path": str(disk)}) == (404, NOT_CREATED)
    _call(api, "vm.create", vm_config)
    assert _call(api, "vm.add-disk", {"path": str(disk), "id": "data"}) == (204, None)
    assert _refused(api, "vm.add-disk", {"path": str(disk), "id": "data"})[0] == 409
    assert _refused(api, "vm.add-disk", {"path": str(disk), "num_queues": 0})[0] == 400
    assert _call(api, "vm.resize", {"desired_vcpus": 2, "desired_ram": 128 << 20}) == (204, None)
    status, info = _call(api, "vm.info")
    assert status == 200
    assert isinstance(info, dict)
    assert [d["id"] for d in info["config"]["disks"]] == ["data"]
    assert "iommu" not in info["config"]["disks"][0]  # CH leaves a false iommu out
    assert info["config"]["cpus"]["boot_vcpus"] == 2
    assert info["config"]["memory"]["size"] == 128 << 20
    assert _refused(api, "vm.remove-device", {"id": "nothing"})[0] == 404
    assert _call(api, "vm.remove-device", {"id": "data"}) == (204, None)
    assert "disks" not in _call(api, "vm.info")[1]["config"]  # type: ignore[index]
    assert _refused(api, "vm.resize-zone", {"id": "z", "desired_ram": 1 << 30})[0] == 500


def test_restore_and_migration_reception_are_not_supported_in_any_state(api: Served) -> None:
    assert _refused(api, "vm.restore", {"source_url": "file:///x"})[0] == 501
    assert _refused(api, "vm.receive-migration", {"receiver_url": "unix:/x"})[0] == 501
