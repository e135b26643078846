"""Logging as CH sets it up: `-v` count to level, `--log-file` or stderr, CH's line format.

`--log-format` takes CH's template language: `{token}` is replaced per record,
`{{` and `}}` are literal braces, and an unknown token, a lone `}` or an
unterminated `{` is refused at startup, as CH refuses them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["TOKENS", "LogFormatError", "configure_logging", "level_for_verbosity"]

# Python has no TRACE; -vvv logs everything down to this level.
TRACE = 5


def _process_start() -> float:
    """Wall-clock time the process started (CH's {boottime} counts from VMM start)."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # seconds after host boot
        return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError):
        return time.time()


_WALL_START = _process_start()

# (lowest level, name, letter) as Rust's log crate prints them; below DEBUG is TRACE.
_LEVELS = (
    (logging.ERROR, "ERROR", "E"),
    (logging.WARNING, "WARN", "W"),
    (logging.INFO, "INFO", "I"),
    (logging.DEBUG, "DEBUG", "D"),
)


def _level(levelno: int) -> tuple[str, str]:
    """CH's level word and glog letter for a Python level (CRITICAL is an ERROR)."""
    for lowest, name, letter in _LEVELS:
        if levelno >= lowest:
            return name, letter
    return "TRACE", "T"


class _Moment:
    """One record being rendered: its instant is broken down at most once per zone,
    so that every date token of a line names the same microsecond (as in CH)."""

    def __init__(self, record: logging.LogRecord) -> None:
        self.record = record

    # datetime loads with the first date token (not on the way to the first KVM_RUN).
    @cached_property
    def utc(self) -> datetime:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(self.record.created, UTC)

    @cached_property
    def local(self) -> datetime:
        from datetime import datetime

        return datetime.fromtimestamp(self.record.created).astimezone()


def _offset(moment: datetime) -> str:
    """`+HH:MM`, as jiff's `%:z` (UTC is `+00:00`)."""
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds()) // 60 if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _glog(moment: datetime) -> str:
    """glog's timestamp `MMDD HH:MM:SS.uuuuuu`."""
    return moment.strftime("%m%d %H:%M:%S.%f")


# The broken-down date fields; each has a `local` variant in the system time zone.
_FIELDS: dict[str, Callable[[datetime], str]] = {
    "year": lambda moment: f"{moment.year:04d}",
    "month": lambda moment: f"{moment.month:02d}",
    "day": lambda moment: f"{moment.day:02d}",
    "hour": lambda moment: f"{moment.hour:02d}",
    "minute": lambda moment: f"{moment.minute:02d}",
    "second": lambda moment: f"{moment.second:02d}",
    "micros": lambda moment: f"{moment.microsecond:06d}",
    "offset": _offset,
}


def _field(name: str, *, local: bool) -> Callable[[_Moment], str]:
    render = _FIELDS[name]
    if local:
        return lambda moment: render(moment.local)
    return lambda moment: render(moment.utc)


def _location(record: logging.LogRecord) -> str:
    return f"{record.pathname}:{record.lineno}" if record.pathname else record.name


_NAMED: dict[str, Callable[[_Moment], str]] = {
    # seconds since start, 6 decimals, right-aligned in 10 columns (CH's `{:>10.6?}`)
    "boottime": lambda m: f"{m.record.created - _WALL_START:>10.6f}",
    "wallclock": lambda m: m.utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),  # RFC 3339, microseconds
    "glog": lambda m: _glog(m.utc),
    "localglog": lambda m: _glog(m.local),
    "pid": lambda m: str(m.record.process if m.record.process is not None else os.getpid()),
    # records are formatted by the thread that logs them (stream and file handlers)
    "tid": lambda m: str(threading.get_native_id()),
    "thread": lambda m: m.record.threadName or "anonymous",
    "level": lambda m: _level(m.record.levelno)[0],
    "levelchar": lambda m: _level(m.record.levelno)[1],
    "location": lambda m: _location(m.record),
    "msg": lambda m: m.record.getMessage(),
}
TOKENS: dict[str, Callable[[_Moment], str]] = {
    **_NAMED,
    **{name: _field(name, local=False) for name in _FIELDS},
    **{f"local{name}": _field(name, local=True) for name in _FIELDS},
}
"""Every `--log-format` token CH's logger knows, by name (without the braces)."""

_KNOWN = (
    ", ".join(f"{{{name}}}" for name in _NAMED)
    + ", the date fields "
    + ", ".join(f"{{{name}}}" for name in _FIELDS)
    + " and their {local...} forms"
)


class LogFormatError(ValueError):
    """A `--log-format` CH's logger would refuse (unknown token, unbalanced brace)."""


def _parse_template(template: str) -> tuple[str | Callable[[_Moment], str], ...]:
    """The template as literal strings and token renderers, in order; CH's grammar."""
    parts: list[str | Callable[[_Moment], str]] = []
    literal: list[str] = []
    index = 0
    while index < len(template):
        char = template[index]
        doubled = template[index + 1 : index + 2] == char
        if char in "{}" and doubled:
            literal.append(char)
            index += 2
            continue
        if char == "}":
            raise LogFormatError("unmatched '}' (write '}}' for a literal brace)")
        if char == "{":
            end = template.find("}", index + 1)
            if end < 0:
                raise LogFormatError("unterminated '{' (write '{{' for a literal brace)")
            name = template[index + 1 : end]
            if name not in TOKENS:
                raise LogFormatError(f"unknown token {{{name}}} (known: {_KNOWN})")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(TOKENS[name])
            index = end + 1
            continue
        literal.append(char)
        index += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def level_for_verbosity(count: int) -> int:
    """0: warnings and errors (CH's default), 1: info, 2: debug, 3 or more: trace."""
    return (logging.WARNING, logging.INFO, logging.DEBUG)[count] if count < 3 else TRACE


class ChFormatter(logging.Formatter):
    """Formats records with CH's `{token}` templates."""

    def __init__(self, template: str) -> None:
        super().__init__()
        self._parts = _parse_template(template)

    def format(self, record: logging.LogRecord) -> str:
        moment = _Moment(record)
        text = "".join(part if isinstance(part, str) else part(moment) for part in self._parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(
    verbosity: int, log_file: str | None, template: str, stream: TextIO | None = None
) -> Callable[[], None]:
    """Send the root logger's records at the `-v` level to the log file or stderr.

    Returns a function that undoes it (closes the file, restores the level).
    Raises OSError when the log file cannot be created, LogFormatError for a bad format.
    """
    formatter = ChFormatter(template)
    handler: logging.Handler
    if log_file is not None:
        handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    previous = root.level
    root.setLevel(level_for_verbosity(verbosity))
    root.addHandler(handler)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()

    return undo
