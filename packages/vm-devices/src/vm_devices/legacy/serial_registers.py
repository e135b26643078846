"""16550A register offsets and bits, named as in the PC16550D data sheet.

Shared by :mod:`vm_devices.legacy.serial` and by tests and tools that talk to
a UART. The values are plain ``IntEnum``/``IntFlag`` members, so they mix with
the ints a bus access carries.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "IIR_FIFO_ENABLED",
    "Fcr",
    "Ier",
    "InterruptId",
    "Lcr",
    "Lsr",
    "Mcr",
    "Msr",
    "Register",
]


class Register(IntEnum):
    """Register offsets from the UART's base. DLAB (LCR bit 7) turns 0 and 1 into the divisor."""

    RBR_THR = 0  # read: receive buffer, write: transmit holding; DLAB: divisor low (DLL)
    IER = 1  # interrupt enable; DLAB: divisor high (DLM)
    IIR_FCR = 2  # read: interrupt identification, write: FIFO control
    LCR = 3
    MCR = 4
    LSR = 5
    MSR = 6
    SCR = 7


class Ier(IntFlag):
    """Interrupt enable register. A 16550A has only these four bits."""

    RX_DATA = 0x01  # ERBFI
    THR_EMPTY = 0x02  # ETBEI
    LINE_STATUS = 0x04  # ELSI
    MODEM_STATUS = 0x08  # EDSSI


class InterruptId(IntEnum):
    """IIR bits 0-3: the pending cause reported to the guest, highest priority first."""

    LINE_STATUS = 0x06
    RX_DATA = 0x04
    RX_TIMEOUT = 0x0C  # FIFO mode: data below the trigger level
    THR_EMPTY = 0x02
    MODEM_STATUS = 0x00
    NONE = 0x01


IIR_FIFO_ENABLED = 0xC0


class Fcr(IntFlag):
    """FIFO control register (write only); bits 6-7 are the receive trigger level."""

    ENABLE = 0x01
    CLEAR_RX = 0x02
    CLEAR_TX = 0x04
    DMA_MODE = 0x08
    TRIGGER_MASK = 0xC0


class Lcr(IntFlag):
    WORD_LENGTH_MASK = 0x03
    STOP_BITS = 0x04
    PARITY_ENABLE = 0x08
    EVEN_PARITY = 0x10
    STICK_PARITY = 0x20
    SET_BREAK = 0x40
    DLAB = 0x80


class Mcr(IntFlag):
    DTR = 0x01
    RTS = 0x02
    OUT1 = 0x04
    OUT2 = 0x08
    LOOP = 0x10


class Lsr(IntFlag):
    DATA_READY = 0x01
    OVERRUN = 0x02
    PARITY = 0x04
    FRAMING = 0x08
    BREAK = 0x10
    THR_EMPTY = 0x20
    TX_EMPTY = 0x40
    FIFO_ERROR = 0x80


class Msr(IntFlag):
    DELTA_CTS = 0x01
    DELTA_DSR = 0x02
    TRAILING_RI = 0x04
    DELTA_DCD = 0x08
    CTS = 0x10
    DSR = 0x20
    RI = 0x40
    DCD = 0x80
