"""The VM configuration model, shaped and named like Cloud Hypervisor's.

    from vmm.config import VmParams, parse_vm_config, validate

    config = validate(parse_vm_config(VmParams(kernel="vmlinux", memory="size=1G")))

`VmConfig` is the whole VM (frozen dataclasses, CH's field names); it is built
from command-line option strings (`parse_vm_config`, CH's `key=value` syntax)
or from CH's JSON (`VmConfig.from_json`), written back with `VmConfig.to_json`
or `to_vm_params`, and checked with `validate`. Every error is a `ConfigError`
naming the option or field at fault.
"""

from vmm.config.devices import (
    BalloonConfig,
    DeviceConfig,
    DiskConfig,
    FsConfig,
    GenericVhostUserConfig,
    ImageType,
    LockGranularity,
    NetConfig,
    PciDeviceCommon,
    PmemConfig,
    RateLimiterConfig,
    RateLimiterGroupConfig,
    RngConfig,
    RtcConfig,
    TokenBucketConfig,
    UserDeviceConfig,
    VdpaConfig,
    VhostMode,
    VirtQueueAffinity,
    VsockConfig,
)
from vmm.config.errors import ConfigError, JsonError, OptionError, ValidationError
from vmm.config.model import (
    DEFAULT_CONSOLE_MODE,
    VIRTIO_CONSOLE_AVAILABLE,
    ConsoleConfig,
    ConsoleOutputMode,
    CoreScheduling,
    CpuAffinity,
    CpuFeatures,
    CpuProfile,
    CpusConfig,
    CpuTopology,
    DebugConsoleConfig,
    HotplugMethod,
    LandlockConfig,
    MemoryConfig,
    MemoryZoneConfig,
    NumaConfig,
    NumaDistance,
    PayloadConfig,
    PciSegmentConfig,
    PlatformConfig,
    SerialConfig,
    TpmConfig,
    VmConfig,
)
from vmm.config.parse import VmParams, parse_vm_config
from vmm.config.validate import MIN_MEMORY_SIZE, validate
from vmm.config.vmm_options import ApiSocketConfig, EventMonitorConfig

__all__ = [
    "DEFAULT_CONSOLE_MODE",
    "MIN_MEMORY_SIZE",
    "VIRTIO_CONSOLE_AVAILABLE",
    "ApiSocketConfig",
    "BalloonConfig",
    "ConfigError",
    "ConsoleConfig",
    "ConsoleOutputMode",
    "CoreScheduling",
    "CpuAffinity",
    "CpuFeatures",
    "CpuProfile",
    "CpuTopology",
    "CpusConfig",
    "DebugConsoleConfig",
    "DeviceConfig",
    "DiskConfig",
    "EventMonitorConfig",
    "FsConfig",
    "GenericVhostUserConfig",
    "HotplugMethod",
    "ImageType",
    "JsonError",
    "LandlockConfig",
    "LockGranularity",
    "MemoryConfig",
    "MemoryZoneConfig",
    "NetConfig",
    "NumaConfig",
    "NumaDistance",
    "OptionError",
    "PayloadConfig",
    "PciDeviceCommon",
    "PciSegmentConfig",
    "PlatformConfig",
    "PmemConfig",
    "RateLimiterConfig",
    "RateLimiterGroupConfig",
    "RngConfig",
    "RtcConfig",
    "SerialConfig",
    "TokenBucketConfig",
    "TpmConfig",
    "UserDeviceConfig",
    "ValidationError",
    "VdpaConfig",
    "VhostMode",
    "VirtQueueAffinity",
    "VmConfig",
    "VmParams",
    "VsockConfig",
    "parse_vm_config",
    "to_vm_params",
    "validate",
]


def to_vm_params(config: VmConfig) -> VmParams:
    """The command-line options that give back `config` (the inverse of parse_vm_config)."""
    from vmm.config.unparse import to_vm_params as convert

    return convert(config)
