"""Request bodies of the endpoints that are not VM or device configs, as CH's API defines them.

Decoded strictly like `VmConfig` (`vmm.config.json.from_json`): a missing or
unknown field, or a value of the wrong type or range, is a 400 naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmm.config.kinds import U32, U64

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    from vmm.config.record import dataclass

__all__ = [
    "ReceiveMigrationData",
    "RestoreConfig",
    "SendMigrationData",
    "VmCoredumpData",
    "VmRemoveDevice",
    "VmResize",
    "VmResizeDisk",
    "VmResizeZone",
    "VmSnapshotConfig",
]


@dataclass(frozen=True, kw_only=True)
class VmResize:
    desired_vcpus: U32 | None = None
    desired_ram: U64 | None = None
    desired_balloon: U64 | None = None


@dataclass(frozen=True, kw_only=True)
class VmResizeZone:
    id: str
    desired_ram: U64


@dataclass(frozen=True, kw_only=True)
class VmResizeDisk:
    id: str
    desired_size: U64


@dataclass(frozen=True, kw_only=True)
class VmRemoveDevice:
    id: str


@dataclass(frozen=True, kw_only=True)
class VmSnapshotConfig:
    destination_url: str


@dataclass(frozen=True, kw_only=True)
class VmCoredumpData:
    destination_url: str


@dataclass(frozen=True, kw_only=True)
class RestoreConfig:
    source_url: str
    prefault: bool = False


@dataclass(frozen=True, kw_only=True)
class ReceiveMigrationData:
    receiver_url: str


@dataclass(frozen=True, kw_only=True)
class SendMigrationData:
    destination_url: str
    local: bool = False
