"""Tiny PVH "kernels" for lifecycle tests that cannot wait for Linux to boot.

    from vmm.testing import write_counter_kernel

    write_counter_kernel(path)             # boots in microseconds
    # ... --kernel path --serial file=out.txt: out.txt grows by "00000001\\n00000002\\n" ...

The guest is an ELF64 executable with a Xen PVH note, entered in 32-bit
protected mode. It counts in guest memory (at COUNTER_ADDRESS) and prints
each value as eight hex digits and a newline on COM1's transmit register,
then spins `delay` iterations: a paused VM's output stops, a resumed one
continues with the next number, a rebooted one starts again from 1. With
`reset_after`, it resets itself through the i8042 (as Linux's `reboot` does)
once the counter reaches that value.
"""

from __future__ import annotations

import os
import struct

from linux_loader.testing import elf_image, pvh_note

__all__ = [
    "COUNTER_ADDRESS",
    "LOAD_ADDRESS",
    "counter_kernel",
    "echo_kernel",
    "pvh_kernel",
    "write_counter_kernel",
]

LOAD_ADDRESS = 0x10_0000  # 1 MiB, where PVH kernels load
COUNTER_ADDRESS = 0x10_1000
NEVER = 0xFFFF_FFFF


def _code(delay: int, reset_after: int) -> bytes:
    """The guest's 32-bit code (GNU as, Intel syntax, in the comments)."""
    counter = struct.pack("<I", COUNTER_ADDRESS)
    return b"".join(
        [
            b"\x66\xba\xf8\x03",  #         mov dx, 0x3f8          ; COM1 THR
            b"\xff\x05" + counter,  # again: inc dword [COUNTER]
            b"\x8b\x35" + counter,  #       mov esi, [COUNTER]
            b"\x81\xfe" + struct.pack("<I", reset_after),  # cmp esi, reset_after
            b"\x73\x26",  #                 jae reset
            b"\xb9\x08\x00\x00\x00",  #     mov ecx, 8
            b"\xc1\xc6\x04",  #      digit: rol esi, 4
            b"\x89\xf0",  #                 mov eax, esi
            b"\x83\xe0\x0f",  #             and eax, 0xf
            b"\x04\x30",  #                 add al, '0'
            b"\x3c\x39",  #                 cmp al, '9'
            b"\x76\x02",  #                 jbe 1f
            b"\x04\x07",  #                 add al, 'A' - '9' - 1
            b"\xee",  #                 1:  out dx, al
            b"\x49",  #                     dec ecx
            b"\x75\xec",  #                 jnz digit
            b"\xb0\x0a",  #                 mov al, '\n'
            b"\xee",  #                     out dx, al
            b"\xb9" + struct.pack("<I", delay),  # mov ecx, delay
            b"\x49",  #                 2:  dec ecx
            b"\x75\xfd",  #                 jnz 2b
            b"\xeb\xc6",  #                 jmp again
            b"\xb0\xfe",  #      reset: mov al, 0xfe           ; i8042: pulse reset
            b"\xe6\x64",  #                 out 0x64, al
            b"\xeb\xfe",  #             3:  jmp 3b
        ]
    )


def counter_kernel(*, delay: int = 200_000, reset_after: int | None = None) -> bytes:
    """The ELF image of the counting guest."""
    if not 1 <= delay < 1 << 32:
        raise ValueError(f"delay {delay} must be 1 to 2**32-1 iterations")
    limit = NEVER if reset_after is None else reset_after
    if not 1 <= limit <= NEVER:
        raise ValueError(f"reset_after {reset_after} must be 1 to 2**32-1")
    return pvh_kernel(_code(delay, limit))


def echo_kernel() -> bytes:
    """A guest that echoes what arrives on COM1 back to it and resets on a `q`.

    It polls the line status register for received data (the interrupt path
    is Linux's business), so it shows that input typed on the serial console
    reaches the guest, and that a guest reset ends the VMM.
    """
    return pvh_kernel(
        b"".join(
            [
                b"\x66\xba\xfd\x03",  # wait: mov dx, 0x3fd        ; LSR
                b"\xec",  #                    in al, dx
                b"\xa8\x01",  #                test al, 1            ; data ready
                b"\x74\xf7",  #                jz wait
                b"\x66\xba\xf8\x03",  #      mov dx, 0x3f8        ; RBR / THR
                b"\xec",  #                    in al, dx
                b"\xee",  #                    out dx, al
                b"\x3c\x71",  #                cmp al, 'q'
                b"\x75\xed",  #                jne wait
                b"\xb0\xfe",  #                mov al, 0xfe          ; i8042: pulse reset
                b"\xe6\x64",  #                out 0x64, al
                b"\xeb\xfe",  #            1:  jmp 1b
            ]
        )
    )


def pvh_kernel(code: bytes) -> bytes:
    """An ELF image whose PVH entry runs `code` (32-bit, flat) loaded at LOAD_ADDRESS.

    One PT_NOTE (XEN_ELFNOTE_PHYS32_ENTRY) and one PT_LOAD, whose memory
    reaches past COUNTER_ADDRESS (zero-filled) for the guest's data.
    """
    memsz = max(COUNTER_ADDRESS - LOAD_ADDRESS + 0x1000, len(code))
    return elf_image(
        [(LOAD_ADDRESS, code, memsz)], entry=LOAD_ADDRESS, notes=pvh_note(LOAD_ADDRESS)
    )


def write_counter_kernel(
    path: str | os.PathLike[str], *, delay: int = 200_000, reset_after: int | None = None
) -> None:
    """Write `counter_kernel(...)` to `path`."""
    with open(path, "wb") as file:
        file.write(counter_kernel(delay=delay, reset_after=reset_after))
