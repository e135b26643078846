"""`ch-remote restore`, `send-migration` and `receive-migration` arguments as CH's JSON bodies.

Each takes CH's `key=value,...` syntax with all of CH's keys and defaults, is
checked as CH's ch-remote checks it before sending (required keys, URL shape,
TLS directory, exclusive options), and becomes the body CH sends: every
field present, in CH's order, enums by variant name (`"OnDemand"`).

File descriptors (`net_fds`, `vfio_fds`, `iommufd_fd`) do not travel in the
JSON: CH sends them beside the request (SCM_RIGHTS) and leaves null in their
place, keeping the ids and `num_fds`; `WithFds` carries both.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from vmm.config.errors import OptionError
from vmm.config.options import OptionParser
from vmm.config.values import (
    I32_MAX,
    I32_MIN,
    U16_MAX,
    U32_MAX,
    U64_MAX,
    choice,
    parse_int,
    parse_integer_list,
    parse_toggle,
    parse_tuple_list,
)

__all__ = [
    "RECEIVE_MIGRATION_SYNTAX",
    "RESTORE_SYNTAX",
    "SEND_MIGRATION_SYNTAX",
    "BodyError",
    "WithFds",
    "receive_migration_data",
    "restore_config",
    "send_migration_data",
]

T = TypeVar("T")

RESTORE_SYNTAX = (
    '"source_url=<source_url>,prefault=on|off,memory_restore_mode=copy|ondemand,'
    "net_fds=<[net_id@[fd,...],...]>,vfio_fds=<[device_id@fd,...]>,iommufd_fd=<fd>,"
    'resume=on|off,zone_updates=<[zone_id@host_numa_node,...]>"'
)
RECEIVE_MIGRATION_SYNTAX = (
    '"receiver_url=<tcp:host:port|unix:path>,tls_dir=<dir>,memory_mode=precopy|postcopy,'
    'vfio_fds=<[device_id@fd,...]>,iommufd_fd=<fd>,zone_updates=<[zone_id@host_numa_node,...]>"'
)
SEND_MIGRATION_SYNTAX = (
    '"destination_url=<tcp:host:port|unix:path>,local=on|off,preserve_source=on|off,'
    "downtime_ms=<milliseconds>,timeout_s=<seconds>,timeout_strategy=cancel|ignore,"
    'connections=<count>,tls_dir=<dir>,memory_mode=precopy|postcopy"'
)

_MEMORY_MODES = {"precopy": "Precopy", "postcopy": "Postcopy"}
_MAX_MIGRATION_CONNECTIONS = 128  # CH's limit
_CLIENT_TLS_FILES = ("ca-cert.pem", "client-cert.pem", "client-key.pem")
_SERVER_TLS_FILES = ("ca-cert.pem", "server-cert.pem", "server-key.pem")


class BodyError(Exception):
    """The arguments do not make a valid body; the message is CH's heading and the cause."""


@dataclass(frozen=True)
class WithFds:
    """A JSON body and the file descriptors that go beside it, in CH's order."""

    body: dict[str, object]
    fds: tuple[int, ...]


class _Arguments:
    """One `key=value,...` argument, read with the VMM's option parser; errors carry `heading`."""

    def __init__(self, text: str, heading: str, keys: tuple[str, ...]) -> None:
        self.heading = heading
        self.parser = OptionParser("", keys)
        try:
            self.parser.parse(text)
        except OptionError as error:
            raise self.fail(error.message) from None

    def fail(self, message: str) -> BodyError:
        return BodyError(f"{self.heading}: {message}")

    def required(self, key: str) -> str:
        value = self.parser.get(key)
        if value is None:
            raise self.fail(f"{key} is required")
        return value

    def given(self, key: str) -> bool:
        return self.parser.get(key) is not None

    def convert(self, key: str, parse: Callable[[str], T], *, raw: bool = False) -> T | None:
        """The value through `parse` (`raw`: with its quotes, for lists); None when absent."""
        try:
            if raw:
                return self.parser.convert_raw(key, parse)
            return self.parser.convert(key, parse)
        except OptionError as error:
            raise self.fail(error.message) from None

    def toggle(self, key: str) -> bool:
        return self.convert(key, parse_toggle) or False

    def variant(self, key: str, variants: dict[str, str]) -> str:
        """The enum variant named by the value (any case); the first one by default."""
        value = self.convert(key, choice(variants))
        return value if value is not None else next(iter(variants.values()))

    def count(self, key: str, high: int, default: int) -> int:
        """A non-zero integer up to `high`."""
        value = self.convert(key, lambda text: parse_int(text, 0, high))
        if value == 0:
            raise self.fail(f"{key} must be non-zero")
        return default if value is None else value

    def fd(self, key: str) -> int | None:
        return self.convert(key, lambda text: parse_int(text, I32_MIN, I32_MAX))

    def pairs(self, key: str, value: Callable[[str], T]) -> tuple[tuple[str, T], ...]:
        """`[id@value,...]`; empty when the key is absent."""
        pairs = self.convert(key, lambda text: parse_tuple_list(text, str, value), raw=True)
        return pairs or ()

    def vfio_fds(self) -> tuple[tuple[str, int], ...]:
        return self.pairs("vfio_fds", lambda text: parse_int(text, 0, I32_MAX))

    def zone_updates(self) -> list[dict[str, object]]:
        pairs = self.pairs("zone_updates", lambda text: parse_int(text, 0, U32_MAX))
        zones = [zone for zone, _ in pairs]
        if "" in zones:
            raise self.fail("a zone update has an empty zone id")
        if len(set(zones)) != len(zones):
            raise self.fail("more than one update for the same memory zone")
        return [{"id": zone, "host_numa_node": node} for zone, node in pairs]

    def tls_dir(self, files: tuple[str, ...]) -> str | None:
        """A directory holding the TLS `files`, each a readable regular file."""
        directory = self.parser.get("tls_dir")
        if directory is None:
            return None
        if not os.path.isdir(directory):
            raise self.fail(f"tls_dir {directory} is not a directory")
        for name in files:
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as file:
                    regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
            except OSError as error:
                raise self.fail(f"TLS file {path}: {error.strerror}") from None
            if not regular:
                raise self.fail(f"TLS file {path} is not a regular file")
        return directory

    def socket_url(self, key: str) -> str:
        """`tcp:<host>:<port>` (`tcp:[<v6>]:<port>` too) or `unix:<path>`."""
        url = self.required(key)
        scheme, _, address = url.partition(":")
        if scheme == "unix" and address:
            return url
        if scheme != "tcp":
            raise self.fail(f"{key} must be tcp:<host>:<port> or unix:<path>, not {url!r}")
        if address.startswith("["):
            host, bracket, port = address[1:].partition("]")
            if not bracket or not port.startswith(":"):
                raise self.fail(f"{key} {url!r}: expected [<ipv6 address>]:<port>")
            port = port[1:]
        else:
            host, colon, port = address.rpartition(":")
            if not colon:
                raise self.fail(f"{key} {url!r}: the TCP port is missing")
        if not host or not port:
            raise self.fail(f"{key} {url!r}: the host and the port must not be empty")
        try:
            parse_int(port, 0, U16_MAX)
        except ValueError:
            raise self.fail(f"{key} {url!r}: invalid TCP port {port!r}") from None
        return url


def restore_config(text: str) -> WithFds:
    """CH's RestoreConfig; the descriptors of net_fds, then vfio_fds, then iommufd_fd."""
    arguments = _Arguments(
        text,
        "Error parsing restore syntax",
        (
            "source_url",
            "prefault",
            "memory_restore_mode",
            "net_fds",
            "vfio_fds",
            "iommufd_fd",
            "resume",
            "zone_updates",
        ),
    )
    source_url = arguments.required("source_url")
    nets = arguments.pairs("net_fds", lambda text: parse_integer_list(text, I32_MAX))
    vfio = arguments.vfio_fds()
    iommufd = arguments.fd("iommufd_fd")
    body: dict[str, object] = {
        "source_url": source_url,
        "prefault": arguments.toggle("prefault"),
        "memory_restore_mode": arguments.variant(
            "memory_restore_mode", {"copy": "Copy", "ondemand": "OnDemand"}
        ),
        "net_fds": [{"id": net, "num_fds": len(fds), "fds": None} for net, fds in nets]
        if arguments.given("net_fds")
        else None,
        "vfio_fds": _vfio_ids(vfio) if arguments.given("vfio_fds") else None,
        "iommufd_fd": None,
        "resume": arguments.toggle("resume"),
        "zone_updates": arguments.zone_updates(),
    }
    fds = [fd for _, net_fds in nets for fd in net_fds] + [fd for _, fd in vfio]
    return WithFds(body, (*fds, *(() if iommufd is None else (iommufd,))))


def receive_migration_data(text: str) -> WithFds:
    """CH's VmReceiveMigrationData; the descriptors of vfio_fds, then iommufd_fd."""
    arguments = _Arguments(
        text,
        "Error parsing receive migration configuration",
        ("receiver_url", "tls_dir", "memory_mode", "vfio_fds", "iommufd_fd", "zone_updates"),
    )
    url = arguments.socket_url("receiver_url")
    if url.startswith("unix:") and arguments.given("tls_dir"):
        raise arguments.fail("TLS cannot be used with a UNIX socket")
    vfio = arguments.vfio_fds()
    iommufd = arguments.fd("iommufd_fd")
    body: dict[str, object] = {
        "receiver_url": url,
        "tls_dir": arguments.tls_dir(_SERVER_TLS_FILES),
        "memory_mode": arguments.variant("memory_mode", _MEMORY_MODES),
        "vfio_fds": _vfio_ids(vfio) if arguments.given("vfio_fds") else None,
        "iommufd_fd": None,
        "zone_updates": arguments.zone_updates(),
    }
    fds = [fd for _, fd in vfio]
    return WithFds(body, (*fds, *(() if iommufd is None else (iommufd,))))


def send_migration_data(text: str) -> dict[str, object]:
    """CH's VmSendMigrationData with its defaults (300 ms downtime, 1 h timeout, 1 connection)."""
    arguments = _Arguments(
        text,
        "Error parsing send migration configuration",
        (
            "destination_url",
            "local",
            "preserve_source",
            "downtime_ms",
            "timeout_s",
            "timeout_strategy",
            "connections",
            "tls_dir",
            "memory_mode",
        ),
    )
    body: dict[str, object] = {
        "destination_url": arguments.socket_url("destination_url"),
        "local": arguments.toggle("local"),
        "preserve_source": arguments.toggle("preserve_source"),
        "downtime_ms": arguments.count("downtime_ms", U64_MAX, 300),
        "timeout_s": arguments.count("timeout_s", U64_MAX, 3600),
        "timeout_strategy": arguments.variant(
            "timeout_strategy", {"cancel": "Cancel", "ignore": "Ignore"}
        ),
        "connections": arguments.count("connections", U32_MAX, 1),
        "tls_dir": None,
        "memory_mode": arguments.variant("memory_mode", _MEMORY_MODES),
    }
    _check_send(arguments, body)
    body["tls_dir"] = arguments.tls_dir(_CLIENT_TLS_FILES)
    return body


def _check_send(arguments: _Arguments, body: dict[str, Any]) -> None:
    """The combinations CH's VmSendMigrationData refuses, in its order."""
    unix = body["destination_url"].startswith("unix:")
    local, connections = body["local"], body["connections"]
    postcopy = body["memory_mode"] == "Postcopy"
    refused = [
        (unix and connections > 1, "a UNIX socket takes one connection"),
        (unix and arguments.given("tls_dir"), "TLS cannot be used with a UNIX socket"),
        (
            connections > _MAX_MIGRATION_CONNECTIONS,
            f"connections must not exceed {_MAX_MIGRATION_CONNECTIONS}",
        ),
        (local and not unix, "local=on needs a unix: destination_url"),
        (local and connections > 1, "local=on takes one connection"),
        (body["preserve_source"] and not local, "preserve_source=on needs local=on"),
        (postcopy and local, "memory_mode=postcopy and local=on exclude each other"),
        (postcopy and connections > 1, "memory_mode=postcopy takes one connection"),
    ]
    for refuse, message in refused:
        if refuse:
            raise arguments.fail(message)


def _vfio_ids(vfio: tuple[tuple[str, int], ...]) -> list[dict[str, object]]:
    return [{"id": device, "fd": None} for device, _ in vfio]
