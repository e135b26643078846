"""`ch-remote` as CH's: subcommands and their help, the bodies sent, output, error chains, exits."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli.ch_remote import COMMANDS, main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_ping_prints_the_json_the_vmm_sent(
    capsys: pytest.CaptureFixture[str], api_socket: str
) -> None:
    status, out, _ = _run(capsys, "--api-socket", api_socket, "ping")
    assert status == 0
    assert out.endswith("}\n")
    assert json.loads(out)["version"] == "0.1.0"


def test_commands_answered_204_print_nothing(
    capsys: pytest.CaptureFixture[str], api_socket: str, vm_json: str
) -> None:
    assert _run(capsys, "--api-socket", api_socket, "create", vm_json) == (0, "", "")
    assert _run(capsys, f"--api-socket={api_socket}", "delete") == (0, "", "")


def test_create_reads_stdin_by_default(
    capsys: pytest.CaptureFixture[str],
    api_socket: str,
    vm_json: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", open(vm_json))  # noqa: SIM115
    assert _run(capsys, "--api-socket", api_socket, "create")[0] == 0
    status, out, _ = _run(capsys, "--api-socket", api_socket, "info")
    assert status == 0
    assert json.loads(out)["state"] == "Created"


def test_a_refused_request_prints_chs_error_chain(
    capsys: pytest.CaptureFixture[str], api_socket: str
) -> None:
    status, out, err = _run(capsys, "--api-socket", api_socket, "info")
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        "Error: ch-remote exited with the following chain of errors:",
        "  0: http client error",
        "  1: Server responded with NotFound",
        "  2: Error from API",
        "  3: The VM info is not available",
        "  4: VM is not created",
    ]


def test_device_syntax_is_parsed_and_sent_as_json(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    assert _run(capsys, "--api-socket", path, "add-disk", "path=/tmp/d.img,readonly=on")[0] == 0
    (line, body), *_ = requests
    assert line == "PUT /api/v1/vm.add-disk HTTP/1.1"
    assert (body["path"], body["readonly"]) == ("/tmp/d.img", True)


def test_bad_device_syntax_is_an_error_and_sends_nothing(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    status, _, err = _run(capsys, "--api-socket", path, "add-disk", "nonsense=1")
    assert (status, requests) == (1, [])
    assert "Error parsing disk syntax" in err


def test_missing_socket_option_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "ping")
    assert status == 1
    assert "api-socket" in err


def test_an_unreachable_socket_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = _run(capsys, "--api-socket", str(tmp_path / "none.sock"), "ping")
    assert status == 1
    assert err.startswith("Error opening HTTP socket: ")


@pytest.mark.parametrize(
    "argv",
    [["--api-socket", "x", "bogus"], ["--api-socket"], ["--api-socket", "x", "boot", "extra"], []],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert _run(capsys, *argv)[0] == 2


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--help")
    assert status == 0
    for name in COMMANDS:
        assert f"  {name} " in out


def test_the_console_script_is_installed() -> None:
    ch_remote = Path(sys.executable).parent / "ch-remote"
    result = subprocess.run([ch_remote, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("ch-remote v")


# ---------------------------------------------------------------- requests as sent
@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """A stand-in VMM on a socket: records each request (line, decoded JSON body), answers 204."""
    path = str(tmp_path / "recorder.sock")
    requests: list[tuple[str, Any]] = []
    done = threading.Event()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    server.settimeout(0.05)

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                requests.append(_read_request(connection))
                connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, requests
    done.set()
    thread.join()
    server.close()


def _read_request(connection: socket.socket) -> tuple[str, Any]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    length = next(
        (int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")), 0
    )
    while len(body) < length:
        body += connection.recv(65536)
    return lines[0], json.loads(body) if body else None


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_answers_help_without_a_request(
    capsys: pytest.CaptureFixture[str],
    recorder: tuple[str, list[tuple[str, Any]]],
    command: str,
    flag: str,
) -> None:
    path, requests = recorder
    status, out, err = _run(capsys, "--api-socket", path, command, flag)
    assert (status, err, requests) == (0, "", [])
    assert out.startswith(COMMANDS[command][2] + "\n\nUsage: ch-remote " + command)


def test_help_after_an_argument_is_still_help(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    status, out, _ = _run(capsys, "--api-socket", path, "snapshot", "file:///tmp/s", "--help")
    assert (status, requests) == (0, [])
    assert "Usage: ch-remote snapshot <snapshot_config>" in out


def test_subcommand_help_needs_no_api_socket(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "snapshot", "--help")
    assert status == 0
    assert "<destination_url>" in out


def test_help_subcommand_prints_the_subcommands_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "help", "resize") == _run(capsys, "resize", "--help")


def test_help_subcommand_alone_prints_the_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "help") == _run(capsys, "--help")


def test_help_of_an_unknown_subcommand_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = _run(capsys, "help", "bogus")
    assert status == 2
    assert "unrecognized subcommand 'bogus'" in err


def test_resize_help_lists_its_flags(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "resize", "--help")
    assert "Usage: ch-remote resize [OPTIONS]" in out
    for flag in ("--balloon <balloon>", "--cpus <cpus>", "--memory <memory>"):
        assert flag in out


@pytest.mark.parametrize(
    ("command", "keys"),
    [
        (
            "restore",
            "source_url prefault memory_restore_mode net_fds vfio_fds iommufd_fd resume "
            "zone_updates",
        ),
        (
            "send-migration",
            "destination_url local preserve_source downtime_ms timeout_s timeout_strategy "
            "connections tls_dir memory_mode",
        ),
        (
            "receive-migration",
            "receiver_url tls_dir memory_mode vfio_fds iommufd_fd zone_updates",
        ),
    ],
)
def test_help_shows_every_key(capsys: pytest.CaptureFixture[str], command: str, keys: str) -> None:
    _, out, _ = _run(capsys, command, "--help")
    for key in keys.split():
        assert f"{key}=" in out


def test_restore_sends_chs_body_with_its_defaults(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    assert _run(capsys, "--api-socket", path, "restore", "source_url=file:///snap")[0] == 0
    assert requests == [
        (
            "PUT /api/v1/vm.restore HTTP/1.1",
            {
                "source_url": "file:///snap",
                "prefault": False,
                "memory_restore_mode": "Copy",
                "net_fds": None,
                "vfio_fds": None,
                "iommufd_fd": None,
                "resume": False,
                "zone_updates": [],
            },
        )
    ]
    assert list(requests[0][1])[:3] == ["source_url", "prefault", "memory_restore_mode"]


def test_restore_sends_every_key_given(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    argument = (
        "source_url=/snap,prefault=off,memory_restore_mode=OnDemand,resume=on,"
        "zone_updates=[zone0@1,zone1@0]"
    )
    assert _run(capsys, "--api-socket", path, "restore", argument)[0] == 0
    body = requests[0][1]
    assert (body["memory_restore_mode"], body["resume"], body["zone_updates"]) == (
        "OnDemand",
        True,
        [{"id": "zone0", "host_numa_node": 1}, {"id": "zone1", "host_numa_node": 0}],
    )


def test_send_migration_sends_chs_body_with_its_defaults(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    argument = "destination_url=tcp:192.168.1.1:8080"
    assert _run(capsys, "--api-socket", path, "send-migration", argument)[0] == 0
    assert requests == [
        (
            "PUT /api/v1/vm.send-migration HTTP/1.1",
            {
                "destination_url": "tcp:192.168.1.1:8080",
                "local": False,
                "preserve_source": False,
                "downtime_ms": 300,
                "timeout_s": 3600,
                "timeout_strategy": "Cancel",
                "connections": 1,
                "tls_dir": None,
                "memory_mode": "Precopy",
            },
        )
    ]


def test_receive_migration_sends_chs_body(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    argument = "receiver_url=tcp:[2001:db8::1]:8080,memory_mode=postcopy,zone_updates=[z@1]"
    assert _run(capsys, "--api-socket", path, "receive-migration", argument)[0] == 0
    assert requests == [
        (
            "PUT /api/v1/vm.receive-migration HTTP/1.1",
            {
                "receiver_url": "tcp:[2001:db8::1]:8080",
                "tls_dir": None,
                "memory_mode": "Postcopy",
                "vfio_fds": None,
                "iommufd_fd": None,
                "zone_updates": [{"id": "z", "host_numa_node": 1}],
            },
        )
    ]


@pytest.mark.parametrize(
    ("command", "argument"),
    [
        ("restore", "source_url=/snap,bogus=1"),
        ("send-migration", "destination_url=unix:/tmp/m.sock,bogus=1"),
        ("receive-migration", "receiver_url=unix:/tmp/m.sock,bogus=1"),
    ],
)
def test_an_unknown_key_is_a_one_line_error_and_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    recorder: tuple[str, list[tuple[str, Any]]],
    command: str,
    argument: str,
) -> None:
    path, requests = recorder
    status, out, err = _run(capsys, "--api-socket", path, command, argument)
    assert (status, out, requests) == (1, "", [])
    header, message = err.splitlines()
    assert header == "Error: ch-remote exited with the following error:"
    assert "unknown option 'bogus'" in message


def test_descriptors_to_pass_are_refused_not_dropped(
    capsys: pytest.CaptureFixture[str], recorder: tuple[str, list[tuple[str, Any]]]
) -> None:
    path, requests = recorder
    argument = "source_url=/snap,net_fds=[net0@[3,4]]"
    status, _, err = _run(capsys, "--api-socket", path, "restore", argument)
    assert (status, requests) == (1, [])
    assert "Error sending file descriptors 3, 4" in err


def test_the_vmm_answers_restore_not_implemented(
    capsys: pytest.CaptureFixture[str], api_socket: str
) -> None:
    status, _, err = _run(capsys, "--api-socket", api_socket, "restore", "source_url=/snap")
    assert status == 1
    assert "Server responded with NotImplemented" in err
