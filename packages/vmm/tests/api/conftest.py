"""Fixtures for the API tests: a real server on a real socket, driven by a real control loop.

The control loop runs in a thread here (the VMM runs it in its main thread);
everything that does not start vCPUs works the same there.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from vmm.api.service import ApiService
from vmm.control import Vmm
from vmm.events import EventMonitor, open_event_monitor
from vmm.testing import write_counter_kernel
from vmm_api_helpers import Served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    events: EventMonitor = open_event_monitor(path=str(tmp_path / "events.json"))
    vmm = Vmm(events=events)
    service = ApiService.start(path=str(tmp_path / "api.sock"), version="9.9.9")
    service.attach(vmm.submit)
    loop = threading.Thread(target=vmm.run, daemon=True)
    loop.start()
    yield Served(str(tmp_path / "api.sock"), vmm, tmp_path / "events.json")
    if loop.is_alive():
        vmm.request_shutdown()
        loop.join(10)
    service.close()
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
