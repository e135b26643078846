"""The VM's GSI routing table: the in-kernel PIC/IOAPIC pins plus one MSI route per vector.

KVM_SET_GSI_ROUTING replaces the whole table, including the default routes
KVM sets up with its irqchip, so this table starts from those (GSI 0-15 on
both PICs and the IOAPIC, 16-23 on the IOAPIC) and every MSI-X change
rewrites it whole. MSI GSIs are handed out above the IOAPIC's pins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kvm_bindings import IrqchipId
from kvm_ioctls import IrqchipRoute, IrqRoute, KvmError, MsiRoute

from vmm.errors import VmmError

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVm

log = logging.getLogger(__name__)

IOAPIC_PINS = 24
PIC_PINS = 8
MAX_GSI = 4096


def default_irqchip_routes() -> list[IrqRoute]:
    """The routes KVM installs with KVM_CREATE_IRQCHIP."""
    routes: list[IrqRoute] = []
    for gsi in range(IOAPIC_PINS):
        if gsi < 2 * PIC_PINS:
            chip = IrqchipId.PIC_MASTER if gsi < PIC_PINS else IrqchipId.PIC_SLAVE
            routes.append(IrqchipRoute(gsi, chip, gsi % PIC_PINS))
        routes.append(IrqchipRoute(gsi, IrqchipId.IOAPIC, gsi))
    return routes


class GsiRouting:
    """Allocates MSI GSIs and keeps KVM's routing table in step with the guest's MSI-X tables."""

    def __init__(self, vm: HypervisorVm) -> None:
        self._vm = vm
        self._lock = threading.Lock()
        self._msi: dict[int, MsiRoute] = {}
        self._next_gsi = IOAPIC_PINS

    def allocate(self, count: int) -> int:
        """The first of `count` consecutive new GSIs for MSI vectors."""
        with self._lock:
            first = self._next_gsi
            if first + count > MAX_GSI:
                raise VmmError(f"out of interrupt routes: {count} more GSIs after {first}")
            self._next_gsi += count
            return first

    def set_msi(self, gsi: int, address: int, data: int, masked: bool) -> None:
        """Route `gsi` to the MSI message, or drop its route while the vector is masked."""
        with self._lock:
            if masked:
                if self._msi.pop(gsi, None) is None:
                    return
            else:
                route = MsiRoute(gsi, address, data)
                if self._msi.get(gsi) == route:
                    return
                self._msi[gsi] = route
            self._commit()

    def msi_updater(self, first_gsi: int) -> Callable[[int, int, int, bool], None]:
        """An `on_update(vector, address, data, masked)` for a device's `EventFdMsiGroup`."""

        def update(vector: int, address: int, data: int, masked: bool) -> None:
            self.set_msi(first_gsi + vector, address, data, masked)

        return update

    def _commit(self) -> None:
        routes = default_irqchip_routes() + [self._msi[gsi] for gsi in sorted(self._msi)]
        try:
            self._vm.set_gsi_routing(routes)
        except KvmError as error:
            # Called from a vCPU's MSI-X table write: log, the guest sees no interrupt.
            log.error("cannot update the interrupt routes: %s", error)
