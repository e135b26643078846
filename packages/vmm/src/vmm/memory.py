"""Guest RAM: mapped in this process as the x86-64 layout says, then handed to KVM slot by slot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvm_ioctls import KvmError
from vm_memory import Backing, GuestMemoryMmap, MappingOptions, VmMemoryError

from vmm.arch import layout
from vmm.errors import GuestRamError

if TYPE_CHECKING:
    from vmm.hypervisor import HypervisorVm


def guest_ram_options(
    *,
    hugepages: bool = False,
    hugepage_size: int | None = None,
    thp: bool = True,
    mergeable: bool = False,
    prefault: bool = False,
) -> MappingOptions:
    """How guest RAM is mapped, from `--memory`'s keys.

    `hugepages` backs it with hugetlbfs pages (of `hugepage_size`, else the
    host's default); `thp` asks for transparent huge pages (MADV_HUGEPAGE,
    Cloud Hypervisor's `thp=on` default): fewer host page faults and TLB
    misses for the guest; `mergeable` lets KSM share identical pages;
    `prefault` populates every page up front. Guest RAM stays out of core dumps.
    """
    return MappingOptions(
        hugepages=hugepages,
        hugepage_size=hugepage_size,
        transparent_hugepages=thp and not hugepages,
        mergeable=mergeable,
        prefault=prefault,
        dontdump=True,
    )


def create_guest_ram(
    size: int, *, shared: bool = False, options: MappingOptions | None = None
) -> GuestMemoryMmap:
    """RAM below the 32-bit hole and, for large guests, above 4 GiB; `shared`
    backs it with a memfd (for vhost-user back-ends and snapshots)."""
    options = options if options is not None else guest_ram_options()
    backing = Backing.MEMFD if shared else Backing.ANONYMOUS
    try:
        return GuestMemoryMmap.from_ranges(
            layout.ram_ranges(size), backing=backing, options=options
        )
    except VmMemoryError as error:
        raise GuestRamError(f"cannot create {size >> 20} MiB of guest memory: {error}") from None


def map_into_vm(vm: HypervisorVm, memory: GuestMemoryMmap, *, log_dirty: bool = False) -> None:
    """One KVM memory slot per region, numbered from 0."""
    for slot in memory.memory_slots(0, log_dirty=log_dirty):
        try:
            vm.set_user_memory_region(
                slot.slot,
                slot.guest_phys_addr,
                slot.memory_size,
                slot.userspace_addr,
                int(slot.flags),
            )
        except KvmError as error:
            raise GuestRamError(f"KVM refused guest memory slot {slot.slot}: {error}") from None
