"""Logging as CH sets it up: `-v` count to level, `--log-file` or stderr, CH's line format."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["LogFormatError", "configure_logging", "level_for_verbosity"]

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
_TOKEN = re.compile(r"\{([a-z]*)\}")
_LEVEL_NAMES = {
    logging.CRITICAL: "ERROR",
    logging.ERROR: "ERROR",
    logging.WARNING: "WARN",
    logging.INFO: "INFO",
    logging.DEBUG: "DEBUG",
}
_TOKENS: dict[str, Callable[[logging.LogRecord], str]] = {
    "boottime": lambda record: f"{record.created - _WALL_START:.6f}",
    "wallclock": lambda record: (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z"
    ),
    "thread": lambda record: record.threadName or "",
    "level": lambda record: _LEVEL_NAMES.get(record.levelno, "TRACE"),
    "location": lambda record: f"{record.pathname}:{record.lineno}",
    "msg": lambda record: record.getMessage(),
}


class LogFormatError(ValueError):
    """A `--log-format` token this logger does not know."""


def level_for_verbosity(count: int) -> int:
    """0: warnings and errors (CH's default), 1: info, 2: debug, 3 or more: trace."""
    return (logging.WARNING, logging.INFO, logging.DEBUG)[count] if count < 3 else TRACE


class ChFormatter(logging.Formatter):
    """Formats records with CH's `{token}` templates."""

    def __init__(self, template: str) -> None:
        super().__init__()
        parts = _TOKEN.split(template)
        for token in parts[1::2]:
            if token not in _TOKENS:
                known = ", ".join("{" + name + "}" for name in _TOKENS)
                raise LogFormatError(f"unknown token {{{token}}} (known: {known})")
        self._parts = parts

    def format(self, record: logging.LogRecord) -> str:
        out = [
            part if index % 2 == 0 else _TOKENS[part](record)
            for index, part in enumerate(self._parts)
        ]
        text = "".join(out)
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
