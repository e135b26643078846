"""Platform options: `--platform`, `--pci-segment`, `--numa`, `--tpm`, `--landlock-rules`."""

from __future__ import annotations

from vmm.config.errors import OptionError
from vmm.config.model import (
    LandlockConfig,
    NumaConfig,
    NumaDistance,
    PciSegmentConfig,
    PlatformConfig,
    TpmConfig,
)
from vmm.config.options import OptionParser
from vmm.config.values import (
    U8_MAX,
    U16_MAX,
    U32_MAX,
    parse_int,
    parse_integer_list,
    parse_string_list,
    parse_tuple_list,
)

__all__ = [
    "parse_landlock_rule",
    "parse_numa",
    "parse_pci_segment",
    "parse_platform",
    "parse_tpm",
]


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _u32(text: str) -> int:
    return parse_int(text, 0, U32_MAX)


_SMBIOS_KEYS = (
    "system_manufacturer", "system_product_name", "system_version", "system_serial_number",
    "system_uuid", "system_sku_number", "system_family", "chassis_asset_tag",
)  # fmt: skip


def parse_platform(text: str) -> PlatformConfig:
    """`--platform num_pci_segments=,iommu_segments=,iommu_address_width=,iommufd=,...`."""
    parser = OptionParser(
        "--platform",
        (
            "num_pci_segments", "iommu_segments", "iommu_address_width", "serial_number",
            "uuid", "oem_strings", "iommufd", "iommufd_fd", "vfio_p2p_dma", *_SMBIOS_KEYS,
        ),
    ).parse(text)  # fmt: skip
    iommufd_fd = parser.i32("iommufd_fd")
    strings = {key: parser.get(key) for key in _SMBIOS_KEYS}
    # `serial_number` and `uuid` are CH's deprecated spellings.
    for key, legacy in (("system_serial_number", "serial_number"), ("system_uuid", "uuid")):
        if strings[key] is None:
            strings[key] = parser.get(legacy)
    return PlatformConfig(
        num_pci_segments=_or(parser.u16("num_pci_segments"), 1),
        iommu_segments=parser.convert(
            "iommu_segments", lambda raw: parse_integer_list(raw, U16_MAX)
        ),
        iommu_address_width_bits=_or(parser.u8("iommu_address_width"), 64),
        oem_strings=parser.convert_raw("oem_strings", parse_string_list),
        iommufd=parser.toggle("iommufd", iommufd_fd is not None),
        iommufd_fd=iommufd_fd,
        vfio_p2p_dma=parser.toggle("vfio_p2p_dma", True),
        **strings,
    )


def parse_pci_segment(text: str) -> PciSegmentConfig:
    """`--pci-segment pci_segment=<id>,mmio32_aperture_weight=,mmio64_aperture_weight=`."""
    parser = OptionParser(
        "--pci-segment", ("pci_segment", "mmio32_aperture_weight", "mmio64_aperture_weight")
    ).parse(text)
    return PciSegmentConfig(
        pci_segment=_or(parser.u16("pci_segment"), 0),
        mmio32_aperture_weight=_or(parser.u32("mmio32_aperture_weight"), 1),
        mmio64_aperture_weight=_or(parser.u32("mmio64_aperture_weight"), 1),
    )


def _distance(text: str) -> int:
    return parse_int(text, 0, U8_MAX)


def parse_numa(text: str) -> NumaConfig:
    """`--numa guest_numa_id=,cpus=,distances=[dest@dist,...],memory_zones=,pci_segments=`."""
    parser = OptionParser(
        "--numa",
        ("guest_numa_id", "cpus", "distances", "device_id", "memory_zones", "pci_segments"),
    ).parse(text)
    node = parser.u32("guest_numa_id")
    if node is None:
        raise OptionError(
            "--numa", "guest_numa_id is required for all NUMA nodes", key="guest_numa_id"
        )
    cpus = parser.convert("cpus", lambda raw: parse_integer_list(raw, U32_MAX))
    distances = parser.convert_raw("distances", lambda raw: parse_tuple_list(raw, _u32, _distance))
    zones = parser.convert_raw("memory_zones", parse_string_list)
    device_id = parser.get("device_id")
    if device_id is not None and (cpus is not None or zones is not None):
        raise OptionError(
            "--numa", "device_id in numa config cannot be used with cpus or memory zones"
        )
    return NumaConfig(
        guest_numa_id=node,
        cpus=cpus,
        distances=None
        if distances is None
        else tuple(NumaDistance(destination=d, distance=w) for d, w in distances),
        memory_zones=zones,
        pci_segments=parser.convert("pci_segments", lambda raw: parse_integer_list(raw, U16_MAX)),
        device_id=device_id,
    )


def parse_tpm(text: str) -> TpmConfig:
    """`--tpm socket=<swtpm socket path>`."""
    parser = OptionParser("--tpm", ("socket",)).parse(text)
    socket = parser.get("socket")
    if socket is None:
        raise parser.missing("socket")
    return TpmConfig(socket=socket)


def parse_landlock_rule(text: str) -> LandlockConfig:
    """`--landlock-rules path=<file or dir>,access=[rw]`."""
    parser = OptionParser("--landlock-rules", ("path", "access")).parse(text)
    path = parser.get("path")
    access = parser.get("access")
    if path is None or access is None:
        raise OptionError("--landlock-rules", "path/access field missing")
    if len(access) > 2:
        raise OptionError("--landlock-rules", f"invalid value '{access}' for access", key="access")
    return LandlockConfig(path=path, access=access)
