"""`ch-remote` as CH's: subcommands, body printed as sent, numbered error chains, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
        "  3: The VM information could not be retrieved",
        "  4: The VM is not created",
    ]


def test_device_syntax_is_parsed_and_sent_as_json(
    capsys: pytest.CaptureFixture[str], api_socket: str, vm_json: str
) -> None:
    _run(capsys, "--api-socket", api_socket, "create", vm_json)
    status, _, err = _run(capsys, "--api-socket", api_socket, "add-disk", "path=/tmp/d.img")
    assert status == 1
    assert "NotImplemented" in err
    status, _, err = _run(capsys, "--api-socket", api_socket, "add-disk", "nonsense=1")
    assert status == 1
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
