"""Workspace sessions: tests, lint, typecheck (the default set), bench and fuzz.

Every package is installed from its own folder, the way a user would install
it, so a missing dependency declaration fails here rather than for the user.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import nox

ROOT = Path(__file__).parent
# Lowest first: a package may only depend on packages before it.
PACKAGE_ORDER = [
    "kvm-bindings",
    "kvm-ioctls",
    "vm-memory",
    "block-formats",
    "acpi-tables",
    "linux-loader",
    "virtio-queue",
    "vm-devices",
    "vmm",
    "cli",
]
PACKAGES = [
    name for name in PACKAGE_ORDER if (ROOT / "packages" / name / "pyproject.toml").exists()
]
PYTHON = "3.11"

nox.options.sessions = ["tests", "isolated", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"


def _install_workspace(session: nox.Session, extras: str = "test") -> None:
    session.install(*[f"./packages/{name}[{extras}]" for name in PACKAGES])


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run every package's tests and the cross-package tests against installed packages."""
    _install_workspace(session)
    session.install("pytest-xdist")
    args = session.posargs or ["packages", "tests"]
    session.run("pytest", *args, env={"PYTHONDONTWRITEBYTECODE": "1"})


def _project(name: str) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads(
        (ROOT / "packages" / name / "pyproject.toml").read_text()
    )["project"]
    return project


def _local_dependencies(name: str, *, extras: bool = False) -> set[str]:
    """The workspace folders `name` depends on, transitively (with its `test` extra)."""
    folder_of = {str(_project(folder)["name"]): folder for folder in PACKAGES}
    project = _project(name)
    requirements: list[str] = list(project.get("dependencies", []))
    if extras:
        requirements += project.get("optional-dependencies", {}).get("test", [])
    found: set[str] = set()
    for requirement in requirements:
        folder = folder_of.get(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])
        if folder is not None and folder not in found:
            found |= {folder} | _local_dependencies(folder)
    return found


@nox.session(python=PYTHON)
@nox.parametrize("package", PACKAGES)
def isolated(session: nox.Session, package: str) -> None:
    """One package's own tests with only it and its declared dependencies installed:
    an undeclared dependency fails here, as it would for a user who installs it alone."""
    local = sorted(_local_dependencies(package, extras=True))
    session.install(*[f"./packages/{name}" for name in local], f"./packages/{package}[test]")
    session.run(
        "pytest", f"packages/{package}", "-q", *session.posargs,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole workspace."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over each package's sources, benches, fuzz targets and tests, one package
    at a time."""
    _install_workspace(session)
    session.install("mypy", "nox")
    for name in PACKAGES:
        folder = ROOT / "packages" / name
        parts = (folder / "src", folder / "benches", folder / "fuzz")
        session.run("mypy", *[str(p) for p in parts if p.exists()])
        # One run per test folder: each may have its own conftest.py, and mypy
        # refuses two top-level modules of one name in one run.
        for files in _test_folders(folder / "tests"):
            session.run("mypy", *files)
    if (ROOT / "tests").exists():
        session.run("mypy", "tests", "noxfile.py")
        # A run of its own (tests/ has a conftest too), finding tests/guest_lock.py.
        session.run("mypy", "conftest.py", env={"MYPYPATH": "tests"})


def _test_folders(tests: Path) -> list[list[str]]:
    folders = sorted({path.parent for path in tests.rglob("*.py")})
    return [[str(path) for path in sorted(folder.glob("*.py"))] for folder in folders]


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: each package's benches/ scripts, printed side by side with their references."""
    _install_workspace(session)
    scripts = sorted(ROOT.glob("packages/*/benches/bench_*.py")) + sorted(
        ROOT.glob("tests/benches/bench_*.py")
    )
    wanted = set(session.posargs)
    for script in scripts:
        if wanted and script.stem.removeprefix("bench_") not in wanted:
            continue
        session.run("python", str(script), env={"PYTHONPATH": os.fspath(script.parent)})


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Coverage-guided fuzz targets (atheris): packages/*/fuzz/fuzz_*.py, one at a time.

    Not a default session. Arguments: target names (`cli` or `fuzz_cli`) pick
    targets; a bare number is each target's time in seconds (default 60);
    arguments starting with `-` go to libFuzzer instead, such as
    `-runs=1000000`. Each target holds the host-wide guest-boot lock while it
    runs: it takes a whole core, which a guest boot must not share.
    """
    _install_workspace(session)
    session.install("atheris")
    wanted = {name.removeprefix("fuzz_") for name in session.posargs if _is_target(name)}
    flags = [arg for arg in session.posargs if arg.startswith("-")]
    seconds = [arg for arg in session.posargs if arg.isdigit()]
    if seconds or not flags:
        flags.append(f"-max_total_time={seconds[-1] if seconds else 60}")
    targets = sorted(ROOT.glob("packages/*/fuzz/fuzz_*.py"))
    unknown = wanted - {target.stem.removeprefix("fuzz_") for target in targets}
    if unknown:
        session.error(f"no fuzz target {', '.join(sorted(unknown))}")
    lock = os.environ.get("CH_GUEST_BOOT_LOCK", "/tmp/guest-boot.lock")
    for target in targets:
        if not wanted or target.stem.removeprefix("fuzz_") in wanted:
            session.run("flock", lock, "python", str(target), *flags, external=True)


def _is_target(arg: str) -> bool:
    return not arg.startswith("-") and not arg.isdigit()
