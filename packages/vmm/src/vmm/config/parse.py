"""VM options (`--cpus`, `--memory`, `--disk`, ...) from CH's `key=value` syntax to a VmConfig.

`VmParams` holds each option's raw text, as CH's `VmParams` does, with CH's
command-line defaults (from the declarations); `parse_vm_config` turns it into
a VmConfig. Every option is parsed by `vmm.config.schema.parse_option` from its
declaration in `vmm.config.declarations`. Parsing checks syntax and types
only; `vmm.config.validate` checks that the whole configuration can boot.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from vmm.config.declarations import MEMORY_ZONE, OPTIONS, PAYLOAD_FIELDS
from vmm.config.errors import OptionError
from vmm.config.model import PayloadConfig, VmConfig
from vmm.config.schema import Arity, Option, parse_option

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = ["VmParams", "parse_named_option", "parse_vm_config"]

_DEFAULTS = {option.field: option.default for option in OPTIONS}


def _default(field: str) -> str:
    default = _DEFAULTS[field]
    assert default is not None
    return default


@dataclass(frozen=True, kw_only=True)
class VmParams:
    """Each VM option's raw text, defaults as on CH's command line; repeated options as tuples."""

    cpus: str = _default("cpus")
    memory: str = _default("memory")
    memory_zones: tuple[str, ...] = ()
    firmware: str | None = None
    kernel: str | None = None
    initramfs: str | None = None
    cmdline: str | None = None
    rate_limit_groups: tuple[str, ...] = ()
    disks: tuple[str, ...] = ()
    net: tuple[str, ...] = ()
    rng: str = _default("rng")
    balloon: str | None = None
    fs: tuple[str, ...] = ()
    generic_vhost_user: tuple[str, ...] = ()
    pmem: tuple[str, ...] = ()
    serial: str = _default("serial")
    console: str = _default("console")
    debug_console: str = _default("debug_console")
    devices: tuple[str, ...] = ()
    user_devices: tuple[str, ...] = ()
    vdpa: tuple[str, ...] = ()
    vsock: str | None = None
    pvpanic: bool = False
    numa: tuple[str, ...] = ()
    watchdog: bool = False
    rtc: str | None = None
    pci_segments: tuple[str, ...] = ()
    platform: str | None = None
    tpm: str | None = None
    landlock_enable: bool = False
    landlock_rules: tuple[str, ...] = ()


def parse_named_option(long: str, text: str) -> Any:
    """One option's value by its flag name (`disk`): the record it declares (ch-remote's
    add-disk and friends send it as JSON)."""
    option = next((o for o in OPTIONS if o.long == long and o.record is not None), None)
    if option is None:
        raise OptionError(f"--{long}", "not an option that takes key=value settings")
    return parse_option(option, text)


def _value(option: Option, text: Any) -> Any:
    if option.record is None:
        return text
    if option.arity is Arity.MANY:
        return tuple(parse_option(option, item) for item in text) or None
    return None if text is None else parse_option(option, text)


def parse_vm_config(params: VmParams) -> VmConfig:
    """Every option of `params` parsed into a VmConfig (not yet validated)."""
    values = {
        option.field: _value(option, getattr(params, option.field))
        for option in OPTIONS
        if option.field != MEMORY_ZONE.field
    }
    payload = {key: values.pop(key) for key in PAYLOAD_FIELDS}
    memory = values.pop("memory")
    zones = tuple(
        parse_option(MEMORY_ZONE, text, {"mergeable": memory.mergeable})
        for text in params.memory_zones
    )
    return VmConfig(
        **values,
        memory=dataclasses.replace(memory, zones=zones or None),
        payload=PayloadConfig(**payload)
        if payload["kernel"] is not None or payload["firmware"] is not None
        else None,
    )
