"""`--help` text in clap's layout: about, usage, then one entry per option with its default."""

from __future__ import annotations

import re

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


def _wrap(text: str, width: int) -> list[str]:
    """Greedy wrap that breaks after spaces and after the commas of `key=value,` lists."""
    lines: list[str] = []
    current = ""
    for piece in re.split(r"(?<=[ ,])", text):
        if current and len(current) + len(piece.rstrip()) > width:
            lines.append(current.rstrip())
            current = ""
        current += piece
    if current.strip():
        lines.append(current.rstrip())
    return lines


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
        lines.extend("          " + line for line in _wrap(text, width - 10))
    return "\n".join(lines) + "\n"
