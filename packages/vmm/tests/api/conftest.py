"""Fixtures for the API tests: a real server on a real socket, driven by a real control loop
(`vmm.testing.serve_api`, which the command line's tests share)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vmm.events import EventMonitor, open_event_monitor
from vmm.testing import serve_api, write_counter_kernel
from vmm_api_helpers import Served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    path, events_path = str(tmp_path / "api.sock"), tmp_path / "events.json"
    events: EventMonitor = open_event_monitor(path=str(events_path))
    with serve_api(path, version="9.9.9", events=events) as control:
        yield Served(path, control, events_path)
    events.close()


@pytest.fixture
def counter_kernel(tmp_path: Path) -> str:
    path = tmp_path / "counter.elf"
    write_counter_kernel(path, delay=1000)
    return str(path)


@pytest.fixture
def vm_config(counter_kernel: str, tmp_path: Path) -> dict[str, object]:
    return {
        "payload": {"kernel": counter_kernel},
        "memory": {"size": 64 << 20},
        "serial": {"mode": "File", "file": str(tmp_path / "serial.txt")},
    }
