"""Linux's 8250 driver, replayed port access by port access against the UART.

The functions below follow drivers/tty/serial/8250/8250_port.c of Linux 6.1
(the test guest's kernel): ``autoconfig()`` with its IER and loopback tests,
``autoconfig_16550a()`` with the optional variant probe
(CONFIG_SERIAL_8250_16550A_VARIANTS or UPF_FULL_PROBE), ``size_fifo()``,
``autoconfig_8250()``'s scratch test, the THRE and TXEN tests of
``serial8250_do_startup()``, ``set_termios`` and the polled console write.
Each returns what the driver concludes, and the tests check the conclusions a
16550A must lead to.
"""

from __future__ import annotations

from vm_devices.testing import RecordedSerial

RX = TX = DLL = 0
IER = DLM = 1
IIR = FCR = EFR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7

MCR_LOOP = 0x10
LCR_CONF_MODE_A = 0x80  # DLAB
LCR_CONF_MODE_B = 0xBF
LCR_WLEN8 = 0x03
FCR_ENABLE_FIFO = 0x01
FCR_CLEAR_RCVR = 0x02
FCR_CLEAR_XMIT = 0x04
FCR7_64BYTE = 0x20
FCR_R_TRIG_10 = 0x80
IER_UUE = 0x40
IER_THRI = 0x02
IER_RLSI = 0x04
IER_RDI = 0x01
IIR_NO_INT = 0x01
LSR_DR = 0x01
LSR_THRE = 0x20
LSR_TEMT = 0x40
MCR_OUT2 = 0x08
MCR_DTR_RTS = 0x03


def autoconfig(uart: RecordedSerial, *, skip_test: bool = False, full_probe: bool = False) -> str:
    """``autoconfig()``: the port type Linux settles on."""
    scratch = uart.reg_in(IER)
    uart.reg_out(IER, 0)
    scratch2 = uart.reg_in(IER) & 0x0F
    uart.reg_out(IER, 0x0F)
    scratch3 = uart.reg_in(IER) & 0x0F
    uart.reg_out(IER, scratch)
    if scratch2 != 0 or scratch3 != 0x0F:
        return f"IER test failed ({scratch2:02x}, {scratch3:02x})"

    save_mcr = uart.reg_in(MCR)
    save_lcr = uart.reg_in(LCR)
    if not skip_test:
        uart.reg_out(MCR, MCR_LOOP | 0x0A)
        status1 = uart.reg_in(MSR) & 0xF0
        uart.reg_out(MCR, save_mcr)
        if status1 != 0x90:
            return f"LOOP test failed ({status1:02x})"

    uart.reg_out(LCR, LCR_CONF_MODE_B)
    uart.reg_out(EFR, 0)
    uart.reg_out(LCR, 0)
    uart.reg_out(FCR, FCR_ENABLE_FIFO)
    scratch = uart.reg_in(IIR)
    port_type = {0: "8250", 1: "unknown", 2: "16550"}.get(scratch >> 6, "16550A")
    if port_type == "8250":
        port_type = autoconfig_8250(uart)
    elif port_type == "16550A" and full_probe:
        port_type = autoconfig_16550a_variants(uart)
    uart.reg_out(LCR, save_lcr)
    if port_type == "unknown":
        return port_type
    uart.reg_out(MCR, save_mcr)
    clear_fifos(uart)
    uart.reg_in(RX)
    uart.reg_out(IER, 0)
    return port_type


def autoconfig_8250(uart: RecordedSerial) -> str:
    """Tells an 8250 (no scratch register) from a 16450."""
    scratch = uart.reg_in(SCR)
    uart.reg_out(SCR, 0xA5)
    status1 = uart.reg_in(SCR)
    uart.reg_out(SCR, 0x5A)
    status2 = uart.reg_in(SCR)
    uart.reg_out(SCR, scratch)
    return "16450" if status1 == 0xA5 and status2 == 0x5A else "8250"


def autoconfig_16550a_variants(uart: RecordedSerial) -> str:
    """``autoconfig_16550a()`` past its early return: looks for EFR, NatSemi, 16750, XScale, U6."""
    uart.reg_out(LCR, LCR_CONF_MODE_A)
    if uart.reg_in(EFR) == 0:
        return "EFR found with DLAB (ST16C650V1 or Motorola)"
    uart.reg_out(LCR, LCR_CONF_MODE_B)
    if uart.reg_in(EFR) == 0:
        return "EFRv2 (16650 family)"

    uart.reg_out(LCR, 0)
    status1 = uart.reg_in(MCR)
    uart.reg_out(LCR, 0xE0)
    status2 = uart.reg_in(0x02)  # EXCR1 on a NatSemi SuperIO
    if not ((status2 ^ status1) & MCR_LOOP):
        uart.reg_out(LCR, 0)
        uart.reg_out(MCR, status1 ^ MCR_LOOP)
        uart.reg_out(LCR, 0xE0)
        status2 = uart.reg_in(0x02)
        uart.reg_out(LCR, 0)
        uart.reg_out(MCR, status1)
        if (status2 ^ status1) & MCR_LOOP:
            return "NS16550A"

    uart.reg_out(LCR, 0)
    uart.reg_out(FCR, FCR_ENABLE_FIFO | FCR7_64BYTE)
    status1 = uart.reg_in(IIR) >> 5
    uart.reg_out(FCR, FCR_ENABLE_FIFO)
    uart.reg_out(LCR, LCR_CONF_MODE_A)
    uart.reg_out(FCR, FCR_ENABLE_FIFO | FCR7_64BYTE)
    status2 = uart.reg_in(IIR) >> 5
    uart.reg_out(FCR, FCR_ENABLE_FIFO)
    uart.reg_out(LCR, 0)
    if status1 == 6 and status2 == 7:
        return "16750"

    iersave = uart.reg_in(IER)
    uart.reg_out(IER, iersave & ~IER_UUE)
    if not uart.reg_in(IER) & IER_UUE:
        uart.reg_out(IER, iersave | IER_UUE)
        if uart.reg_in(IER) & IER_UUE:
            return "XScale"
    uart.reg_out(IER, iersave)

    return "U6_16550A" if size_fifo(uart) == 64 else "16550A"


def size_fifo(uart: RecordedSerial) -> int:
    """Counts the receive FIFO by overrunning it in loopback."""
    old_lcr = uart.reg_in(LCR)
    uart.reg_out(LCR, 0)
    old_fcr = uart.reg_in(FCR)  # reads IIR, as Linux does
    old_mcr = uart.reg_in(MCR)
    uart.reg_out(FCR, FCR_ENABLE_FIFO | FCR_CLEAR_RCVR | FCR_CLEAR_XMIT)
    uart.reg_out(MCR, MCR_LOOP)
    uart.reg_out(LCR, LCR_CONF_MODE_A)
    old_dl = uart.reg_in(DLL) | uart.reg_in(DLM) << 8
    uart.reg_out(DLL, 1)
    uart.reg_out(DLM, 0)
    uart.reg_out(LCR, LCR_WLEN8)
    for count in range(256):
        uart.reg_out(TX, count)
    count = 0
    while uart.reg_in(LSR) & LSR_DR and count < 256:
        uart.reg_in(RX)
        count += 1
    uart.reg_out(FCR, old_fcr)
    uart.reg_out(MCR, old_mcr)
    uart.reg_out(LCR, LCR_CONF_MODE_A)
    uart.reg_out(DLL, old_dl & 0xFF)
    uart.reg_out(DLM, old_dl >> 8)
    uart.reg_out(LCR, old_lcr)
    return count


def clear_fifos(uart: RecordedSerial) -> None:
    uart.reg_out(FCR, FCR_ENABLE_FIFO)
    uart.reg_out(FCR, FCR_ENABLE_FIFO | FCR_CLEAR_RCVR | FCR_CLEAR_XMIT)
    uart.reg_out(FCR, 0)


def startup(uart: RecordedSerial) -> dict[str, bool]:
    """``serial8250_do_startup()`` for an IRQ-driven port: which bugs Linux would record."""
    clear_fifos(uart)
    for register in (LSR, RX, IIR, MSR):
        uart.reg_in(register)
    lsr_safety_check = uart.reg_in(LSR) == 0xFF

    while not uart.reg_in(LSR) & LSR_THRE:  # wait_for_xmitr
        pass
    uart.reg_out(IER, IER_THRI)
    iir1 = uart.reg_in(IIR)
    uart.reg_out(IER, 0)
    uart.reg_out(IER, IER_THRI)
    iir = uart.reg_in(IIR)
    uart.reg_out(IER, 0)
    bug_thre = not iir1 & IIR_NO_INT and bool(iir & IIR_NO_INT)

    uart.reg_out(LCR, LCR_WLEN8)
    uart.reg_out(MCR, MCR_OUT2 | MCR_DTR_RTS)
    uart.reg_out(IER, IER_THRI)
    lsr = uart.reg_in(LSR)
    iir = uart.reg_in(IIR)
    uart.reg_out(IER, 0)
    bug_txen = bool(lsr & LSR_TEMT) and bool(iir & IIR_NO_INT)

    for register in (LSR, RX, IIR, MSR):
        uart.reg_in(register)
    return {"no uart (LSR 0xff)": lsr_safety_check, "BUG_THRE": bug_thre, "BUG_TXEN": bug_txen}


def set_termios_115200_8n1(uart: RecordedSerial) -> None:
    """``serial8250_do_set_termios``: IER, divisor under DLAB, LCR, then the FIFO."""
    uart.reg_out(IER, IER_RLSI | IER_RDI)
    uart.reg_out(LCR, LCR_WLEN8 | LCR_CONF_MODE_A)
    uart.reg_out(DLL, 1)
    uart.reg_out(DLM, 0)
    uart.reg_out(LCR, LCR_WLEN8)
    uart.reg_out(FCR, FCR_ENABLE_FIFO)
    uart.reg_out(FCR, FCR_ENABLE_FIFO | FCR_R_TRIG_10)


def console_write(uart: RecordedSerial, text: bytes) -> None:
    """``serial8250_console_write``: IER off, poll LSR before each character, restore IER."""
    ier = uart.reg_in(IER)
    uart.reg_out(IER, 0)
    for byte in text:
        while uart.reg_in(LSR) & (LSR_TEMT | LSR_THRE) != LSR_TEMT | LSR_THRE:
            pass
        uart.reg_out(TX, byte)
    while uart.reg_in(LSR) & (LSR_TEMT | LSR_THRE) != LSR_TEMT | LSR_THRE:
        pass
    uart.reg_out(IER, ier)


def test_autoconfig_finds_a_16550a() -> None:
    assert autoconfig(RecordedSerial()) == "16550A"


def test_autoconfig_as_for_com1_skipping_the_loop_test_finds_a_16550a() -> None:
    # x86's STD_COMX_FLAGS include UPF_SKIP_TEST for the legacy COM ports.
    assert autoconfig(RecordedSerial(), skip_test=True) == "16550A"


def test_full_16550a_variant_probe_still_finds_a_plain_16550a() -> None:
    assert autoconfig(RecordedSerial(), full_probe=True) == "16550A"


def test_size_fifo_counts_sixteen_bytes() -> None:
    uart = RecordedSerial()
    assert size_fifo(uart) == 16
    assert uart.reg_in(MCR) == 0
    assert uart.output.getvalue() == b""  # loopback kept the probe bytes off the console


def test_scratch_test_passes() -> None:
    assert autoconfig_8250(RecordedSerial()) == "16450"


def test_probe_leaves_the_uart_quiet_and_output_untouched() -> None:
    uart = RecordedSerial()
    autoconfig(uart, full_probe=True)
    assert (uart.reg_in(IER), uart.reg_in(IIR), uart.reg_in(LSR)) == (0, 0x01, 0x60)
    assert uart.output.getvalue() == b""
    assert not uart.serial.interrupt_asserted


def test_startup_finds_no_thre_or_txen_bug() -> None:
    uart = RecordedSerial()
    autoconfig(uart)
    assert startup(uart) == {"no uart (LSR 0xff)": False, "BUG_THRE": False, "BUG_TXEN": False}


def test_console_write_reaches_the_output() -> None:
    uart = RecordedSerial()
    autoconfig(uart)
    startup(uart)
    set_termios_115200_8n1(uart)
    console_write(uart, b"Linux version 6.1\r\n")
    assert uart.output.getvalue() == b"Linux version 6.1\r\n"
    assert uart.serial.baud_rate == 115_200


def test_keypress_after_startup_interrupts_and_is_read() -> None:
    uart = RecordedSerial()
    autoconfig(uart)
    startup(uart)
    set_termios_115200_8n1(uart)
    levels_before = len(uart.levels)
    uart.serial.enqueue_input(b"a")
    assert uart.levels[levels_before:] == [True]
    # serial8250_handle_irq: IIR, then LSR, then characters while DR.
    assert uart.reg_in(IIR) == 0xCC
    received = bytearray()
    while uart.reg_in(LSR) & LSR_DR:
        received.append(uart.reg_in(RX))
    assert received == b"a"
    assert uart.reg_in(IIR) == 0xC1
    assert uart.levels[levels_before:] == [True, False]
