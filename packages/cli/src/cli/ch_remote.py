"""`ch-remote`: drive a running `cloud-hypervisor` through its REST API, as CH's tool does.

    ch-remote --api-socket /tmp/ch.sock create vm.json
    ch-remote --api-socket /tmp/ch.sock boot
    ch-remote --api-socket /tmp/ch.sock info

Same subcommands, arguments and output as CH's `ch-remote`: a response body
is printed as the VMM sent it (JSON), nothing is printed for 204, and an
error prints CH's numbered chain of messages on stderr with exit status 1.
Usage errors exit with 2, as clap does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from cli import __version__
from cli.client import ApiClient, ApiConnectionError, ApiError

__all__ = ["COMMANDS", "main"]

PROG = "ch-remote"

# command -> (method, endpoint, help); body builders below for those taking arguments
COMMANDS: dict[str, tuple[str, str, str]] = {
    "add-device": ("PUT", "vm.add-device", "Add VFIO device"),
    "add-disk": ("PUT", "vm.add-disk", "Add block device"),
    "add-fs": ("PUT", "vm.add-fs", "Add virtio-fs backed fs device"),
    "add-generic-vhost-user": (
        "PUT",
        "vm.add-generic-vhost-user",
        "Add generic vhost-user device",
    ),
    "add-net": ("PUT", "vm.add-net", "Add network device"),
    "add-pmem": ("PUT", "vm.add-pmem", "Add persistent memory device"),
    "add-user-device": ("PUT", "vm.add-user-device", "Add userspace device"),
    "add-vdpa": ("PUT", "vm.add-vdpa", "Add vDPA device"),
    "add-vsock": ("PUT", "vm.add-vsock", "Add vsock device"),
    "boot": ("PUT", "vm.boot", "Boot a created VM"),
    "coredump": ("PUT", "vm.coredump", "Create a coredump from VM"),
    "counters": ("GET", "vm.counters", "Counters from the VM"),
    "create": ("PUT", "vm.create", "Create VM from a JSON configuration"),
    "delete": ("PUT", "vm.delete", "Delete a VM"),
    "info": ("GET", "vm.info", "Info on the VM"),
    "nmi": ("PUT", "vm.nmi", "Trigger NMI"),
    "pause": ("PUT", "vm.pause", "Pause the VM"),
    "ping": ("GET", "vmm.ping", "Ping the VMM to check for API server availability"),
    "power-button": ("PUT", "vm.power-button", "Trigger a power button in the VM"),
    "reboot": ("PUT", "vm.reboot", "Reboot the VM"),
    "receive-migration": ("PUT", "vm.receive-migration", "Receive a VM migration"),
    "remove-device": ("PUT", "vm.remove-device", "Remove VFIO and PCI device"),
    "resize": ("PUT", "vm.resize", "Resize the VM"),
    "resize-disk": ("PUT", "vm.resize-disk", "Resize an attached disk"),
    "resize-zone": ("PUT", "vm.resize-zone", "Resize a memory zone"),
    "restore": ("PUT", "vm.restore", "Restore VM from a snapshot"),
    "resume": ("PUT", "vm.resume", "Resume the VM"),
    "send-migration": ("PUT", "vm.send-migration", "Initiate a VM migration"),
    "shutdown": ("PUT", "vm.shutdown", "Shutdown the VM"),
    "shutdown-vmm": ("PUT", "vmm.shutdown", "Shutdown the VMM"),
    "snapshot": ("PUT", "vm.snapshot", "Create a snapshot from VM"),
}

# Status names as CH's client prints them ("Server responded with NotFound").
_STATUS_NAMES = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "InternalServerError",
    501: "NotImplemented",
    503: "ServiceUnavailable",
}


class UsageError(Exception):
    pass


class CommandError(Exception):
    """A local failure before any request (unreadable file, bad device syntax)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run `ch-remote` with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = sys.stdout, sys.stderr
    try:
        socket_path, command, rest = _split(args)
    except UsageError as error:
        stderr.write(f"error: {error}\n\nFor more information, try '--help'.\n")
        return 2
    if command == "--help":
        stdout.write(_help())
        return 0
    if command == "--version":
        stdout.write(f"{PROG} v{__version__}\n")
        return 0
    if socket_path is None:
        stderr.write("Error: Please provide the api-socket option\n")
        return 1
    method, endpoint, _ = COMMANDS[command]
    body: Any
    try:
        body = _BODIES[command](rest) if command in _BODIES else _no_arguments(command, rest)
    except UsageError as error:
        stderr.write(f"error: {error}\n\nFor more information, try '--help'.\n")
        return 2
    except CommandError as error:
        _print_chain(stderr, [str(error)])
        return 1
    try:
        response = ApiClient(socket_path).call(method, endpoint, body)
    except ApiConnectionError as error:
        stderr.write(f"Error opening HTTP socket: {error.message}\n")
        return 1
    except ApiError as error:
        status = f"Server responded with {_STATUS_NAMES.get(error.status, error.status)}"
        _print_chain(stderr, ["http client error", status, *error.messages])
        return 1
    if response.body is not None:
        stdout.write(response.body.decode(errors="replace") + "\n")
    return 0


def _print_chain(stderr: TextIO, messages: list[str]) -> None:
    if len(messages) == 1:
        stderr.write(f"Error: {PROG} exited with the following error:\n  {messages[0]}\n")
        return
    stderr.write(f"Error: {PROG} exited with the following chain of errors:\n")
    for level, message in enumerate(messages):
        stderr.write(f"  {level}: {message}\n")


def _split(args: list[str]) -> tuple[str | None, str, list[str]]:
    socket_path = None
    while args:
        word = args.pop(0)
        if word in ("-h", "--help"):
            return socket_path, "--help", []
        if word in ("-V", "--version"):
            return socket_path, "--version", []
        if word == "--api-socket" or word.startswith("--api-socket="):
            if socket_path is not None:
                raise UsageError("the argument '--api-socket' cannot be used multiple times")
            _, eq, value = word.partition("=")
            if not eq:
                if not args:
                    raise UsageError("a value is required for '--api-socket <api-socket>'")
                value = args.pop(0)
            socket_path = value
        elif word.startswith("-"):
            raise UsageError(f"unexpected argument '{word}' found")
        elif word not in COMMANDS:
            raise UsageError(f"unrecognized subcommand '{word}'")
        else:
            return socket_path, word, args
    raise UsageError("a subcommand is required")


def _help() -> str:
    width = max(len(name) for name in COMMANDS) + 2
    lines = [
        "Remotely control a cloud-hypervisor VMM.",
        "",
        f"Usage: {PROG} [OPTIONS] <COMMAND>",
        "",
        "Commands:",
        *(f"  {name:<{width}}{about}" for name, (_, _, about) in COMMANDS.items()),
        "",
        "Options:",
        "      --api-socket <api-socket>  HTTP API socket path (UNIX domain socket).",
        "  -h, --help                     Print help",
        "  -V, --version                  Print version",
    ]
    return "\n".join(lines) + "\n"


def _no_arguments(command: str, rest: list[str]) -> object:
    if rest:
        raise UsageError(f"unexpected argument '{rest[0]}' found for '{command}'")
    return None


def _one(command: str, rest: list[str], name: str, *, default: str | None = None) -> str:
    if len(rest) > 1:
        raise UsageError(f"unexpected argument '{rest[1]}' found for '{command}'")
    if rest:
        return rest[0]
    if default is None:
        raise UsageError(f"the following required arguments were not provided: <{name}>")
    return default


def _flags(command: str, rest: list[str], names: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    words = list(rest)
    while words:
        word = words.pop(0)
        name, eq, value = word.removeprefix("--").partition("=")
        if not word.startswith("--") or name not in names:
            raise UsageError(f"unexpected argument '{word}' found for '{command}'")
        if not eq:
            if not words:
                raise UsageError(f"a value is required for '--{name} <{name}>'")
            value = words.pop(0)
        values[name] = value
    return values


def _create(rest: list[str]) -> str:
    path = _one("create", rest, "path", default="-")
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Error reading from file: {error}") from None


def _size(text: str, what: str) -> int:
    from vmm.config.values import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise CommandError(f"Error parsing {what}: {error}") from None


def _resize(rest: list[str]) -> dict[str, int]:
    values = _flags("resize", rest, ("balloon", "cpus", "memory"))
    body: dict[str, int] = {}
    if "cpus" in values:
        if not values["cpus"].isdigit():
            raise CommandError(f"Error parsing CPU count: invalid digit in {values['cpus']!r}")
        body["desired_vcpus"] = int(values["cpus"])
    if "memory" in values:
        body["desired_ram"] = _size(values["memory"], "memory size")
    if "balloon" in values:
        body["desired_balloon"] = _size(values["balloon"], "balloon size")
    return body


def _resize_pair(command: str, key: str, size_key: str) -> Callable[[list[str]], object]:
    def build(rest: list[str]) -> dict[str, object]:
        values = _flags(command, rest, (key, "size"))
        if key not in values or "size" not in values:
            raise UsageError(f"'{command}' needs --{key} and --size")
        return {"id": values[key], size_key: _size(values["size"], "size")}

    return build


def _device(command: str, long: str, *, option: str) -> Callable[[list[str]], object]:
    """Parse CH's `key=value` device syntax with the VMM's own parser, send it as JSON."""

    def build(rest: list[str]) -> object:
        from vmm.config import ConfigError
        from vmm.config.json import to_json
        from vmm.config.parse import parse_named_option

        text = _one(command, rest, f"{option}_config")
        try:
            return to_json(parse_named_option(long, text))
        except (ConfigError, ValueError) as error:
            raise CommandError(f"Error parsing {option} syntax: {error}") from None

    return build


def _keyed(command: str, key: str) -> Callable[[list[str]], object]:
    return lambda rest: {key: _one(command, rest, key)}


def _options(command: str, keys: tuple[str, ...], required: str) -> Callable[[list[str]], object]:
    """`key=value,...` arguments (restore, migrations) sent as a JSON object."""

    def build(rest: list[str]) -> object:
        body: dict[str, object] = {}
        for item in _one(command, rest, f"{command}_config").split(","):
            key, eq, value = item.partition("=")
            if key not in keys:
                raise CommandError(f"Error parsing {command} syntax: unknown option {key!r}")
            body[key] = (
                value in ("on", "true") if value in ("on", "off", "true", "false") else value
            )
            if not eq:
                body[key] = True
        if required not in body:
            raise CommandError(f"Error parsing {command} syntax: {required} is required")
        return body

    return build


_BODIES: dict[str, Callable[[list[str]], object]] = {
    "create": _create,
    "resize": _resize,
    "resize-disk": _resize_pair("resize-disk", "disk", "desired_size"),
    "resize-zone": _resize_pair("resize-zone", "id", "desired_ram"),
    "add-device": _device("add-device", "device", option="device"),
    "add-disk": _device("add-disk", "disk", option="disk"),
    "add-fs": _device("add-fs", "fs", option="fs"),
    "add-generic-vhost-user": _device(
        "add-generic-vhost-user", "generic-vhost-user", option="generic_vhost_user"
    ),
    "add-net": _device("add-net", "net", option="net"),
    "add-pmem": _device("add-pmem", "pmem", option="pmem"),
    "add-user-device": _device("add-user-device", "user-device", option="device"),
    "add-vdpa": _device("add-vdpa", "vdpa", option="vdpa"),
    "add-vsock": _device("add-vsock", "vsock", option="vsock"),
    "remove-device": lambda rest: {"id": _one("remove-device", rest, "id")},
    "snapshot": _keyed("snapshot", "destination_url"),
    "coredump": _keyed("coredump", "destination_url"),
    "restore": _options("restore", ("source_url", "prefault"), "source_url"),
    "send-migration": _options("send-migration", ("destination_url", "local"), "destination_url"),
    "receive-migration": _options("receive-migration", ("receiver_url",), "receiver_url"),
}
