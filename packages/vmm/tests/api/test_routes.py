"""The API over a real socket: CH's statuses and JSON errors, state by state (no vCPUs)."""

from __future__ import annotations

import threading

import pytest
from vmm_api_helpers import Served


def test_ping_answers_version_pid_and_features(served: Served) -> None:
    status, body = served.request("GET", "vmm.ping")
    assert status == 200
    assert isinstance(body, dict)
    assert body["version"] == "9.9.9"
    assert body["build_version"] == "v9.9.9"
    assert isinstance(body["pid"], int)
    assert "kvm" in body["features"]


def test_an_unknown_path_is_not_found(served: Served) -> None:
    assert served.request("GET", "vm.nothing") == (404, ["Not Found"])


def test_a_wrong_method_is_a_bad_request_as_in_ch(served: Served) -> None:
    assert served.request("PUT", "vm.info")[0] == 400
    assert served.request("GET", "vm.boot")[0] == 400


def test_create_then_info_shows_the_config_created(
    served: Served, vm_config: dict[str, object]
) -> None:
    assert served.request("PUT", "vm.create", vm_config) == (204, None)
    status, info = served.request("GET", "vm.info")
    assert status == 200
    assert isinstance(info, dict)
    assert info["state"] == "Created"
    assert info["memory_actual_size"] == 64 << 20
    assert info["config"]["payload"] == vm_config["payload"]
    assert "device_tree" not in info


@pytest.mark.parametrize(
    ("body", "last_message"),
    [
        (b"{not json", "Expecting property name"),
        (b'{"payload": {"kernel": 5}}', "payload.kernel: expected a string, got the number 5"),
        (b'{"net": [{"ip": "300.1.1.1"}]}', "net[0].ip"),
        (b'{"net": [{"mac": "12:34"}]}', "net[0].mac"),
        (b"\xff\xfe", "Failed to deserialize JSON"),
    ],
)
def test_a_bad_config_is_a_bad_request_naming_the_problem(
    served: Served, body: bytes, last_message: str
) -> None:
    head = f"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: {len(body)}\r\nConnection: close"
    answer = served.raw(head.encode() + b"\r\n\r\n" + body)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert last_message.encode() in answer
    assert served.request("GET", "vm.info")[0] == 404  # nothing was created


def test_actions_without_a_body_refuse_one(served: Served) -> None:
    assert served.request("PUT", "vm.boot", {"x": 1})[0] == 400


def test_delete_forgets_the_vm_and_is_harmless_twice(
    served: Served, vm_config: dict[str, object]
) -> None:
    served.request("PUT", "vm.create", vm_config)
    assert served.request("PUT", "vm.delete") == (204, None)
    assert served.request("PUT", "vm.delete") == (204, None)
    assert served.request("GET", "vm.info")[0] == 404


def test_vmm_shutdown_answers_then_ends_the_loop_with_events(
    served: Served, vm_config: dict[str, object]
) -> None:
    served.request("PUT", "vm.create", vm_config)
    assert served.request("PUT", "vmm.shutdown") == (204, None)
    assert served.events() == [("vmm", "starting"), ("vm", "deleted"), ("vmm", "shutdown")]


def test_many_clients_at_once_all_get_answers(served: Served, vm_config: dict[str, object]) -> None:
    served.request("PUT", "vm.create", vm_config)
    results: list[int] = []

    def client() -> None:
        for _ in range(10):
            results.append(served.request("GET", "vm.info")[0])

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 80


def test_keep_alive_serves_several_requests_on_one_connection(served: Served) -> None:
    one = b"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /api/v1/vmm.ping HTTP/1.1\r\nConnection: close\r\n\r\n"
    answer = served.raw(one * 3 + last)
    assert answer.count(b"HTTP/1.1 200 OK") == 4
