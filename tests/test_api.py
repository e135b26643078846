"""The REST API end to end: `cloud-hypervisor --api-socket` driven by `ch-remote`.

The guest is the tiny counting payload of `vmm.testing` (Linux would take
minutes to boot here): it prints 00000001, 00000002, ... on COM1, so the
serial file shows whether the vCPUs run, stopped, or restarted from scratch.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vmm.testing import write_counter_kernel

pytestmark = pytest.mark.kvm

BIN = Path(sys.executable).parent


class Vmm:
    """A `cloud-hypervisor` process with its API socket, event file and serial file."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.socket = str(folder / "api.sock")
        self.events_path = folder / "events.json"
        self.serial = folder / "serial.txt"
        self.process = subprocess.Popen(
            [
                str(BIN / "cloud-hypervisor"),
                "--api-socket",
                f"path={self.socket}",
                "--event-monitor",
                f"path={self.events_path}",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while self.remote("ping")[0] != 0:
            assert self.process.poll() is None, self.stderr()
            assert time.monotonic() < deadline, "the API socket never answered"
            time.sleep(0.02)

    def remote(self, *args: str) -> tuple[int, str]:
        result = subprocess.run(
            [str(BIN / "ch-remote"), "--api-socket", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.returncode, result.stdout + result.stderr

    def ok(self, *args: str) -> str:
        status, output = self.remote(*args)
        assert status == 0, output
        return output

    def info(self) -> dict[str, object]:
        info: dict[str, object] = json.loads(self.ok("info"))
        return info

    def events(self) -> list[tuple[str, str]]:
        # vmm.ping answers while the VMM still loads: the file may not be there yet.
        text = self.events_path.read_text() if self.events_path.exists() else ""
        complete = text.split("\n\n")[:-1]  # the last part may still be being written
        return [(e["source"], e["event"]) for e in map(json.loads, complete)]

    def counts(self) -> list[int]:
        return [int(line, 16) for line in self.serial.read_text().split("\n")[:-1]]

    def wait_for_lines(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.counts()) < count:
            assert time.monotonic() < deadline, f"fewer than {count} serial lines"
            time.sleep(0.05)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")


@pytest.fixture
def vmm(tmp_path: Path) -> Iterator[Vmm]:
    process = Vmm(tmp_path)
    yield process
    if process.process.poll() is None:
        process.process.kill()
        process.process.wait()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    kernel = tmp_path / "counter.elf"
    write_counter_kernel(kernel, delay=1000)
    path = tmp_path / "vm.json"
    config = {
        "payload": {"kernel": str(kernel)},
        "memory": {"size": 64 << 20},
        "serial": {"mode": "File", "file": str(tmp_path / "serial.txt")},
    }
    path.write_text(json.dumps(config))
    return path


def test_a_vm_lives_its_whole_life_through_ch_remote(vmm: Vmm, config_file: Path) -> None:
    vmm.ok("create", str(config_file))
    assert vmm.info()["state"] == "Created"
    vmm.ok("boot")
    assert vmm.info()["state"] == "Running"
    vmm.wait_for_lines(3)

    vmm.ok("pause")
    assert vmm.info()["state"] == "Paused"
    size = vmm.serial.stat().st_size
    time.sleep(0.5)
    assert vmm.serial.stat().st_size == size, "a paused guest went on printing"
    assert vmm.remote("pause")[0] == 1

    vmm.ok("resume")
    lines = len(vmm.counts())
    vmm.wait_for_lines(lines + 3)
    assert vmm.counts() == list(range(1, len(vmm.counts()) + 1)), "resume did not continue"
    counters = json.loads(vmm.ok("counters"))
    assert all(isinstance(v, int) for device in counters.values() for v in device.values())

    vmm.ok("reboot")
    assert vmm.info()["state"] == "Running"
    vmm.wait_for_lines(2)
    assert vmm.counts()[:2] == [1, 2], "a rebooted guest starts from scratch"

    vmm.ok("shutdown")
    assert vmm.info()["state"] == "Created"
    vmm.ok("delete")
    assert "VM is not created" in vmm.remote("info")[1]
    vmm.ok("shutdown-vmm")
    assert vmm.wait() == 0
    assert not Path(vmm.socket).exists()
    assert vmm.events() == [
        ("vmm", "starting"),
        ("vm", "booting"),
        ("vm", "booted"),
        ("vm", "pausing"),
        ("vm", "paused"),
        ("vm", "resuming"),
        ("vm", "resumed"),
        ("vm", "rebooting"),
        ("vm", "rebooted"),
        ("vm", "shutdown"),
        ("vm", "deleted"),
        ("vmm", "shutdown"),
    ]


def test_a_guest_reset_reboots_the_vm_when_the_api_runs(tmp_path: Path) -> None:
    kernel = tmp_path / "resetting.elf"
    write_counter_kernel(kernel, delay=1000, reset_after=3)
    vmm = Vmm(tmp_path, "--kernel", str(kernel), "--memory", "size=64M")
    try:
        deadline = time.monotonic() + 30
        while vmm.events().count(("vm", "rebooted")) < 2:
            assert time.monotonic() < deadline, vmm.events()
            time.sleep(0.05)
        assert vmm.info()["state"] == "Running"
        vmm.ok("shutdown-vmm")
        assert vmm.wait() == 0
    finally:
        vmm.process.kill()
    assert vmm.events()[:5] == [
        ("vmm", "starting"),
        ("vm", "booting"),
        ("vm", "booted"),
        ("vm", "rebooting"),
        ("vm", "rebooted"),
    ]


def test_without_the_api_a_guest_reset_ends_the_vmm(tmp_path: Path) -> None:
    kernel = tmp_path / "resetting.elf"
    write_counter_kernel(kernel, delay=1000, reset_after=2)
    result = subprocess.run(
        [str(BIN / "cloud-hypervisor"), "--kernel", str(kernel), "--memory", "size=64M"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _exchange(path: str, data: bytes, *, close_early: bool = False) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(15)
        sock.connect(path)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        if close_early:
            return b""
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /api/v1/vm.info HTTP/1.1\r\nHost: loc", b""),  # truncated headers: closed
        (b"PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", b" 413 "),
        (bytes(range(256)) * 8, b" 400 "),
        (b"PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 5\r\n\r\n{", b" 400 "),
        (b"\r\n\r\n\r\n", b""),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b" 431 "),
    ],
)
def test_malformed_requests_leave_the_vmm_and_the_vm_running(
    vmm: Vmm, config_file: Path, data: bytes, status: bytes
) -> None:
    vmm.ok("create", str(config_file))
    vmm.ok("boot")
    answer = _exchange(vmm.socket, data)
    if status:
        assert answer.startswith(b"HTTP/1.1")
        assert status in answer.split(b"\r\n")[0]
    else:
        assert not answer.startswith(b"HTTP/1.1 2")
    _exchange(vmm.socket, data, close_early=True)
    assert vmm.info()["state"] == "Running"
    lines = len(vmm.counts())
    vmm.wait_for_lines(lines + 2)
    assert vmm.process.poll() is None
