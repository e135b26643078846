"""`--help` text in clap's layout: about, usage, then one entry per option with its default."""

from __future__ import annotations

import textwrap

from cli.options import ABOUT, OPTIONS, Arity, OptionSpec

__all__ = ["render_help", "usage"]

USAGE = "Usage: cloud-hypervisor [OPTIONS]"


def usage() -> str:
    return USAGE


def _flags(spec: OptionSpec) -> str:
    short = f"-{spec.short}" if spec.short else "   "
    if spec.long is None:
        head = f"  {short}"
    else:
        head = f"  {short}, --{spec.long}" if spec.short else f"      --{spec.long}"
    if spec.arity is Arity.COUNT:
        return head + "..."
    if spec.arity is Arity.ONE or spec.arity is Arity.MANY:
        return f"{head} <{spec.name}>" + ("..." if spec.arity is Arity.MANY else "")
    if spec.arity is Arity.OPTIONAL:
        return f"{head} [<{spec.name}>]"
    return head


def render_help(width: int = 100) -> str:
    """The whole help text (CH prints options in alphabetical order, help and version last)."""
    lines = [ABOUT, "", USAGE, "", "Options:"]
    ordered = [s for s in OPTIONS if s.name not in ("help", "version")] + [
        s for s in OPTIONS if s.name in ("help", "version")
    ]
    for spec in ordered:
        text = spec.help
        if spec.choices:
            text += f" [possible values: {', '.join(spec.choices)}]"
        if spec.default is not None:
            text += f" [default: {spec.default}]"
        lines.append(_flags(spec))
        lines.extend(
            textwrap.wrap(text, width, initial_indent="          ", subsequent_indent="          ")
        )
    return "\n".join(lines) + "\n"
