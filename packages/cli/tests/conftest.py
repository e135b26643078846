"""Fixtures for the command-line tests: real kernel-shaped files and a clean root logger."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from vmm.testing import pvh_kernel, serve_api, write_counter_kernel


@pytest.fixture
def kernel(tmp_path: Path) -> str:
    """A tiny x86-64 ELF vmlinux with a PVH entry (one HLT; `vmm.testing.pvh_kernel`)."""
    path = tmp_path / "vmlinux"
    path.write_bytes(pvh_kernel(b"\xf4"))
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
    """A real API service on a socket, its control loop in a thread (no VM is booted);
    the one the VMM's own API tests use (`vmm.testing.serve_api`)."""
    path = str(tmp_path / "api.sock")
    with serve_api(path):
        yield path


@pytest.fixture
def vm_json(tmp_path: Path) -> str:
    """A VmConfig JSON file whose kernel is the tiny counting guest."""
    kernel = tmp_path / "counter.elf"
    write_counter_kernel(kernel)
    path = tmp_path / "vm.json"
    path.write_text(json.dumps({"payload": {"kernel": str(kernel)}, "memory": {"size": 64 << 20}}))
    return str(path)
