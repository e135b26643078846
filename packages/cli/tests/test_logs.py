"""Logging as CH does it: -v levels, CH's line format, the log file."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from cli.logs import TRACE, LogFormatError, configure_logging, level_for_verbosity

DEFAULT = "cloud-hypervisor: {boottime}s: <{thread}> {level}:{location} -- {msg}"


@pytest.mark.parametrize(
    ("count", "level"),
    [(0, logging.WARNING), (1, logging.INFO), (2, logging.DEBUG), (3, TRACE), (7, TRACE)],
)
def test_v_count_sets_the_level(count: int, level: int) -> None:
    assert level_for_verbosity(count) == level


def test_by_default_only_warnings_and_errors_are_logged() -> None:
    stream = io.StringIO()
    undo = configure_logging(0, None, "{level} {msg}", stream)
    try:
        logging.getLogger("vmm").info("hidden")
        logging.getLogger("vmm").warning("shown")
    finally:
        undo()
    assert stream.getvalue() == "WARN shown\n"


def test_lines_follow_chs_default_format() -> None:
    stream = io.StringIO()
    undo = configure_logging(1, None, DEFAULT, stream)
    try:
        logging.getLogger("vmm").info("VM started")
    finally:
        undo()
    line = stream.getvalue()
    assert line.startswith("cloud-hypervisor: ")
    assert "s: <MainThread> INFO:" in line
    assert "test_logs.py:" in line
    assert line.endswith(" -- VM started\n")


def test_the_log_file_is_created_and_truncated(tmp_path: Path) -> None:
    log_file = tmp_path / "ch.log"
    log_file.write_text("old contents\n")
    undo = configure_logging(0, str(log_file), "{msg}")
    try:
        logging.getLogger("vmm").error("failed")
    finally:
        undo()
    assert log_file.read_text() == "failed\n"


def test_undo_restores_the_root_logger() -> None:
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    configure_logging(2, None, "{msg}", io.StringIO())()
    assert (root.level, list(root.handlers)) == before


def test_an_unknown_token_is_refused() -> None:
    with pytest.raises(LogFormatError, match=r"unknown token \{when\}"):
        configure_logging(0, None, "{when} {msg}", io.StringIO())
