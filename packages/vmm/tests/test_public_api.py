"""`vmm`'s public API: every name of `vmm.__all__` is there, and importing `vmm` costs nothing.

`cloud-hypervisor` imports `vmm` to listen on its API socket before anything
heavy loads: the package itself must load no module (not even `typing`)
until a name is used.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import vmm


@pytest.mark.parametrize("name", vmm.__all__)
def test_each_public_name_loads_on_first_use(name: str) -> None:
    assert getattr(vmm, name) is not None


def test_a_name_that_is_not_public_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'vmm' has no attribute 'runner_internals'"):
        _ = vmm.runner_internals


def test_importing_vmm_loads_nothing_else() -> None:
    code = "import sys; before = set(sys.modules); import vmm; print(*set(sys.modules) - before)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(shown.stdout.split()) - {"__future__"} == {"vmm"}
