"""The event monitor writes events exactly as Cloud Hypervisor's does."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vmm.events import open_event_monitor


def test_events_are_pretty_json_separated_by_a_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "events"
    monitor = open_event_monitor(path=str(path))
    monitor.emit("vmm", "starting")
    monitor.emit("vm", "device-removed", {"id": "disk0"})
    monitor.close()
    text = path.read_text()
    assert text.endswith("}\n\n")
    first, second = (json.loads(part) for part in text.strip().split("\n\n"))
    assert first["source"] == "vmm"
    assert first["event"] == "starting"
    assert first["properties"] is None
    assert second["properties"] == {"id": "disk0"}
    assert text.startswith('{\n  "timestamp": {\n    "secs": 0,\n    "nanos": ')


def test_timestamps_count_from_the_monitors_start(tmp_path: Path) -> None:
    path = tmp_path / "events"
    monitor = open_event_monitor(path=str(path), start=0.0)  # monotonic clock's origin
    monitor.emit("vmm", "starting")
    monitor.close()
    stamp = json.loads(path.read_text())["timestamp"]
    assert stamp["secs"] > 0
    assert 0 <= stamp["nanos"] < 1_000_000_000


def test_an_existing_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "events"
    path.write_text("old content that is long enough to notice\n" * 10)
    open_event_monitor(path=str(path)).close()
    assert path.read_text() == ""


def test_an_inherited_fd_is_written_and_owned(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    monitor = open_event_monitor(fd=write_end)
    monitor.emit("vm", "booted")
    monitor.close()  # closes write_end: the reader sees the end
    with os.fdopen(read_end, "rb") as reader:
        assert json.loads(reader.read())["event"] == "booted"


def test_a_reader_that_does_not_keep_up_loses_events_instead_of_stalling(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    monitor = open_event_monitor(fd=write_end)
    for _ in range(2000):  # far more than a pipe buffer holds
        monitor.emit("vm", "paused")
    monitor.close()
    os.close(read_end)
