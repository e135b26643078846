"""A README's Python examples are real code: fixtures that find and run them.

One implementation for every package. The root conftest registers this
plugin, so a package's tests reach the fixtures without importing anything
(the `isolated` session installs only the package under test and its
dependencies; pytest, run from the workspace, still loads the root conftest)::

    def test_readme_examples_run(run_readme_examples: Callable[[], None]) -> None:
        run_readme_examples()

The README is the one of the package holding the test: the nearest folder
above the test file with a pyproject.toml. `section` picks the examples under
one `## ` heading (by its start); each block runs in a namespace of its own,
compiled with the README's own line numbers, so a failure points at the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Example:
    """One fenced Python block: its code and the README line it starts on."""

    code: str
    line: int


def package_readme(test_file: Path) -> Path:
    """README.md of the package (the nearest folder with a pyproject.toml) holding `test_file`."""
    for folder in test_file.resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder / "README.md"
    raise LookupError(f"{test_file} is not inside a package (no pyproject.toml above it)")


def python_examples(readme: Path, section: str | None = None) -> list[Example]:
    """The ```python blocks of `readme`, or of its `## section...` part only."""
    text = readme.read_text(encoding="utf-8")
    start, end = 0, len(text)
    if section is not None:
        heading = re.search(rf"^## {re.escape(section)}", text, re.MULTILINE)
        if heading is None:
            raise LookupError(f"{readme} has no section '## {section}'")
        start = heading.start()
        following = re.compile(r"^## ", re.MULTILINE).search(text, heading.end())
        end = following.start() if following else len(text)
    return [
        Example(match[1], text.count("\n", 0, match.start(1)) + 1)
        for match in _PYTHON_BLOCK.finditer(text, start, end)
    ]


def run_examples(readme: Path, section: str | None = None) -> None:
    """Execute each Python example of `readme` (or of `section`); fail if there is none."""
    examples = python_examples(readme, section)
    where = f"section '## {section}' of {readme}" if section else str(readme)
    assert examples, f"the {where} has no python example"
    for example in examples:
        padded = "\n" * (example.line - 1) + example.code  # tracebacks show README lines
        exec(compile(padded, str(readme), "exec"), {"__name__": "readme"})


@pytest.fixture
def readme_examples(request: pytest.FixtureRequest) -> Callable[..., list[str]]:
    """`readme_examples(section=None)`: the code of the test's package README's Python blocks."""
    readme = package_readme(request.path)

    def examples(section: str | None = None) -> list[str]:
        return [example.code for example in python_examples(readme, section)]

    return examples


@pytest.fixture
def run_readme_examples(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`run_readme_examples(section=None)`: run the test's package README's Python blocks."""
    readme = package_readme(request.path)

    def run(section: str | None = None) -> None:
        run_examples(readme, section)

    return run
