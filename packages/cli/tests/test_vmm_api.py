"""The command line reaches the VMM only through its public API and the config declarations.

`vmm.__all__` (boot, run, ApiService, ...) and `vmm.config` are what cli may
use; vmm's internals (the runner, the control loop, the API server) can then
change without breaking the command. Read from the sources (ast), so a lazy
import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import vmm

SOURCES = sorted((Path(__file__).resolve().parents[1] / "src" / "cli").glob("*.py"))


def _uses_of_vmm(path: Path) -> list[tuple[int, str]]:
    """(line, what) for each import from vmm and each `vmm.name` in `path`."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            uses += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "vmm"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "vmm":
            module = node.module or ""
            uses += [(node.lineno, f"{module}.{a.name}") for a in node.names]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "vmm"
        ):
            uses.append((node.lineno, f"vmm.{node.attr}"))
    return uses


def _public(name: str) -> bool:
    if name in {"vmm", "vmm.config"} or name.startswith("vmm.config."):
        return True
    head, _, attribute = name.partition(".")
    return head == "vmm" and "." not in attribute and attribute in vmm.__all__


@pytest.mark.parametrize("path", SOURCES, ids=[path.name for path in SOURCES])
def test_cli_uses_only_vmms_public_api_and_config(path: Path) -> None:
    uses = _uses_of_vmm(path)
    private = [f"{path.name}:{line}: {name}" for line, name in uses if not _public(name)]
    assert not private, f"cli reaches into vmm's internals: {private}"


def test_an_internal_module_is_caught(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from vmm.runner import run\n    return vmm.control\n")
    assert [name for _, name in _uses_of_vmm(source) if not _public(name)] == [
        "vmm.runner.run",
        "vmm.control",
    ]
