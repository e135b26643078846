"""GSI routing entries for `VmFd.set_gsi_routing`: irqchip pins and MSI messages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IrqchipRoute:
    """GSI `gsi` raises `pin` of the in-kernel `irqchip` (an `IrqchipId`)."""

    gsi: int
    irqchip: int
    pin: int


@dataclass(frozen=True, slots=True)
class MsiRoute:
    """GSI `gsi` sends the MSI message (`address`, `data`), e.g. for one MSI-X vector."""

    gsi: int
    address: int
    data: int
    devid: int | None = None


IrqRoute = IrqchipRoute | MsiRoute
