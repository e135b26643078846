"""Console options: `--serial`, `--console` and `--debug-console`.

Each takes one mode, `off|null|pty|tty|file=<path>|socket=<path>`, as in CH;
`--console` also takes the PCI placement keys of the virtio-console device.
"""

from __future__ import annotations

from vmm.config.errors import OptionError
from vmm.config.model import (
    ConsoleConfig,
    ConsoleOutputMode,
    DebugConsoleConfig,
    SerialConfig,
)
from vmm.config.options import OptionParser
from vmm.config.parse_devices import PCI_IOMMU_KEYS
from vmm.config.values import U16_MAX

__all__ = ["CONSOLE_MODE_FLAGS", "parse_console", "parse_debug_console", "parse_serial"]

CONSOLE_MODE_FLAGS = ("off", "pty", "tty", "null")
_MODE_OF_FLAG = {
    "off": ConsoleOutputMode.OFF,
    "pty": ConsoleOutputMode.PTY,
    "tty": ConsoleOutputMode.TTY,
    "null": ConsoleOutputMode.NULL,
}


def _console_mode(
    parser: OptionParser,
) -> tuple[ConsoleOutputMode, str | None, str | None]:
    """The one mode among off|pty|tty|null|file=|socket=, with its path."""
    given = [key for key in (*CONSOLE_MODE_FLAGS, "file", "socket") if parser.is_set(key)]
    if not given:
        raise OptionError(parser.option, "invalid console mode given (off|null|pty|tty|file=)")
    if len(given) > 1:
        raise OptionError(parser.option, f"more than one console mode given: {', '.join(given)}")
    (mode,) = given
    if mode in _MODE_OF_FLAG:
        return _MODE_OF_FLAG[mode], None, None
    path = parser.get(mode)
    if path is None:
        raise OptionError(parser.option, f"Path missing when using {mode} console mode", key=mode)
    if mode == "file":
        return ConsoleOutputMode.FILE, path, None
    return ConsoleOutputMode.SOCKET, None, path


def parse_serial(text: str) -> SerialConfig:
    """`--serial off|null|pty|tty|file=<path>|socket=<path>`."""
    parser = OptionParser("--serial", ("file", "socket"), CONSOLE_MODE_FLAGS).parse(text)
    mode, file, socket = _console_mode(parser)
    return SerialConfig(mode=mode, file=file, socket=socket)


def parse_console(text: str) -> ConsoleConfig:
    """`--console off|null|pty|tty|file=<path>|socket=<path>[,iommu=,id=,pci_segment=,...]`."""
    parser = OptionParser(
        "--console", ("file", "socket", *PCI_IOMMU_KEYS), CONSOLE_MODE_FLAGS
    ).parse(text)
    mode, file, socket = _console_mode(parser)
    return ConsoleConfig(
        mode=mode,
        file=file,
        socket=socket,
        id=parser.get("id"),
        iommu=parser.toggle("iommu", False),
        pci_segment=parser.u16("pci_segment") or 0,
        pci_device_id=parser.u8("pci_device_id"),
    )


def _io_port(text: str) -> int:
    if not text.startswith("0x"):
        raise ValueError("the IO port must be given in hex with a 0x prefix, such as 0xe9")
    try:
        port = int(text[2:], 16) if text[2:].isascii() and text[2:].isalnum() else -1
    except ValueError:
        port = -1
    if not 0 <= port <= U16_MAX:
        raise ValueError("the IO port must be a 16-bit hex number such as 0xe9")
    return port


def parse_debug_console(text: str) -> DebugConsoleConfig:
    """`--debug-console off|pty|tty|null|file=<path>[,iobase=<port in hex>]`."""
    parser = OptionParser("--debug-console", ("file", "iobase"), CONSOLE_MODE_FLAGS).parse(text)
    mode, file, _ = _console_mode(parser)
    return DebugConsoleConfig(mode=mode, file=file, iobase=parser.convert("iobase", _io_port))
