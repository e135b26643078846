"""ApiClient against a real API service: one typed method per endpoint, errors as ApiError."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli.client import ApiClient, ApiConnectionError, ApiError


def test_ping_returns_the_vmms_identity(api_socket: str) -> None:
    pong = ApiClient(api_socket).ping()
    assert pong["version"] == "0.1.0"
    assert pong["pid"] == os.getpid()


def test_create_takes_a_mapping_or_json_text(api_socket: str, vm_json: str) -> None:
    client = ApiClient(api_socket)
    client.create(Path(vm_json).read_text())
    assert client.info()["state"] == "Created"
    client.delete()
    client.create(json.loads(Path(vm_json).read_text()))
    assert client.info()["config"]["memory"]["size"] == 64 << 20


def test_an_error_carries_the_status_and_chs_message_chain(api_socket: str) -> None:
    with pytest.raises(ApiError) as caught:
        ApiClient(api_socket).info()
    assert caught.value.status == 404
    assert caught.value.message == "VM is not created"
    assert caught.value.messages[0] == "Error from API"


def test_a_refused_body_is_a_400(api_socket: str) -> None:
    with pytest.raises(ApiError) as caught:
        ApiClient(api_socket).create({"memory": {"size": "big"}})
    assert caught.value.status == 400
    assert "memory.size" in caught.value.message


def test_an_unsupported_request_is_a_501(api_socket: str, vm_json: str) -> None:
    client = ApiClient(api_socket)
    client.create(Path(vm_json).read_text())
    client.resize(desired_vcpus=2)  # before boot, an edit of the stored config (as CH)
    assert client.info()["config"]["cpus"]["boot_vcpus"] == 2
    with pytest.raises(ApiError) as caught:
        client.restore({"source_url": "file:///snapshot"})
    assert caught.value.status == 501


def test_no_server_is_a_connection_error(tmp_path: Path) -> None:
    with pytest.raises(ApiConnectionError) as caught:
        ApiClient(str(tmp_path / "missing.sock")).ping()
    assert "No such file" in caught.value.message


def test_shutdown_vmm_ends_the_service(api_socket: str) -> None:
    client = ApiClient(api_socket)
    client.shutdown_vmm()
    with pytest.raises(ApiError):
        client.info()
