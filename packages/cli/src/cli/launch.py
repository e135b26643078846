"""The `cloud-hypervisor` entry point: the API socket listens before anything heavy loads.

Parsing the command line needs the configuration model, and running a VM
needs KVM and the devices: together seconds of imports on a slow machine.
An orchestrator polls `vmm.ping` right after starting the VMM, so when the
command line has a plain `--api-socket path=PATH` (or `fd=N`, or a bare
path) the socket is bound and served first, answering `vmm.ping` while the
rest loads; the other requests wait until the VMM is ready. Any other
spelling goes the normal way through `cli.main`, which reports errors.
"""

from __future__ import annotations

import sys

# Not `typing.TYPE_CHECKING`: importing typing costs tens of ms before the socket listens.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from vmm import ApiService

__all__ = ["api_socket_value", "main"]


def api_socket_value(argv: Sequence[str]) -> str | None:
    """The value of the one `--api-socket` option in `argv`, or None."""
    values = []
    words = iter(argv)
    for word in words:
        if word in ("--help", "-h", "--version", "-V"):
            return None
        if word == "--api-socket":
            values.append(next(words, ""))
        elif word.startswith("--api-socket="):
            values.append(word.removeprefix("--api-socket="))
    return values[0] if len(values) == 1 and values[0] else None


def _start_early(value: str) -> ApiService | None:
    key, eq, rest = value.partition("=")
    if "," in value or (eq and key not in ("path", "fd")):
        return None
    import vmm

    from cli import __version__

    try:
        if key == "fd" and eq:
            if not rest.isdigit():
                return None
            return vmm.ApiService.start(fd=int(rest), version=__version__)
        return vmm.ApiService.start(path=rest if eq else value, version=__version__)
    except (vmm.ApiSocketError, OSError, ValueError):
        return None  # cli.main tries again and reports the error properly


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    value = api_socket_value(arguments)
    early = _start_early(value) if value is not None else None
    try:
        from cli.main import main as run

        return run(arguments, early_api=early)
    finally:
        if early is not None:
            early.close()
