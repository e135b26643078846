"""Fixtures for the command-line tests: real kernel-shaped files and a clean root logger."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def kernel(tmp_path: Path) -> str:
    """A file that starts like an x86-64 ELF vmlinux (what validation sniffs)."""
    path = tmp_path / "vmlinux"
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1)
    path.write_bytes(header + bytes(4096 - len(header)))
    return str(path)


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)


@pytest.fixture
def api_socket(tmp_path: Path) -> Iterator[str]:
    """A real API service on a socket, its control loop in a thread (no VM is booted)."""
    import threading

    import vmm

    path = str(tmp_path / "api.sock")
    control = vmm.Vmm()
    service = vmm.ApiService.start(path=path, version="0.1.0")
    service.attach(control.submit)
    loop = threading.Thread(target=control.run, daemon=True)
    loop.start()
    yield path
    if loop.is_alive():
        control.request_shutdown()
        loop.join(10)
    service.close()


@pytest.fixture
def vm_json(tmp_path: Path) -> str:
    """A VmConfig JSON file whose kernel is the tiny counting guest."""
    import json

    from vmm.testing import write_counter_kernel

    kernel = tmp_path / "counter.elf"
    write_counter_kernel(kernel)
    path = tmp_path / "vm.json"
    path.write_text(json.dumps({"payload": {"kernel": str(kernel)}, "memory": {"size": 64 << 20}}))
    return str(path)
