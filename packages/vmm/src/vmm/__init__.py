"""The VMM of a Python Cloud Hypervisor: builds and runs a KVM virtual machine from a VmConfig.

The public API, loaded on first use (importing `vmm` alone costs nothing,
not even `typing`: `cloud-hypervisor` listens on its API socket first):

* `VmParams`, `parse_vm_config`, `validate`, `VmConfig`, `ConfigError`: a
  VM's configuration, from CH's option strings or JSON (see `vmm.config`);
* `boot(config)`: build the VM and start its vCPUs; returns a `RunningVm`
  to `wait()` on, `pause()`, `resume()` and `stop()`;
* `run(config, api=..., event_monitor=..., no_shutdown=...)`: the
  `cloud-hypervisor` process: the control loop (`Vmm`) boots `config`,
  serves the API if given, and returns the exit status when it ends;
* `ApiService`, `ApiSocketError`: the REST API socket, listening before the
  rest of the VMM loads and attached to the control loop by `run`.
"""

from __future__ import annotations

import sys

__version__ = "0.1.0"
__all__ = [
    "ApiService",
    "ApiSocketError",
    "ConfigError",
    "RunningVm",
    "VmConfig",
    "VmParams",
    "Vmm",
    "boot",
    "parse_vm_config",
    "run",
    "validate",
]

# Not `typing.TYPE_CHECKING`: importing typing costs tens of ms before the API socket listens.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from vmm.api.server import ApiSocketError
    from vmm.api.service import ApiService
    from vmm.config import ConfigError, VmConfig, VmParams, parse_vm_config, validate
    from vmm.control import Vmm
    from vmm.launch import LaunchedVm as RunningVm
    from vmm.launch import boot
    from vmm.runner import run

_LAZY = {
    "ApiService": ("vmm.api.service", "ApiService"),
    "ApiSocketError": ("vmm.api.server", "ApiSocketError"),
    "ConfigError": ("vmm.config", "ConfigError"),
    "VmConfig": ("vmm.config", "VmConfig"),
    "VmParams": ("vmm.config", "VmParams"),
    "parse_vm_config": ("vmm.config", "parse_vm_config"),
    "validate": ("vmm.config", "validate"),
    "Vmm": ("vmm.control", "Vmm"),
    "RunningVm": ("vmm.launch", "LaunchedVm"),
    "boot": ("vmm.launch", "boot"),
    "run": ("vmm.runner", "run"),
}


def __getattr__(name: str) -> object:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'vmm' has no attribute {name!r}") from None
    __import__(module)
    return getattr(sys.modules[module], attribute)
