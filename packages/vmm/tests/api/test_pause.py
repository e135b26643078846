"""Pause really stops the vCPUs; resume continues where they stopped (real KVM, tiny guest)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vmm.config import ConsoleOutputMode, MemoryConfig, PayloadConfig, SerialConfig, VmConfig
from vmm.launch import LaunchedVm

pytestmark = pytest.mark.kvm


def _counts(path: Path) -> list[int]:
    return [int(line, 16) for line in path.read_text().split("\n")[:-1]]


def _wait_for_lines(path: Path, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(path.read_text().split("\n")) <= count:
        assert time.monotonic() < deadline, f"fewer than {count} lines in {timeout} s"
        time.sleep(0.05)


@pytest.fixture
def running(counter_kernel: str, tmp_path: Path) -> Iterator[tuple[LaunchedVm, Path]]:
    serial = tmp_path / "serial.txt"
    config = VmConfig(
        payload=PayloadConfig(kernel=counter_kernel),
        memory=MemoryConfig(size=64 << 20),
        serial=SerialConfig(mode=ConsoleOutputMode.FILE, file=str(serial)),
    )
    vm = LaunchedVm(config, start_time=time.monotonic())
    vm.start()
    yield vm, serial
    vm.stop()


def test_a_paused_guest_stops_counting(running: tuple[LaunchedVm, Path]) -> None:
    vm, serial = running
    _wait_for_lines(serial, 3)
    vm.pause()
    assert vm.vm.paused
    size = serial.stat().st_size
    time.sleep(0.6)
    assert serial.stat().st_size == size


def test_a_resumed_guest_continues_with_the_next_number(running: tuple[LaunchedVm, Path]) -> None:
    vm, serial = running
    _wait_for_lines(serial, 3)
    vm.pause()
    time.sleep(0.2)
    before = len(_counts(serial))
    vm.resume()
    _wait_for_lines(serial, before + 3)
    counts = _counts(serial)
    assert counts == list(range(1, len(counts) + 1))


def test_a_paused_vm_stops_cleanly(running: tuple[LaunchedVm, Path]) -> None:
    vm, serial = running
    _wait_for_lines(serial, 1)
    vm.pause()
    started = time.monotonic()
    vm.stop()
    assert time.monotonic() - started < 2.0
