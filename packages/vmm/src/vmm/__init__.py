"""The VMM of a Python Cloud Hypervisor: builds and runs a KVM virtual machine from a VmConfig.

The public API, loaded on first use (importing `vmm` alone costs nothing):

* `VmParams`, `parse_vm_config`, `validate`, `VmConfig`, `ConfigError`: a
  VM's configuration, from CH's option strings or JSON (see `vmm.config`);
* `boot(config)`: build the VM and start its vCPUs; returns a `RunningVm`
  to `wait()` on, `pause()`, `resume()` and `stop()`;
* `run(config)`: boot, wait until the guest stops, return the exit status
  (what the `cloud-hypervisor` command does without an API socket).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "ConfigError",
    "RunningVm",
    "VmConfig",
    "VmParams",
    "boot",
    "parse_vm_config",
    "run",
    "validate",
]

if TYPE_CHECKING:
    from vmm.config import ConfigError, VmConfig, VmParams, parse_vm_config, validate
    from vmm.runner import LaunchedVm as RunningVm
    from vmm.runner import boot
    from vmm.runner import run_vm as run

_LAZY = {
    "ConfigError": ("vmm.config", "ConfigError"),
    "VmConfig": ("vmm.config", "VmConfig"),
    "VmParams": ("vmm.config", "VmParams"),
    "parse_vm_config": ("vmm.config", "parse_vm_config"),
    "validate": ("vmm.config", "validate"),
    "RunningVm": ("vmm.runner", "LaunchedVm"),
    "boot": ("vmm.runner", "boot"),
    "run": ("vmm.runner", "run_vm"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'vmm' has no attribute {name!r}") from None
    import importlib

    return getattr(importlib.import_module(module), attribute)
