"""The README's examples are real code: they run as written."""

from __future__ import annotations

from collections.abc import Callable


def test_readme_examples_run(run_readme_examples: Callable[[], None]) -> None:
    run_readme_examples()
