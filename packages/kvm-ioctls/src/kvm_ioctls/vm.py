"""`VmFd`: one virtual machine: memory slots, interrupt controllers, eventfds, vCPUs."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import kvm_bindings as kb
from kvm_bindings import IoeventfdFlags, IrqfdFlags, IrqRoutingType

from kvm_ioctls._fd import KvmFd
from kvm_ioctls.errors import invalid_argument
from kvm_ioctls.ioevent import IoEventAddress, MmioAddress, PioAddress
from kvm_ioctls.routing import IrqchipRoute, IrqRoute, MsiRoute
from kvm_ioctls.vcpu import VcpuFd

PAGE_SIZE = 4096
MAX_GSI_ROUTES = 4096  # KVM_MAX_IRQ_ROUTES


class VmFd(KvmFd):
    """A VM file descriptor, created by `Kvm.create_vm()`."""

    __slots__ = ("_vcpu_mmap_size",)

    def __init__(self, fd: int, vcpu_mmap_size: int) -> None:
        super().__init__(fd)
        self._vcpu_mmap_size = vcpu_mmap_size

    # ---------------------------------------------------------------- capabilities
    def check_extension(self, cap: int) -> int:
        """KVM_CHECK_EXTENSION on the VM: some answers depend on the VM."""
        return self._ioctl("KVM_CHECK_EXTENSION", kb.KVM_CHECK_EXTENSION, _int(cap, "cap"))

    def enable_cap(self, cap: int, args: Sequence[int] = (), flags: int = 0) -> None:
        if len(args) > 4:
            raise invalid_argument("KVM_ENABLE_CAP", f"at most 4 args, got {len(args)}")
        request = kb.kvm_enable_cap(cap=_int(cap, "cap"), flags=flags)
        for i, value in enumerate(args):
            request.args[i] = value
        self._ioctl("KVM_ENABLE_CAP", kb.KVM_ENABLE_CAP, request)

    # ---------------------------------------------------------------- memory
    def set_user_memory_region(
        self,
        slot: int,
        guest_phys_addr: int,
        memory_size: int,
        userspace_addr: int,
        flags: int = 0,
    ) -> None:
        """Map host memory at `userspace_addr` into the guest; size 0 deletes the slot."""
        name = "KVM_SET_USER_MEMORY_REGION"
        for what, value in (("guest_phys_addr", guest_phys_addr), ("memory_size", memory_size)):
            if not isinstance(value, int) or value < 0 or value % PAGE_SIZE:
                raise invalid_argument(name, f"{what} {value!r} is not a page-aligned address")
        if guest_phys_addr + memory_size > 1 << 64:
            raise invalid_argument(name, "the region ends beyond the 64-bit address space")
        if memory_size and (userspace_addr <= 0 or userspace_addr % PAGE_SIZE):
            raise invalid_argument(name, f"userspace_addr {userspace_addr:#x} is not page aligned")
        if flags & ~(kb.MemoryRegionFlags.LOG_DIRTY_PAGES | kb.MemoryRegionFlags.READONLY):
            raise invalid_argument(name, f"unknown flags {flags:#x}")
        region = kb.kvm_userspace_memory_region(
            slot=_u32(slot, name, "slot"),
            flags=flags,
            guest_phys_addr=guest_phys_addr,
            memory_size=memory_size,
            userspace_addr=userspace_addr,
        )
        self._ioctl(name, kb.KVM_SET_USER_MEMORY_REGION, region)

    def get_dirty_log(self, slot: int, memory_size: int) -> bytes:
        """The slot's dirty-page bitmap (one bit per 4 KiB page, u64 words); reading clears it."""
        if memory_size <= 0:
            raise invalid_argument("KVM_GET_DIRTY_LOG", f"memory_size {memory_size} is not > 0")
        pages = -(-memory_size // PAGE_SIZE)
        bitmap = (ctypes.c_uint64 * (-(-pages // 64)))()
        log = kb.kvm_dirty_log(slot=_u32(slot, "KVM_GET_DIRTY_LOG", "slot"))
        log.dirty_bitmap = ctypes.addressof(bitmap)
        self._ioctl("KVM_GET_DIRTY_LOG", kb.KVM_GET_DIRTY_LOG, log)
        return bytes(bitmap)

    def set_tss_address(self, address: int) -> None:
        """Three pages KVM needs on Intel for real-mode emulation, below 4 GiB."""
        if not 0 <= address <= (1 << 32) - 3 * PAGE_SIZE:
            raise invalid_argument("KVM_SET_TSS_ADDR", f"address {address:#x} is not below 4 GiB")
        self._ioctl_ulong("KVM_SET_TSS_ADDR", kb.KVM_SET_TSS_ADDR, address)

    def set_identity_map_address(self, address: int) -> None:
        """One page KVM needs on Intel for the EPT identity map in real mode."""
        if not 0 <= address < 1 << 32 or address % PAGE_SIZE:
            raise invalid_argument("KVM_SET_IDENTITY_MAP_ADDR", f"bad address {address:#x}")
        value = ctypes.c_uint64(address)
        self._ioctl("KVM_SET_IDENTITY_MAP_ADDR", kb.KVM_SET_IDENTITY_MAP_ADDR, value)

    # ---------------------------------------------------------------- interrupt controllers
    def create_irq_chip(self) -> None:
        """The in-kernel PIC, IOAPIC and LAPICs; call before creating vCPUs."""
        self._ioctl("KVM_CREATE_IRQCHIP", kb.KVM_CREATE_IRQCHIP, 0)

    def enable_split_irqchip(self, ioapic_pins: int = 24) -> None:
        """LAPICs in the kernel, PIC and IOAPIC left to user space (instead of create_irq_chip)."""
        self.enable_cap(kb.Cap.SPLIT_IRQCHIP, [ioapic_pins])

    def create_pit2(self, flags: int = kb.PitFlags.SPEAKER_DUMMY) -> None:
        """The in-kernel i8254 PIT (needs the in-kernel irqchip)."""
        self._ioctl("KVM_CREATE_PIT2", kb.KVM_CREATE_PIT2, kb.kvm_pit_config(flags=flags))

    def get_pit2(self) -> kb.kvm_pit_state2:
        state = kb.kvm_pit_state2()
        self._ioctl("KVM_GET_PIT2", kb.KVM_GET_PIT2, state)
        return state

    def set_pit2(self, state: kb.kvm_pit_state2) -> None:
        self._ioctl("KVM_SET_PIT2", kb.KVM_SET_PIT2, state)

    def get_irqchip(self, chip_id: int) -> kb.kvm_irqchip:
        if chip_id not in kb.IrqchipId.__members__.values():
            raise invalid_argument("KVM_GET_IRQCHIP", f"unknown irqchip {chip_id}")
        chip = kb.kvm_irqchip(chip_id=chip_id)
        self._ioctl("KVM_GET_IRQCHIP", kb.KVM_GET_IRQCHIP, chip)
        return chip

    def set_irqchip(self, chip: kb.kvm_irqchip) -> None:
        self._ioctl("KVM_SET_IRQCHIP", kb.KVM_SET_IRQCHIP, chip)

    def set_irq_line(self, irq: int, active: bool) -> None:
        """Raise or lower an input of the in-kernel PIC/IOAPIC."""
        level = kb.kvm_irq_level(level=1 if active else 0)
        level.irq = _u32(irq, "KVM_IRQ_LINE", "irq")
        self._ioctl("KVM_IRQ_LINE", kb.KVM_IRQ_LINE, level)

    def set_gsi_routing(self, routes: Sequence[IrqRoute]) -> None:
        """Replace the whole GSI routing table."""
        name = "KVM_SET_GSI_ROUTING"
        if len(routes) > MAX_GSI_ROUTES:
            raise invalid_argument(name, f"{len(routes)} routes, KVM takes {MAX_GSI_ROUTES}")
        table = kb.with_entries(kb.kvm_irq_routing, len(routes))(nr=len(routes))
        for entry, route in zip(table.entries, routes, strict=True):
            entry.gsi = _u32(route.gsi, name, "gsi")
            if isinstance(route, IrqchipRoute):
                entry.type = IrqRoutingType.IRQCHIP
                entry.u.irqchip.irqchip = route.irqchip
                entry.u.irqchip.pin = _u32(route.pin, name, "pin")
            elif isinstance(route, MsiRoute):
                if not 0 <= route.address < 1 << 64:
                    raise invalid_argument(name, f"MSI address {route.address:#x} is not a u64")
                entry.type = IrqRoutingType.MSI
                entry.u.msi.address_lo = route.address & 0xFFFFFFFF
                entry.u.msi.address_hi = route.address >> 32
                entry.u.msi.data = _u32(route.data, name, "MSI data")
                if route.devid is not None:
                    entry.flags = kb.MsiFlags.VALID_DEVID
                    entry.u.msi.devid = _u32(route.devid, name, "devid")
            else:
                raise invalid_argument(name, f"not a route: {route!r}")
        self._ioctl(name, kb.KVM_SET_GSI_ROUTING, table)

    def signal_msi(self, address: int, data: int, devid: int | None = None) -> int:
        """Inject one MSI; returns >0 if delivered, 0 if the guest blocked it."""
        msi = kb.kvm_msi(address_lo=address & 0xFFFFFFFF, address_hi=address >> 32)
        msi.data = _u32(data, "KVM_SIGNAL_MSI", "data")
        if devid is not None:
            msi.flags = kb.MsiFlags.VALID_DEVID
            msi.devid = _u32(devid, "KVM_SIGNAL_MSI", "devid")
        return self._ioctl("KVM_SIGNAL_MSI", kb.KVM_SIGNAL_MSI, msi)

    # ---------------------------------------------------------------- eventfds
    def register_irqfd(self, eventfd: int, gsi: int, resample_fd: int | None = None) -> None:
        """Writing to `eventfd` raises `gsi`; with `resample_fd`, level-triggered with resample."""
        request = kb.kvm_irqfd(fd=_fd(eventfd, "KVM_IRQFD"), gsi=_u32(gsi, "KVM_IRQFD", "gsi"))
        if resample_fd is not None:
            request.flags = IrqfdFlags.RESAMPLE
            request.resamplefd = _fd(resample_fd, "KVM_IRQFD")
        self._ioctl("KVM_IRQFD", kb.KVM_IRQFD, request)

    def unregister_irqfd(self, eventfd: int, gsi: int) -> None:
        request = kb.kvm_irqfd(fd=_fd(eventfd, "KVM_IRQFD"), gsi=_u32(gsi, "KVM_IRQFD", "gsi"))
        request.flags = IrqfdFlags.DEASSIGN
        self._ioctl("KVM_IRQFD", kb.KVM_IRQFD, request)

    def register_ioevent(
        self,
        eventfd: int,
        address: IoEventAddress,
        length: int = 0,
        datamatch: int | None = None,
    ) -> None:
        """A guest write of `length` bytes at `address` (matching `datamatch`) signals `eventfd`.

        No vCPU exit reaches user space for such writes. `length` 0 matches any
        length and cannot be combined with `datamatch`.
        """
        self._ioeventfd(eventfd, address, length, datamatch, IoeventfdFlags(0))

    def unregister_ioevent(
        self,
        eventfd: int,
        address: IoEventAddress,
        length: int = 0,
        datamatch: int | None = None,
    ) -> None:
        self._ioeventfd(eventfd, address, length, datamatch, IoeventfdFlags.DEASSIGN)

    def _ioeventfd(
        self,
        eventfd: int,
        address: IoEventAddress,
        length: int,
        datamatch: int | None,
        flags: IoeventfdFlags,
    ) -> None:
        name = "KVM_IOEVENTFD"
        if length not in (0, 1, 2, 4, 8):
            raise invalid_argument(name, f"length {length} is not 0, 1, 2, 4 or 8")
        request = kb.kvm_ioeventfd(fd=_fd(eventfd, name), len=length)
        if isinstance(address, PioAddress):
            if not 0 <= address.port <= 0xFFFF:
                raise invalid_argument(name, f"port {address.port:#x} is not a 16-bit port")
            request.addr = address.port
            flags |= IoeventfdFlags.PIO
        elif isinstance(address, MmioAddress):
            if not 0 <= address.address < 1 << 64:
                raise invalid_argument(name, f"address {address.address:#x} is not a u64")
            request.addr = address.address
        else:
            raise invalid_argument(name, f"not an I/O event address: {address!r}")
        if datamatch is not None:
            if length == 0:
                raise invalid_argument(name, "datamatch needs a length of 1, 2, 4 or 8")
            if not 0 <= datamatch < 1 << (8 * length):
                raise invalid_argument(name, f"datamatch {datamatch:#x} does not fit {length} B")
            request.datamatch = datamatch
            flags |= IoeventfdFlags.DATAMATCH
        request.flags = flags
        self._ioctl(name, kb.KVM_IOEVENTFD, request)

    # ---------------------------------------------------------------- clock
    def get_clock(self) -> kb.kvm_clock_data:
        clock = kb.kvm_clock_data()
        self._ioctl("KVM_GET_CLOCK", kb.KVM_GET_CLOCK, clock)
        return clock

    def set_clock(self, clock: kb.kvm_clock_data) -> None:
        self._ioctl("KVM_SET_CLOCK", kb.KVM_SET_CLOCK, clock)

    # ---------------------------------------------------------------- vCPUs
    def create_vcpu(self, vcpu_id: int) -> VcpuFd:
        """Create vCPU `vcpu_id` (its APIC ID on x86) with its kvm_run page mapped."""
        if not isinstance(vcpu_id, int) or not 0 <= vcpu_id < 1 << 32:
            raise invalid_argument("KVM_CREATE_VCPU", f"vcpu id {vcpu_id!r} is not a u32")
        fd = self._ioctl("KVM_CREATE_VCPU", kb.KVM_CREATE_VCPU, vcpu_id)
        try:
            return VcpuFd(fd, vcpu_id, self._vcpu_mmap_size)
        except BaseException:
            import os

            os.close(fd)
            raise


def _int(value: int, what: str) -> int:
    if not isinstance(value, int):
        raise invalid_argument("ioctl", f"{what} must be an int, got {value!r}")
    return value


def _u32(value: int, ioctl: str, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value < 1 << 32:
        raise invalid_argument(ioctl, f"{what} {value!r} is not a u32")
    return value


def _fd(value: int, ioctl: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise invalid_argument(ioctl, f"{value!r} is not an open file descriptor")
    return value
