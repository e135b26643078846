"""VMM-wide options that are not part of a VM: `--api-socket` and `--event-monitor`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmm.config.errors import OptionError
from vmm.config.options import OptionParser

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = ["ApiSocketConfig", "EventMonitorConfig", "parse_api_socket", "parse_event_monitor"]


@dataclass(frozen=True, kw_only=True)
class ApiSocketConfig:
    """Where the HTTP API listens: a UNIX socket path, or a socket fd inherited from the parent."""

    path: str | None = None
    fd: int | None = None


@dataclass(frozen=True, kw_only=True)
class EventMonitorConfig:
    """Where VMM events are written as JSON: a file path (truncated) or an inherited fd."""

    path: str | None = None
    fd: int | None = None


def parse_api_socket(text: str) -> ApiSocketConfig:
    """`--api-socket path=<path>|fd=<fd>`; like CH, any other text is taken as the path."""
    try:
        parser = OptionParser("--api-socket", ("path", "fd")).parse(text)
    except OptionError:
        return ApiSocketConfig(path=text)
    fd = parser.i32("fd")
    if fd is not None:
        if fd < 0:
            raise OptionError("--api-socket", f"invalid fd {fd}", key="fd")
        return ApiSocketConfig(fd=fd)
    path = parser.get("path")
    return ApiSocketConfig(path=path if path is not None else text)


def parse_event_monitor(text: str) -> EventMonitorConfig:
    """`--event-monitor path=<path>|fd=<fd>`: one of the two is required."""
    parser = OptionParser("--event-monitor", ("path", "fd")).parse(text)
    fd = parser.i32("fd")
    if fd is not None:
        if fd < 0:
            raise OptionError("--event-monitor", f"invalid fd {fd}", key="fd")
        return EventMonitorConfig(fd=fd)
    path = parser.get("path")
    if path is None:
        raise OptionError("--event-monitor", "path or fd required")
    return EventMonitorConfig(path=path)
