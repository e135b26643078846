"""`cloud-hypervisor`: parse CH's command line, build and check the VmConfig, run the VM.

Exit status: 0 when the VM ran and the VMM exited cleanly, 1 for a bad
configuration or a VMM failure (one line on stderr, never a traceback), 2 for
a usage error (unknown option, missing value), as clap gives.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

import vmm
from vmm.config import ConfigError, ValidationError, VmConfig, VmParams, parse_vm_config, validate
from vmm.config.errors import OptionError
from vmm.config.vmm_options import (
    ApiSocketConfig,
    EventMonitorConfig,
    parse_api_socket,
    parse_event_monitor,
)

from cli import __version__
from cli.args import Arguments, UsageError, parse_args

if TYPE_CHECKING:
    from dataclasses import dataclass

    from vmm import ApiService
else:
    from vmm.config.record import dataclass

__all__ = ["PROG", "VmmOptions", "build_config", "build_vmm_options", "main", "vm_params"]

PROG = "cloud-hypervisor"
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class VmmOptions:
    """Options of the VMM process rather than of the VM."""

    api_socket: ApiSocketConfig | None = None
    event_monitor: EventMonitorConfig | None = None
    seccomp: str = "true"
    landlock: bool = False
    no_shutdown: bool = False
    verbosity: int = 0
    log_file: str | None = None
    log_format: str = ""


def vm_params(args: Arguments) -> VmParams:
    """The VM options of the command line as raw strings, CH's defaults filled in."""
    from vmm.config.declarations import OPTIONS as VM_OPTIONS
    from vmm.config.schema import Arity

    values: dict[str, object] = {}
    for option in VM_OPTIONS:
        if option.arity is Arity.MANY:
            values[option.field] = args.many(option.long)
        elif option.arity is Arity.FLAG:
            values[option.field] = args.flag(option.long)
        elif (text := args.one(option.long)) is not None:
            values[option.field] = text
    return VmParams(**values)  # type: ignore[arg-type]


def build_config(args: Arguments, *, check_files: bool = True) -> VmConfig:
    """The validated VmConfig of a parsed command line; raises ConfigError, also for
    any option or key that this VMM does not build (before anything is built)."""
    from vmm.config.capabilities import refuse_unbuilt

    config = validate(parse_vm_config(vm_params(args)), check_files=check_files)
    refuse_unbuilt(config)
    return config


def build_vmm_options(args: Arguments) -> VmmOptions:
    """The VMM-process options; raises ConfigError for a bad --api-socket or --event-monitor."""
    api_socket = args.one("api-socket")
    event_monitor = args.one("event-monitor")
    return VmmOptions(
        api_socket=None if api_socket is None else parse_api_socket(api_socket),
        event_monitor=None if event_monitor is None else parse_event_monitor(event_monitor),
        seccomp=args.one("seccomp") or "true",
        landlock=args.flag("landlock"),
        no_shutdown=args.flag("no-shutdown"),
        verbosity=args.count("v"),
        log_file=args.one("log-file"),
        log_format=args.one("log-format") or "",
    )


def _error(stderr: TextIO, message: str) -> None:
    stderr.write(f"{PROG}: error: {message}\n")


def _describe(error: ConfigError) -> str:
    return error.for_option() if isinstance(error, ValidationError) else str(error)


def _warn_unavailable(options: VmmOptions) -> None:
    """CH's default `--seccomp true` promises a filter this VMM does not apply yet:
    say so once rather than let the default pass for a sandbox."""
    if options.seccomp != "false":
        log.warning("--seccomp: no seccomp filter is applied yet (use --seccomp false)")


def main(argv: Sequence[str] | None = None, *, early_api: ApiService | None = None) -> int:
    """Run `cloud-hypervisor` with `argv` (default: sys.argv[1:]); returns the exit status.

    `early_api` is an API service `cli.launch` started before this module was
    imported; it is used when `--api-socket` names the same socket.
    """
    stdout, stderr = sys.stdout, sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments:
        from cli.help import render_help

        stderr.write(render_help())
        return 2
    try:
        args = parse_args(arguments)
    except UsageError as error:
        _error(stderr, f"{error.message}\n\nFor more information, try '--help'.")
        return 2
    if args.flag("help"):
        from cli.help import render_help

        stdout.write(render_help())
        return 0
    if args.flag("version"):
        stdout.write(f"{PROG} v{__version__}\n")
        return 0
    return _run(args, stderr, early_api)


def _run(args: Arguments, stderr: TextIO, early_api: ApiService | None = None) -> int:
    try:
        options = build_vmm_options(args)
    except ConfigError as error:
        _error(stderr, _describe(error))
        return 1
    from cli.logs import LogFormatError, configure_logging

    try:
        undo_logging = configure_logging(options.verbosity, options.log_file, options.log_format)
    except OSError as error:
        _error(stderr, f"--log-file: cannot create '{options.log_file}': {error.strerror}")
        return 1
    except LogFormatError as error:
        _error(stderr, f"--log-format: {error}")
        return 1
    try:
        return _boot(args, options, stderr, early_api)
    finally:
        undo_logging()


def _boot(
    args: Arguments, options: VmmOptions, stderr: TextIO, early_api: ApiService | None
) -> int:
    if args.one("restore") is not None:
        _error(stderr, str(OptionError("--restore", "restoring a snapshot is not available yet")))
        return 1
    if options.landlock:
        # A VM option in CH, but also refused here when the VM comes later through the API.
        _error(stderr, "--landlock: not supported by this VMM yet")
        return 1
    has_payload = args.one("kernel") is not None or args.one("firmware") is not None
    if not has_payload and options.api_socket is None:
        _error(stderr, "no VM to boot: give --kernel or --firmware, or --api-socket")
        return 1
    try:
        config = build_config(args) if has_payload else None
    except ConfigError as error:
        log.debug("configuration rejected: %r", error)
        _error(stderr, _describe(error))
        return 1
    _warn_unavailable(options)
    log.info("%s v%s starting", PROG, __version__)
    api = _listen(options, early_api, stderr)
    if options.api_socket is not None and api is None:
        return 1
    try:
        status = vmm.run(
            config, api=api, event_monitor=options.event_monitor, no_shutdown=options.no_shutdown
        )
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # A VMM failure is reported as one line; the traceback goes to the debug log.
        log.debug("VMM failure", exc_info=True)
        _error(stderr, _describe_failure(error))
        return 1
    finally:
        if api is not None:
            api.close()
    if status == 0:
        log.info("Cloud Hypervisor exited successfully")
    return status


def _listen(options: VmmOptions, early: ApiService | None, stderr: TextIO) -> ApiService | None:
    """The API service `--api-socket` asks for: the one `cli.launch` started early when it
    listens there, else a new one (None, with the error on stderr, if it cannot listen)."""
    if early is not None and early.serves(options.api_socket):
        return early
    if early is not None:
        early.close()  # listening on something else than the option finally says
    if options.api_socket is None:
        return None
    try:
        return vmm.ApiService.start(
            path=options.api_socket.path, fd=options.api_socket.fd, version=__version__
        )
    except vmm.ApiSocketError as error:
        _error(stderr, f"--api-socket: {error}")
        return None


def _describe_failure(error: Exception) -> str:
    """One line for what stopped the VMM: an OSError as `file: reason`, as CH words it."""
    if isinstance(error, ConfigError):
        return _describe(error)
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error) or type(error).__name__
