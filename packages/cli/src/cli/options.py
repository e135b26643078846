"""The options of `cloud-hypervisor`: names, value counts, defaults and help, as CH's clap app.

The VM options (`--cpus`, `--disk`, ...) come from their one declaration in
`vmm.config.declarations`, which also gives their parser, defaults and
capability gate; the options of the VMM process itself (`--api-socket`,
logging, `--seccomp`) are declared here. This table drives parsing, `--help`
and the "requires a payload" rule.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from vmm.config.declarations import OPTIONS as VM_OPTIONS
from vmm.config.schema import Arity

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = ["ABOUT", "OPTIONS", "Arity", "Group", "OptionSpec", "by_long", "by_short"]

ABOUT = "Launch a cloud-hypervisor VMM."


class Group(enum.Enum):
    VM = "vm-config"  # needs a payload (--kernel or --firmware)
    PAYLOAD = "vm-payload"
    VMM = "vmm-config"
    LOGGING = "logging"
    NONE = "none"


@dataclass(frozen=True, kw_only=True)
class OptionSpec:
    name: str
    arity: Arity
    group: Group
    help: str
    long: str | None = None
    short: str | None = None
    default: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """How clap names the option in errors: `--kernel <kernel>`."""
        flag = f"--{self.long}" if self.long else f"-{self.short}"
        return flag if self.arity in (Arity.FLAG, Arity.COUNT) else f"{flag} <{self.name}>"


def _opt(
    name: str,
    arity: Arity,
    group: Group,
    help_text: str,
    *,
    default: str | None = None,
    short: str | None = None,
    long: bool = True,
    choices: tuple[str, ...] = (),
) -> OptionSpec:
    return OptionSpec(
        name=name,
        arity=arity,
        group=group,
        help=help_text,
        long=name if long else None,
        short=short,
        default=default,
        choices=choices,
    )


_VMM_OPTIONS: tuple[OptionSpec, ...] = (
    _opt("api-socket", Arity.ONE, Group.VMM,
         "HTTP API socket (UNIX domain socket): path=<path> or fd=<fd>."),
    _opt("event-monitor", Arity.ONE, Group.VMM,
         "Path to report events on: path=<path> or fd=<fd>"),
    _opt("log-file", Arity.ONE, Group.LOGGING,
         "Log file. Standard error is used if not specified"),
    _opt("log-format", Arity.ONE, Group.LOGGING,
         "Log format. Tokens: {boottime}, {wallclock}, {thread}, {level}, {location}, {msg}",
         default="cloud-hypervisor: {boottime}s: <{thread}> {level}:{location} -- {msg}"),
    _opt("no-shutdown", Arity.FLAG, Group.VMM, "Do not exit the VMM when the guest shuts down"),
    _opt("restore", Arity.ONE, Group.VMM,
         'Restore from a VM snapshot: "source_url=<source_url>,prefault=on|off,..." '
         "(not available yet)"),
    _opt("seccomp", Arity.ONE, Group.NONE,
         "Seccomp filter mode (filters are not implemented yet)",
         default="true", choices=("true", "false", "log", "errno")),
    _opt("v", Arity.COUNT, Group.LOGGING, "Sets the level of debugging output",
         short="v", long=False),
)  # fmt: skip

_VM_OPTIONS = tuple(
    _opt(
        option.long,
        option.arity,
        Group.PAYLOAD if option.payload else Group.VM,
        option.help if option.proof else f"{option.help} (not supported by this VMM yet)",
        default=option.default,
    )
    for option in VM_OPTIONS
)

# Alphabetical, as clap lists them; --help and --version come last.
OPTIONS: tuple[OptionSpec, ...] = (
    *sorted((*_VMM_OPTIONS, *_VM_OPTIONS), key=lambda spec: spec.name),
    _opt("version", Arity.FLAG, Group.NONE, "Print version", short="V"),
    _opt("help", Arity.FLAG, Group.NONE, "Print help", short="h"),
)


def by_long() -> dict[str, OptionSpec]:
    return {spec.long: spec for spec in OPTIONS if spec.long}


def by_short() -> dict[str, OptionSpec]:
    return {spec.short: spec for spec in OPTIONS if spec.short}
