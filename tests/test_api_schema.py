"""Schemathesis against a running `cloud-hypervisor --api-socket`: the API keeps to its document.

Every operation of the shipped OpenAPI document (but vmm.shutdown, which would
end the run) gets a bounded number of generated requests; each answer must
have a documented status (so no undocumented 5xx) and match the documented
response schema, and the VMM must still answer afterwards.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from requests.adapters import HTTPAdapter
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from vmm.api.openapi import load_document

pytestmark = pytest.mark.kvm

BASE_URL = "http://vmm/api/v1"
schema = schemathesis.openapi.from_dict(load_document())
# The coverage phase (boundary values of every field of VmConfig) takes minutes
# here; the examples and the bounded fuzzing below are kept.
schema.config.phases.coverage.enabled = False


class _UnixConnection(HTTPConnection):
    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__("localhost", **kwargs)
        self._path = path

    def _new_conn(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(self._path)
        return sock


class _UnixPool(HTTPConnectionPool):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def _new_conn(self) -> HTTPConnection:
        return _UnixConnection(self._path)


class _UnixAdapter(HTTPAdapter):
    """requests over the API's UNIX socket, whatever the URL's host."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> _UnixPool:
        return _UnixPool(self._path)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[requests.Session]:
    folder = tmp_path_factory.mktemp("schema")
    path = str(folder / "api.sock")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "cloud-hypervisor"), "--api-socket", f"path={path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    http = requests.Session()
    http.mount("http://vmm/", _UnixAdapter(path))
    deadline = time.monotonic() + 30
    while True:
        try:
            if http.get(f"{BASE_URL}/vmm.ping", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert process.poll() is None, "the VMM exited"
        assert time.monotonic() < deadline, "the API never answered"
        time.sleep(0.02)
    yield http
    assert process.poll() is None, "the VMM died during the run"
    assert http.get(f"{BASE_URL}/vmm.ping", timeout=5).status_code == 200
    http.put(f"{BASE_URL}/vmm.shutdown", timeout=10)
    assert process.wait(30) == 0


@schema.exclude(path="/vmm.shutdown").parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_answer_is_documented(
    case: schemathesis.Case[Any], session: requests.Session
) -> None:
    response = case.call(base_url=BASE_URL, session=session)
    case.validate_response(response, checks=[status_code_conformance, response_schema_conformance])
