"""The README plugin: which blocks it finds, and that a failing example points at its line."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from readme_examples import package_readme, python_examples, run_examples

README = """\
# pkg

```python
x = 1
```

## Usage (`pkg.use`)

```text
not python
```

```python
y = 2
assert y == 3
```

## Other
```python
z = 3
```
"""


@pytest.fixture
def readme(tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_text(README)
    return path


def test_every_python_block_is_found_with_its_line(readme: Path) -> None:
    found = [(example.code, example.line) for example in python_examples(readme)]
    assert found == [("x = 1\n", 4), ("y = 2\nassert y == 3\n", 14), ("z = 3\n", 20)]


def test_a_section_is_picked_by_the_start_of_its_heading(readme: Path) -> None:
    assert [example.line for example in python_examples(readme, "Usage")] == [14]


def test_a_missing_section_is_an_error(readme: Path) -> None:
    with pytest.raises(LookupError, match="no section '## Nope'"):
        python_examples(readme, "Nope")


def test_a_failing_example_points_at_its_readme_line(readme: Path) -> None:
    with pytest.raises(AssertionError) as caught:
        run_examples(readme, "Usage")
    (frame,) = [
        f for f in traceback.extract_tb(caught.value.__traceback__) if f.filename == str(readme)
    ]
    assert frame.lineno == 15


def test_a_readme_without_examples_fails(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# nothing to run\n")
    with pytest.raises(AssertionError, match="has no python example"):
        run_examples(tmp_path / "README.md")


def test_the_readme_is_the_one_of_the_package_holding_the_test() -> None:
    here = Path(__file__).resolve()
    vmm_test = here.parents[1] / "packages" / "vmm" / "tests" / "api" / "test_http.py"
    assert package_readme(vmm_test) == here.parents[1] / "packages" / "vmm" / "README.md"
