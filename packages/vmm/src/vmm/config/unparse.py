"""VmConfig back to command-line options: the inverse of `parse_vm_config`.

Used to show a configuration as the command line that builds it, and by the
property tests that check parse(unparse(config)) == config. Each option is
written by `vmm.config.schema.format_option` from its declaration.
"""

from __future__ import annotations

from typing import Any

from vmm.config.declarations import MEMORY_ZONE, OPTIONS, PAYLOAD_FIELDS
from vmm.config.model import PayloadConfig, VmConfig
from vmm.config.parse import VmParams
from vmm.config.schema import Arity, Option, format_option

__all__ = ["to_vm_params"]


def _text(option: Option, value: Any) -> Any:
    if option.record is None:
        return value
    if option.arity is Arity.MANY:
        return tuple(format_option(option, item) for item in value or ())
    return None if value is None else format_option(option, value)


def to_vm_params(config: VmConfig) -> VmParams:
    """The option strings that `parse_vm_config` turns back into `config`."""
    payload = config.payload or PayloadConfig()
    values = {
        option.field: _text(
            option, getattr(payload if option.field in PAYLOAD_FIELDS else config, option.field)
        )
        for option in OPTIONS
        if option is not MEMORY_ZONE
    }
    inherited = {"mergeable": config.memory.mergeable}
    values[MEMORY_ZONE.field] = tuple(
        format_option(MEMORY_ZONE, zone, inherited) for zone in config.memory.zones or ()
    )
    return VmParams(**values)
