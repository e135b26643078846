"""`ch-remote`: drive a running `cloud-hypervisor` through its REST API, as CH's tool does.

    ch-remote --api-socket /tmp/ch.sock create vm.json
    ch-remote --api-socket /tmp/ch.sock boot
    ch-remote --api-socket /tmp/ch.sock info

Same subcommands, arguments and output as CH's `ch-remote`: a response body
is printed as the VMM sent it (JSON), nothing is printed for 204, and an
error prints CH's numbered chain of messages on stderr with exit status 1.
Usage errors exit with 2, as clap does. Every subcommand answers `-h`/`--help`
(and `ch-remote help <subcommand>`) with its usage, before any request.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    if command == "help":
        return _help_command(rest, stdout, stderr)
    if "-h" in rest or "--help" in rest:
        stdout.write(_command_help(command))
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
        body = _json_only(body)
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
        elif word == "help":
            return socket_path, word, args
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
        f"  {'help':<{width}}Print this message or the help of the given subcommand(s)",
        "",
        "Options:",
        "      --api-socket <api-socket>  HTTP API socket path (UNIX domain socket).",
        "  -h, --help                     Print help",
        "  -V, --version                  Print version",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Argument:
    """One argument of a subcommand, for its `--help`: a positional value or a `--flag`."""

    name: str
    help: str = ""
    flag: bool = False
    default: str | None = None
    option: str | None = None  # takes the syntax of this cloud-hypervisor option
    syntax: str | None = None  # takes this syntax of `cli.migration_bodies` (`RESTORE`)


def _positional(
    name: str, help: str = "", *, option: str | None = None, syntax: str | None = None
) -> tuple[_Argument]:
    return (_Argument(name, help, option=option, syntax=syntax),)


_ARGUMENTS: dict[str, tuple[_Argument, ...]] = {
    "add-device": _positional("device_config", option="device"),
    "add-disk": _positional("disk_config", option="disk"),
    "add-fs": _positional("fs_config", option="fs"),
    "add-generic-vhost-user": _positional("generic_vhost_user_config", option="generic-vhost-user"),
    "add-net": _positional("net_config", option="net"),
    "add-pmem": _positional("pmem_config", option="pmem"),
    "add-user-device": _positional("device_config", option="user-device"),
    "add-vdpa": _positional("vdpa_config", option="vdpa"),
    "add-vsock": _positional("vsock_config", option="vsock"),
    "coredump": _positional("coredump_config", "<file_path>"),
    "create": (_Argument("path", "VmConfig JSON file; - reads stdin", default="-"),),
    "receive-migration": _positional("receive_migration_config", syntax="RECEIVE_MIGRATION"),
    "remove-device": _positional("id", "<device_id>"),
    "resize": (
        _Argument("balloon", "New balloon size in bytes (supports K/M/G suffix)", flag=True),
        _Argument("cpus", "New vCPUs count", flag=True),
        _Argument("memory", "New memory size in bytes (supports K/M/G suffix)", flag=True),
    ),
    "resize-disk": (
        _Argument("disk", "Disk identifier", flag=True),
        _Argument("size", "New disk size", flag=True),
    ),
    "resize-zone": (
        _Argument("id", "Memory zone identifier", flag=True),
        _Argument("size", "New memory zone size in bytes (supports K/M/G suffix)", flag=True),
    ),
    "restore": _positional("restore_config", syntax="RESTORE"),
    "send-migration": _positional("send_migration_config", syntax="SEND_MIGRATION"),
    "snapshot": _positional("snapshot_config", "<destination_url>"),
}


def _argument_help(argument: _Argument) -> str:
    text = argument.help
    if argument.option is not None:
        from vmm.config.declarations import OPTIONS

        text = next(o.help for o in OPTIONS if o.long == argument.option)
    if argument.syntax is not None:
        from cli import migration_bodies

        text = str(getattr(migration_bodies, f"{argument.syntax}_SYNTAX"))
    return text + (f" [default: {argument.default}]" if argument.default else "")


def _command_help(command: str) -> str:
    """A subcommand's `--help`, in clap's layout: about, usage, arguments, options."""
    arguments = _ARGUMENTS.get(command, ())
    positional = [a for a in arguments if not a.flag]
    flags = [a for a in arguments if a.flag]
    usage = f"Usage: {PROG} {command}" + (" [OPTIONS]" if flags else "")
    usage += "".join(f" [{a.name}]" if a.default else f" <{a.name}>" for a in positional)
    lines = [COMMANDS[command][2], "", usage, ""]
    if positional:
        lines.append("Arguments:")
        lines += _columns([(f"[{a.name}]" if a.default else f"<{a.name}>", a) for a in positional])
        lines.append("")
    lines.append("Options:")
    rows = [(f"    --{a.name} <{a.name}>", a) for a in flags]
    lines += _columns([*rows, ("-h, --help", _Argument("help", "Print help"))])
    return "\n".join(lines) + "\n"


def _columns(rows: list[tuple[str, _Argument]]) -> list[str]:
    width = max(len(left) for left, _ in rows) + 2
    lines: list[str] = []
    for left, argument in rows:
        text = _wrap(_argument_help(argument), 100 - width - 2) or [""]
        lines.append(f"  {left:<{width}}{text[0]}".rstrip())
        lines += [" " * (width + 2) + more for more in text[1:]]
    return lines


def _wrap(text: str, width: int) -> list[str]:
    """Greedy lines of at most `width`, broken after spaces and the commas of `key=value,`."""
    lines = [""]
    for piece in re.split(r"(?<=[ ,])", text):
        if lines[-1] and len(lines[-1]) + len(piece.rstrip()) > width:
            lines.append("")
        lines[-1] += piece
    return [line.rstrip() for line in lines if line.strip()]


def _help_command(rest: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """`ch-remote help [COMMAND]`, as clap adds it."""
    if not rest:
        stdout.write(_help())
        return 0
    if rest[0] not in COMMANDS or len(rest) > 1:
        word = rest[0] if rest[0] not in COMMANDS else rest[1]
        stderr.write(
            f"error: unrecognized subcommand '{word}'\n\nFor more information, try '--help'.\n"
        )
        return 2
    stdout.write(_command_help(rest[0]))
    return 0


def _json_only(body: object) -> object:
    """The JSON body; file descriptors CH would send beside it are refused, not dropped."""
    from cli.migration_bodies import WithFds

    if not isinstance(body, WithFds):
        return body
    if body.fds:
        listed = ", ".join(map(str, body.fds))
        raise CommandError(
            f"Error sending file descriptors {listed}: this ch-remote cannot pass "
            "descriptors beside a request (SCM_RIGHTS) yet"
        )
    return body.body


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


def _migration_body(command: str, builder: str) -> Callable[[list[str]], object]:
    """Restore and the migrations: `cli.migration_bodies` builds CH's body from the argument."""

    def build(rest: list[str]) -> object:
        from cli import migration_bodies

        text = _one(command, rest, f"{command.replace('-', '_')}_config")
        try:
            return getattr(migration_bodies, builder)(text)
        except migration_bodies.BodyError as error:
            raise CommandError(str(error)) from None

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
    "restore": _migration_body("restore", "restore_config"),
    "send-migration": _migration_body("send-migration", "send_migration_data"),
    "receive-migration": _migration_body("receive-migration", "receive_migration_data"),
}
