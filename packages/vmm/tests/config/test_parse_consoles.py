"""--serial, --console and --debug-console: one mode each, CH's defaults and errors."""

from __future__ import annotations

from functools import partial

import pytest
from vmm.config import ConsoleOutputMode, OptionError, VmParams, parse_vm_config
from vmm.config.parse import parse_named_option

parse_console = partial(parse_named_option, "console")
parse_debug_console = partial(parse_named_option, "debug-console")
parse_serial = partial(parse_named_option, "serial")


def test_serial_defaults_to_null_and_console_to_tty_as_in_cloud_hypervisor() -> None:
    config = parse_vm_config(VmParams(kernel="k"))
    assert config.serial.mode is ConsoleOutputMode.NULL
    assert config.console.mode is ConsoleOutputMode.TTY
    assert config.debug_console.mode is ConsoleOutputMode.OFF
    assert config.debug_console.iobase == 0xE9


@pytest.mark.parametrize(
    ("text", "mode"),
    [("off", ConsoleOutputMode.OFF), ("null", ConsoleOutputMode.NULL),
     ("tty", ConsoleOutputMode.TTY), ("pty", ConsoleOutputMode.PTY)],
)  # fmt: skip
def test_serial_modes(text: str, mode: ConsoleOutputMode) -> None:
    assert parse_serial(text).mode is mode


def test_serial_to_a_file() -> None:
    serial = parse_serial("file=/tmp/serial.log")
    assert (serial.mode, serial.file) == (ConsoleOutputMode.FILE, "/tmp/serial.log")


def test_serial_to_a_socket() -> None:
    serial = parse_serial("socket=/tmp/serial.sock")
    assert (serial.mode, serial.socket) == (ConsoleOutputMode.SOCKET, "/tmp/serial.sock")


def test_a_file_mode_needs_a_path() -> None:
    with pytest.raises(OptionError, match="--serial: Path missing when using file console mode"):
        parse_serial("file=")


def test_a_console_needs_a_mode() -> None:
    with pytest.raises(OptionError, match="--console: invalid console mode given"):
        parse_console("iommu=on")


def test_two_modes_at_once_are_rejected() -> None:
    with pytest.raises(OptionError, match="more than one console mode given: off, tty"):
        parse_serial("tty,off")


def test_an_unknown_serial_mode_is_rejected() -> None:
    with pytest.raises(OptionError, match="--serial: unknown option 'telnet'"):
        parse_serial("telnet")


def test_the_console_takes_pci_placement() -> None:
    console = parse_console("tty,iommu=on,id=con0,pci_segment=0,pci_device_id=5")
    assert (console.mode, console.iommu, console.id) == (ConsoleOutputMode.TTY, True, "con0")
    assert console.pci_device_id == 5


def test_the_serial_port_has_no_pci_placement() -> None:
    with pytest.raises(OptionError, match="unknown option 'iommu'"):
        parse_serial("tty,iommu=on")


def test_the_debug_console_port_is_hex() -> None:
    assert parse_debug_console("tty,iobase=0x402").iobase == 0x402
    with pytest.raises(OptionError, match="0x prefix"):
        parse_debug_console("tty,iobase=402")
    with pytest.raises(OptionError, match="16-bit hex"):
        parse_debug_console("tty,iobase=0x10000")
