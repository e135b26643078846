"""Put the payload into guest memory and decide how the boot vCPU starts.

Three payloads, as in Cloud Hypervisor:

* an ELF `vmlinux` (or ELF firmware) with a PVH note: entered in 32-bit
  protected mode with EBX -> `hvm_start_info` (memory map, command line,
  initramfs as module 0);
* an ELF without a PVH note: entered at its 64-bit entry with the Linux
  zero page;
* a bzImage: its protected-mode kernel is loaded and entered at the 64-bit
  entry with the zero page built from its setup header.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from linux_loader import (
    Cmdline,
    KernelLoaderResult,
    LoaderError,
    initramfs_ceiling,
    load_initramfs,
    load_kernel,
    write_cmdline,
    write_pvh_start_info,
    write_zero_page,
)
from vm_memory import GuestMemoryMmap

from vmm.arch import layout
from vmm.errors import PayloadError


class EntryKind(enum.Enum):
    PVH = "pvh"
    LINUX_64 = "linux64"


@dataclass(frozen=True, slots=True)
class BootEntry:
    """Where and how vCPU 0 starts: `boot_params` is the start_info or zero-page address."""

    kind: EntryKind
    entry: int
    boot_params: int


@dataclass(frozen=True, slots=True)
class Payload:
    kernel: str
    cmdline: str = ""
    initramfs: str | None = None


def _open(path: str, what: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise PayloadError(f"cannot open {what} {path!r}: {error.strerror}") from None


def load_payload(
    memory: GuestMemoryMmap, payload: Payload, memory_size: int, *, rsdp_address: int = 0
) -> BootEntry:
    """Load kernel, command line and initramfs; write the boot structures; return the entry.

    `rsdp_address` (0: none) is passed on in the PVH start info or the zero page.
    """
    e820 = layout.e820_map(memory_size)
    kernel = _load_kernel(memory, payload.kernel)
    cmdline = _write_cmdline(memory, payload.cmdline)
    initramfs = None
    if payload.initramfs is not None:
        low_ram_end = min(memory_size, layout.MEM_32BIT_HOLE_START)
        ceiling = initramfs_ceiling(kernel.setup_header, low_memory_end=low_ram_end)
        initramfs = _load_initramfs(
            memory, payload.initramfs, lowest=kernel.kernel_end, highest=ceiling
        )
    try:
        if kernel.pvh_entry is not None:
            write_pvh_start_info(
                memory,
                layout.PVH_START_INFO,
                cmdline_addr=layout.CMDLINE,
                memmap=e820,
                memmap_addr=layout.PVH_MEMMAP,
                modules=[initramfs] if initramfs else [],
                modlist_addr=layout.PVH_MODLIST,
                rsdp_addr=rsdp_address,
            )
            return BootEntry(EntryKind.PVH, kernel.pvh_entry, layout.PVH_START_INFO)
        if kernel.setup_header is None:
            raise PayloadError(
                f"{payload.kernel!r} is an ELF kernel without a PVH entry note; this VMM boots "
                "ELF kernels through PVH (CONFIG_PVH=y)"
            )
        write_zero_page(
            memory,
            layout.ZERO_PAGE,
            kernel.setup_header,
            cmdline_addr=layout.CMDLINE,
            cmdline_size=len(cmdline),
            initramfs=initramfs,
            e820=e820,
            rsdp_addr=rsdp_address,
        )
    except LoaderError as error:
        raise PayloadError(str(error)) from None
    return BootEntry(EntryKind.LINUX_64, kernel.entry, layout.ZERO_PAGE)


def _load_kernel(memory: GuestMemoryMmap, path: str) -> KernelLoaderResult:
    fd = _open(path, "kernel")
    try:
        with os.fdopen(fd, "rb", buffering=0) as image:
            return load_kernel(memory, image)
    except LoaderError as error:
        raise PayloadError(f"cannot load kernel {path!r}: {error}") from None


def _write_cmdline(memory: GuestMemoryMmap, text: str) -> bytes:
    try:
        cmdline = Cmdline(layout.CMDLINE_MAX_SIZE)
        if text:
            cmdline.insert_str(text)
        write_cmdline(memory, layout.CMDLINE, cmdline)
        return cmdline.as_bytes()
    except LoaderError as error:
        raise PayloadError(f"invalid kernel command line: {error}") from None


def _load_initramfs(
    memory: GuestMemoryMmap, path: str, *, lowest: int, highest: int
) -> tuple[int, int]:
    fd = _open(path, "initramfs")
    try:
        with os.fdopen(fd, "rb", buffering=0) as image:
            return load_initramfs(memory, image, lowest=lowest, highest=highest)
    except LoaderError as error:
        raise PayloadError(f"cannot load initramfs {path!r}: {error}") from None
