"""--help: every option, its CH help text and default, in clap's layout and width."""

from __future__ import annotations

import pytest
from cli.help import render_help
from cli.options import OPTIONS, OptionSpec


@pytest.mark.parametrize("spec", OPTIONS, ids=lambda spec: spec.name)
def test_every_option_is_listed(spec: OptionSpec) -> None:
    flag = f"--{spec.long}" if spec.long else f"-{spec.short}"
    assert flag in render_help()


def test_no_line_is_wider_than_the_width() -> None:
    assert max(len(line) for line in render_help(100).splitlines()) <= 100


def test_long_syntaxes_break_after_commas_not_inside_keys() -> None:
    lines = render_help(100).splitlines()
    cpus = lines.index("      --cpus <cpus>")
    assert lines[cpus + 1].strip() == "boot=<boot_vcpus>,max=<max_vcpus>,"
