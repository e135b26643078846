"""Logging as CH does it: -v levels, CH's line format and its --log-format tokens, the log file."""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli.logs import (
    TOKENS,
    TRACE,
    ChFormatter,
    LogFormatError,
    configure_logging,
    level_for_verbosity,
)

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


# --log-format tokens, each rendered for one fixed record: 2024-12-03 15:04:05.123456 UTC.
INSTANT = datetime(2024, 12, 3, 15, 4, 5, 123456, tzinfo=UTC)


def _render(template: str, *, level: int = logging.INFO, when: datetime = INSTANT) -> str:
    record = logging.LogRecord("vmm", level, "/src/vmm/vm.py", 12, "VM %s", ("started",), None)
    record.created = when.timestamp()
    return ChFormatter(template).format(record)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Sets the process time zone (POSIX TZ syntax) for the local tokens; restored after."""

    def use(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def test_every_token_renders() -> None:
    for name in TOKENS:
        assert _render("{" + name + "}"), name


def test_msg_is_the_formatted_message() -> None:
    assert _render("{msg}") == "VM started"


def test_location_is_file_and_line() -> None:
    assert _render("{location}") == "/src/vmm/vm.py:12"


def test_wallclock_is_rfc3339_utc_with_microseconds() -> None:
    assert _render("{wallclock}") == "2024-12-03T15:04:05.123456Z"


def test_boottime_is_seconds_right_aligned_in_ten_columns() -> None:
    assert re.fullmatch(r" *\d+\.\d{6}", _render("{boottime}", when=datetime.now(UTC)))
    assert len(_render("{boottime}", when=datetime.now(UTC))) == 10


def test_glog_is_the_utc_glog_timestamp() -> None:
    assert _render("{glog}") == "1203 15:04:05.123456"


def test_localglog_is_the_glog_timestamp_in_the_local_zone(zone: Callable[[str], None]) -> None:
    zone("IST-5:30")
    assert _render("{localglog}") == "1203 20:34:05.123456"


@pytest.mark.parametrize(
    ("level", "word", "letter"),
    [
        (logging.CRITICAL, "ERROR", "E"),
        (logging.ERROR, "ERROR", "E"),
        (logging.WARNING, "WARN", "W"),
        (logging.INFO, "INFO", "I"),
        (logging.DEBUG, "DEBUG", "D"),
        (TRACE, "TRACE", "T"),
    ],
)
def test_level_and_levelchar_name_the_level_as_ch(level: int, word: str, letter: str) -> None:
    assert _render("{level} {levelchar}", level=level) == f"{word} {letter}"


def test_pid_is_the_process_id() -> None:
    assert _render("{pid}") == str(os.getpid())


def test_tid_is_the_kernel_id_of_the_logging_thread() -> None:
    stream = io.StringIO()
    undo = configure_logging(0, None, "{tid}", stream)
    ids: list[int] = []

    def log() -> None:
        ids.append(threading.get_native_id())
        logging.getLogger("vmm").warning("from a thread")

    try:
        logging.getLogger("vmm").warning("from the main thread")
        thread = threading.Thread(target=log)
        thread.start()
        thread.join()
    finally:
        undo()
    assert stream.getvalue().splitlines() == [str(threading.get_native_id()), str(ids[0])]


def test_utc_date_fields() -> None:
    template = "{year}-{month}-{day}T{hour}:{minute}:{second}.{micros}{offset}"
    assert _render(template) == "2024-12-03T15:04:05.123456+00:00"


def test_local_date_fields_follow_the_time_zone(zone: Callable[[str], None]) -> None:
    zone("IST-5:30")
    template = (
        "{localyear}-{localmonth}-{localday}T{localhour}:{localminute}:{localsecond}"
        ".{localmicros}{localoffset}"
    )
    assert _render(template) == "2024-12-03T20:34:05.123456+05:30"


def test_a_zone_west_of_utc_has_a_negative_offset(zone: Callable[[str], None]) -> None:
    zone("PST+8")
    assert _render("{localday} {localhour} {localoffset}") == "03 07 -08:00"


def test_date_fields_are_zero_padded() -> None:
    early = datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=UTC)
    assert _render("{month} {day} {hour} {minute} {second} {micros}", when=early) == (
        "01 02 03 04 05 000007"
    )


def test_a_glog_header_is_composed_from_tokens() -> None:
    line = _render("{levelchar}{glog} {pid} {location}] {msg}", level=logging.WARNING)
    assert line == f"W1203 15:04:05.123456 {os.getpid()} /src/vmm/vm.py:12] VM started"


def test_doubled_braces_are_literal_braces() -> None:
    assert _render("{{msg}} {{{msg}}}") == "{msg} {VM started}"


@pytest.mark.parametrize("token", ["{when}", "{Msg}", "{}", "{ msg}", "{localglog2}"])
def test_an_unknown_token_is_refused(token: str) -> None:
    with pytest.raises(LogFormatError, match="^unknown token " + re.escape(token)):
        configure_logging(0, None, f"{token} {{msg}}", io.StringIO())


def test_local_prefixes_only_the_date_fields() -> None:
    for name in ("localboottime", "localmsg", "localwallclock", "locallevel"):
        with pytest.raises(LogFormatError, match="unknown token"):
            ChFormatter("{" + name + "}")


def test_a_lone_closing_brace_is_refused() -> None:
    with pytest.raises(LogFormatError, match=re.escape("unmatched '}'")):
        ChFormatter("{msg} }")


def test_an_unterminated_token_is_refused() -> None:
    with pytest.raises(LogFormatError, match=re.escape("unterminated '{'")):
        ChFormatter("{msg} {level")
