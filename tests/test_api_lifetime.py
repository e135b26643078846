"""A long life through the API leaks nothing: 50 create/boot/shutdown/delete cycles, then
50 boots that fail half-way (a tap already created, guest RAM mapped, vCPUs made),
leave the VMM with the fds, threads and memory it had after the first cycle, and the
same tap name can be used again at once.

The VMM runs in a network namespace of the test's own, where its tap lives; the
guest is the tiny counting payload of `vmm.testing`.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli.client import ApiClient, ApiError
from harness import network_namespace
from vmm.testing import write_counter_kernel

pytestmark = pytest.mark.kvm

BIN = Path(sys.executable).parent
CYCLES = 50
RSS_MARGIN = 16 << 20  # allocator slack, not a leak: one leaked VM's RAM is 64 MiB


class Usage:
    """What the VMM process holds: open fds, threads, resident memory."""

    def __init__(self, pid: int) -> None:
        self.fds = len(os.listdir(f"/proc/{pid}/fd"))
        self.threads = len(os.listdir(f"/proc/{pid}/task"))
        status = Path(f"/proc/{pid}/status").read_text()
        rss_kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        self.rss = int(rss_kib) << 10

    def __repr__(self) -> str:
        return f"Usage(fds={self.fds}, threads={self.threads}, rss={self.rss >> 20} MiB)"

    def within(self, baseline: Usage) -> bool:
        return (
            self.fds <= baseline.fds
            and self.threads <= baseline.threads
            and self.rss <= baseline.rss + RSS_MARGIN
        )


@pytest.fixture
def vmm(tmp_path: Path) -> Iterator[tuple[ApiClient, int]]:
    socket_path = str(tmp_path / "api.sock")
    with network_namespace("life") as netns:
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, str(BIN / "cloud-hypervisor"),
             "--api-socket", f"path={socket_path}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        client = ApiClient(socket_path, timeout=30)
        deadline = time.monotonic() + 30
        while not Path(socket_path).exists() or not _answers(client):
            assert process.poll() is None, process.stderr and process.stderr.read()
            assert time.monotonic() < deadline, "the API socket never answered"
            time.sleep(0.02)
        try:
            yield client, process.pid  # `ip netns exec` execs the VMM: same pid
        finally:
            process.kill()
            process.wait()


def _answers(client: ApiClient) -> bool:
    try:
        client.ping()
    except OSError:
        return False
    return True


def _config(tmp_path: Path) -> dict[str, object]:
    kernel = tmp_path / "counter.elf"
    write_counter_kernel(kernel, delay=1000)
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    return {
        "payload": {"kernel": str(kernel)},
        "memory": {"size": 64 << 20},
        "serial": {"mode": "File", "file": str(tmp_path / "serial.txt")},
        "console": {"mode": "Off"},
        # The tap is built first (its slot is asked for), the disk after it.
        "net": [{"tap": "chlife0", "pci_device_id": 3}],
        "disks": [{"path": str(disk)}],
    }


def _cycle(client: ApiClient, config: dict[str, object]) -> None:
    client.create(json.dumps(config))
    client.boot()
    assert client.info()["state"] == "Running"
    client.shutdown()
    client.delete()


def test_cycles_and_failed_boots_leak_nothing(vmm: tuple[ApiClient, int], tmp_path: Path) -> None:
    client, pid = vmm
    config = _config(tmp_path)
    _cycle(client, config)
    baseline = Usage(pid)
    for _ in range(CYCLES):
        _cycle(client, config)
    after_cycles = Usage(pid)
    assert after_cycles.within(baseline), (baseline, after_cycles)

    # The disk is locked by someone else: each boot fails after the tap, the RAM and
    # the vCPUs exist, and must give all of them back.
    with Path(config["disks"][0]["path"]).open("rb") as held:  # type: ignore[index]
        fcntl.flock(held, fcntl.LOCK_EX)
        for _ in range(CYCLES):
            client.create(json.dumps(config))
            with pytest.raises(ApiError) as refused:
                client.boot()
            assert refused.value.status == 500
            assert "lock" in refused.value.message
            client.delete()
    after_failures = Usage(pid)
    assert after_failures.within(baseline), (baseline, after_failures)

    _cycle(client, config)  # the same tap name works again at once: nothing held it
