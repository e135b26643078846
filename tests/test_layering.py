"""The workspace's import contract: a package imports only itself and what it declares.

bindings < ioctls < memory < loader/queue < devices < vmm < cli: a lower
package never imports a higher one, and every workspace import is a declared
dependency (the tests may also use their `test` extra), so each package
installs and works on its own. Read from the sources (ast), not by importing
them: a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _package_order() -> list[str]:
    """noxfile.PACKAGE_ORDER, lowest first (read, not imported: nox need not be installed)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PACKAGE_ORDER":
            order: list[str] = ast.literal_eval(node.value)
            return order
    raise AssertionError("noxfile.py has no PACKAGE_ORDER")


ORDER = _package_order()


@dataclass(frozen=True)
class Package:
    folder: str
    distribution: str
    module: str
    dependencies: frozenset[str]  # distribution names
    test_dependencies: frozenset[str]


def _names(requirements: list[str]) -> frozenset[str]:
    return frozenset(
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0] for requirement in requirements
    )


def _package(folder: str) -> Package:
    project = tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())
    (source,) = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    meta = project["project"]
    return Package(
        folder=folder,
        distribution=meta["name"],
        module=source.removeprefix("src/"),
        dependencies=_names(meta.get("dependencies", [])),
        test_dependencies=_names(meta.get("optional-dependencies", {}).get("test", [])),
    )


PACKAGES = {folder: _package(folder) for folder in ORDER}
BY_MODULE = {package.module: package for package in PACKAGES.values()}
BY_DISTRIBUTION = {package.distribution: package for package in PACKAGES.values()}


def _workspace_imports(folder: Path) -> set[tuple[str, str]]:
    """(file, workspace module) for every absolute import under `folder`."""
    found: set[tuple[str, str]] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".", 1)[0]
                if top in BY_MODULE:
                    found.add((str(path), top))
    return found


def _allowed(package: Package, *, tests: bool) -> set[str]:
    declared = package.dependencies | (package.test_dependencies if tests else frozenset())
    return {package.module} | {
        BY_DISTRIBUTION[name].module for name in declared if name in BY_DISTRIBUTION
    }


@pytest.mark.parametrize("folder", ORDER)
def test_dependencies_only_point_down(folder: str) -> None:
    package = PACKAGES[folder]
    rank = ORDER.index(folder)
    for name in package.dependencies:
        if name in BY_DISTRIBUTION:
            assert ORDER.index(BY_DISTRIBUTION[name].folder) < rank, f"{folder} depends on {name}"


@pytest.mark.parametrize("folder", ORDER)
def test_sources_import_only_declared_dependencies(folder: str) -> None:
    package = PACKAGES[folder]
    allowed = _allowed(package, tests=False)
    bad = sorted(
        i for i in _workspace_imports(ROOT / "packages" / folder / "src") if i[1] not in allowed
    )
    assert not bad, f"undeclared or upward imports: {bad}"


@pytest.mark.parametrize("folder", ORDER)
def test_tests_import_only_declared_dependencies(folder: str) -> None:
    package = PACKAGES[folder]
    allowed = _allowed(package, tests=True)
    places = [
        ROOT / "packages" / folder / name for name in ("tests", "benches", "examples", "fuzz")
    ]
    imports = set().union(*(_workspace_imports(p) for p in places if p.is_dir()))
    bad = sorted(i for i in imports if i[1] not in allowed)
    assert not bad, f"undeclared or upward imports: {bad}"


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    (tmp_path / "upward.py").write_text("def f():\n    from vmm.config import VmConfig\n")
    found = {name for _, name in _workspace_imports(tmp_path)}
    assert found == {"vmm"}
    assert "vmm" not in _allowed(PACKAGES["vm-memory"], tests=True)
