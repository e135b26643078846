"""A 16550A UART, the PC serial port (COM1 is I/O 0x3f8-0x3ff, IRQ 4).

Register model of the National Semiconductor PC16550D, with what a VM needs
and no line timing: a byte written to THR is handed to the output at once, so
THR and the transmitter are always empty (LSR.THRE and LSR.TEMT stay set), and
the 16-byte receive FIFO is filled by the host through :meth:`enqueue_input`.
It passes Linux's 8250 probe (``autoconfig()`` reports a "16550A").

Interrupts: the IIR reports the highest-priority pending cause (line status >
received data > THR empty > modem status), gated by the IER. The UART's
interrupt pin is that "something pending" level; every change of it is passed
to the :class:`~vm_devices.interrupt.InterruptLine` (an irqfd turns each rise
into an edge, as an ISA IRQ is). Like QEMU's and rust-vmm's UARTs, MCR.OUT2
does not gate the pin.

Thread safety: the vCPU threads (through the bus) and the host's input thread
share one lock. The output sink and the interrupt line are called with the
lock held, so output bytes and level changes keep their order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from vm_devices.interrupt import InterruptLine
from vm_devices.legacy.serial_registers import (
    IIR_FIFO_ENABLED,
    Fcr,
    Ier,
    InterruptId,
    Lcr,
    Lsr,
    Mcr,
    Msr,
    Register,
)

__all__ = [
    "DEFAULT_MODEM_INPUTS",
    "RX_FIFO_SIZE",
    "SERIAL_COM1_BASE",
    "SERIAL_COM1_IRQ",
    "SERIAL_LENGTH",
    "ByteSink",
    "Serial16550",
]

logger = logging.getLogger(__name__)

SERIAL_COM1_BASE = 0x3F8
SERIAL_COM1_IRQ = 4
SERIAL_LENGTH = 8
RX_FIFO_SIZE = 16
DEFAULT_DIVISOR = 12  # 9600 baud from the PC's 1.8432 MHz clock (115200 / 12)
UART_CLOCK_BAUD = 115_200


@runtime_checkable
class ByteSink(Protocol):
    """Where guest output goes: a binary file, ``io.BytesIO``, a raw stream..."""

    def write(self, data: bytes, /) -> object: ...


# Plain ints for the access paths (IntFlag arithmetic is much slower than int's).
_RBR_THR, _IER_DLM, _IIR_FCR, _LCR, _MCR, _LSR, _MSR, _SCR = (r.value for r in Register)
_DLAB = Lcr.DLAB.value
_LOOP = Mcr.LOOP.value
_ERBFI = Ier.RX_DATA.value
_ETBEI = Ier.THR_EMPTY.value
_ELSI = Ier.LINE_STATUS.value
_EDSSI = Ier.MODEM_STATUS.value
_DR = Lsr.DATA_READY.value
_OE = Lsr.OVERRUN.value
_BI = Lsr.BREAK.value
_LSR_IDLE_TX = Lsr.THR_EMPTY.value | Lsr.TX_EMPTY.value
_FIFO_ERROR = Lsr.FIFO_ERROR.value
_NO_INTERRUPT = InterruptId.NONE.value
_IID_THR = InterruptId.THR_EMPTY.value
_TRIGGER_LEVELS = (1, 4, 8, 14)
# A terminal is attached when not in loopback: carrier, data set ready, clear to send.
DEFAULT_MODEM_INPUTS = (Msr.DCD | Msr.DSR | Msr.CTS).value
_SINGLE_BYTES = tuple(bytes((value,)) for value in range(256))


def _loopback_inputs(mcr: int) -> int:
    """MSR input bits in loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD."""
    return ((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4)


class Serial16550:
    """A 16550A UART, a :class:`~vm_devices.bus.BusDevice` of :data:`SERIAL_LENGTH` ports.

    ``output`` receives each byte the guest transmits, one call per THR write:
    any object with a binary ``write`` or a callable taking ``bytes`` (None
    discards output). Pass something unbuffered (an fd writer, a raw stream),
    or the guest's console appears late. A sink that raises ``OSError`` or
    ``ValueError`` (closed) is logged once and dropped; ``BlockingIOError``
    drops only that byte. ``interrupt`` is the IRQ line (None: polled only).
    """

    def __init__(
        self,
        output: ByteSink | Callable[[bytes], object] | None = None,
        interrupt: InterruptLine | None = None,
    ) -> None:
        self._emit = output.write if isinstance(output, ByteSink) else output
        self._interrupt = interrupt
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._ier = 0
        self._lcr = 0
        self._mcr = 0
        self._scr = 0
        self._divisor = DEFAULT_DIVISOR
        self._fifo_enabled = False
        self._trigger = 1
        self._rx = bytearray()
        self._lsr_errors = 0  # OE/PE/FE/BI latched until LSR is read
        self._thr_pending = False  # THR-empty interrupt pending (cleared by IIR read/THR write)
        self._modem_inputs = DEFAULT_MODEM_INPUTS
        self._msr_delta = 0
        self._irq_level = False
        self._dropped_output = 0

    # -- BusDevice ---------------------------------------------------------------

    def read(self, base: int, offset: int, data: memoryview) -> None:
        with self._lock:
            if offset == _LSR and len(data) == 1 and not self._lsr_errors:
                # The console's LSR poll, the commonest access: it changes nothing.
                data[0] = _LSR_IDLE_TX | _DR if self._rx else _LSR_IDLE_TX
                return
            for index in range(len(data)):
                data[index] = self._read_register(offset + index)
            self._update_interrupt()

    def write(self, base: int, offset: int, data: memoryview | bytes) -> None:
        with self._lock:
            if (
                offset == _RBR_THR
                and len(data) == 1
                and not (self._lcr & _DLAB or self._mcr & _LOOP)
            ):
                # THR, the other hot path: the byte leaves at once and THR is empty again.
                self._thr_pending = True
                emit = self._emit
                if emit is not None:
                    try:
                        emit(_SINGLE_BYTES[data[0]])
                    except (OSError, ValueError) as error:
                        self._output_failed(error)
                if self._ier & _ETBEI and not self._irq_level:
                    self._update_interrupt()
                return
            for index, value in enumerate(data):
                self._write_register(offset + index, value)
            self._update_interrupt()

    # -- host side -----------------------------------------------------------------

    def enqueue_input(self, data: bytes) -> int:
        """Receive ``data`` from the host; return how many bytes fit in the FIFO.

        The rest is the caller's to retry after :meth:`wait_for_room`. Nothing
        is accepted in loopback mode, where the receiver listens to the
        transmitter only. Safe to call from any thread.
        """
        with self._lock:
            room = self._input_room()
            if room <= 0 or not data:
                return 0
            accepted = data[:room]
            self._rx += accepted
            self._update_interrupt()
            return len(accepted)

    def send_break(self) -> bool:
        """Receive a break (a NUL character with LSR.BI), as a terminal's BREAK key sends.

        Linux's serial console reads a break followed by a key as Magic SysRq.
        False when the FIFO has no room.
        """
        with self._lock:
            if self._input_room() <= 0:
                return False
            self._rx.append(0)
            self._lsr_errors |= _BI
            self._update_interrupt()
            return True

    def wait_for_room(self, timeout: float | None = None) -> bool:
        """Block until :meth:`enqueue_input` can accept a byte; False on timeout."""
        with self._room:
            return self._room.wait_for(lambda: self._input_room() > 0, timeout)

    @property
    def input_room(self) -> int:
        """How many bytes :meth:`enqueue_input` would accept now."""
        with self._lock:
            return self._input_room()

    @property
    def baud_rate(self) -> int:
        """The baud rate the guest programmed (0 when the divisor is 0)."""
        divisor = self._divisor
        return UART_CLOCK_BAUD // divisor if divisor else 0

    @property
    def interrupt_asserted(self) -> bool:
        """The level of the UART's interrupt pin."""
        return self._irq_level

    @property
    def dropped_output(self) -> int:
        """Bytes the output sink could not take (would block, or failed)."""
        return self._dropped_output

    # -- registers (called with the lock held) -------------------------------------

    def _input_room(self) -> int:
        if self._mcr & _LOOP:
            return 0
        return (RX_FIFO_SIZE if self._fifo_enabled else 1) - len(self._rx)

    def _read_register(self, offset: int) -> int:
        if offset == _LSR:
            lsr = _LSR_IDLE_TX | self._lsr_errors
            if self._rx:
                lsr |= _DR
            if self._fifo_enabled and self._lsr_errors & _BI:
                lsr |= _FIFO_ERROR
            self._lsr_errors = 0
            return lsr
        if offset == _RBR_THR:
            if self._lcr & _DLAB:
                return self._divisor & 0xFF
            return self._read_rbr()
        if offset == _IER_DLM:
            return self._divisor >> 8 if self._lcr & _DLAB else self._ier
        if offset == _IIR_FCR:
            iid = self._interrupt_id()
            if iid == _IID_THR:
                self._thr_pending = False  # reading IIR acknowledges THR empty
            return iid | IIR_FIFO_ENABLED if self._fifo_enabled else iid
        if offset == _LCR:
            return self._lcr
        if offset == _MCR:
            return self._mcr
        if offset == _MSR:
            msr = self._modem_inputs | self._msr_delta
            self._msr_delta = 0
            return msr
        if offset == _SCR:
            return self._scr
        return 0xFF

    def _read_rbr(self) -> int:
        rx = self._rx
        if not rx:
            return 0
        value = rx[0]
        del rx[0]
        if not self._mcr & _LOOP:
            self._room.notify_all()
        return value

    def _write_register(self, offset: int, value: int) -> None:
        if offset == _RBR_THR:
            if self._lcr & _DLAB:
                self._divisor = (self._divisor & 0xFF00) | value
            else:
                self._transmit(value)
        elif offset == _IER_DLM:
            if self._lcr & _DLAB:
                self._divisor = (self._divisor & 0xFF) | (value << 8)
            else:
                self._write_ier(value & 0x0F)
        elif offset == _IIR_FCR:
            self._write_fcr(value)
        elif offset == _LCR:
            self._lcr = value
        elif offset == _MCR:
            self._write_mcr(value & 0x1F)
        elif offset == _SCR:
            self._scr = value
        # LSR and MSR are read-only: writes are ignored, as on PC16550D.

    def _transmit(self, value: int) -> None:
        self._thr_pending = False  # writing THR clears the THR-empty interrupt...
        if self._mcr & _LOOP:
            capacity = RX_FIFO_SIZE if self._fifo_enabled else 1
            if len(self._rx) < capacity:
                self._rx.append(value)
            else:
                self._lsr_errors |= _OE
        elif self._emit is not None:
            try:
                self._emit(_SINGLE_BYTES[value])
            except (OSError, ValueError) as error:
                self._output_failed(error)
        self._thr_pending = True  # ...and the byte leaves at once, so THR is empty again

    def _output_failed(self, error: OSError | ValueError) -> None:
        self._dropped_output += 1
        if isinstance(error, BlockingIOError):
            return  # only this byte is lost: the sink is full right now
        self._emit = None
        logger.warning("serial output failed, discarding guest output from now on: %s", error)

    def _write_ier(self, value: int) -> None:
        if (value ^ self._ier) & _ETBEI:
            # Enabling ETBEI with THR empty raises the interrupt; disabling drops it.
            self._thr_pending = bool(value & _ETBEI)
        self._ier = value

    def _write_fcr(self, value: int) -> None:
        if not value & Fcr.ENABLE.value:
            if self._fifo_enabled:
                self._fifo_enabled = False
                self._clear_rx()
            return
        if not self._fifo_enabled:
            self._fifo_enabled = True
            self._clear_rx()
        if value & Fcr.CLEAR_RX.value:
            self._clear_rx()
        self._trigger = _TRIGGER_LEVELS[value >> 6]

    def _clear_rx(self) -> None:
        self._rx.clear()
        self._room.notify_all()

    def _write_mcr(self, value: int) -> None:
        old_loop = self._mcr & _LOOP
        self._mcr = value
        inputs = _loopback_inputs(value) if value & _LOOP else DEFAULT_MODEM_INPUTS
        changed = inputs ^ self._modem_inputs
        # Delta bits: CTS, DSR and DCD on any change, RI on its trailing (falling) edge.
        delta = ((changed & 0x30) >> 4) | ((changed & 0x80) >> 4)
        if changed & Msr.RI.value and not inputs & Msr.RI.value:
            delta |= Msr.TRAILING_RI.value
        self._msr_delta |= delta
        self._modem_inputs = inputs
        if old_loop and not value & _LOOP:
            self._room.notify_all()

    def _interrupt_id(self) -> int:
        ier = self._ier
        if ier & _ELSI and self._lsr_errors:
            return InterruptId.LINE_STATUS.value
        if ier & _ERBFI and self._rx:
            if self._fifo_enabled and len(self._rx) < self._trigger:
                # Below the trigger level a 16550A reports a character timeout
                # after four character times; there is no line time here.
                return InterruptId.RX_TIMEOUT.value
            return InterruptId.RX_DATA.value
        if ier & _ETBEI and self._thr_pending:
            return _IID_THR
        if ier & _EDSSI and self._msr_delta:
            return InterruptId.MODEM_STATUS.value
        return _NO_INTERRUPT

    def _update_interrupt(self) -> None:
        asserted = self._interrupt_id() != _NO_INTERRUPT
        if asserted != self._irq_level:
            self._irq_level = asserted
            if self._interrupt is not None:
                self._interrupt.set_level(asserted)

    def __repr__(self) -> str:
        return f"Serial16550(ier={self._ier:#x}, lcr={self._lcr:#x}, mcr={self._mcr:#x})"
