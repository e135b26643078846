"""The kernel command line: entries the kernel parses as intended, a capacity that
counts the NUL, virtio-mmio device strings, and errors that leave it unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from linux_loader import BootParamsError, Cmdline, CmdlineError, format_memory_size, write_cmdline
from vm_memory import GuestMemoryMmap


def test_entries_are_joined_by_one_space() -> None:
    cmdline = Cmdline(100)
    cmdline.insert_str("console=ttyS0")
    cmdline.insert("panic", "-1")
    cmdline.insert_str("  quiet  ")
    assert str(cmdline) == "console=ttyS0 panic=-1 quiet"
    assert cmdline.as_bytes() == b"console=ttyS0 panic=-1 quiet\0"
    assert len(cmdline) == 28


def test_several_arguments_in_one_string() -> None:
    cmdline = Cmdline(100)
    cmdline.insert_str('reboot=k guest.cmd="echo hi" pci=off')
    assert str(cmdline) == 'reboot=k guest.cmd="echo hi" pci=off'


def test_value_with_spaces_is_quoted() -> None:
    cmdline = Cmdline(100)
    cmdline.insert("guest.cmd", "ping -c 3 10.77.0.1")
    assert str(cmdline) == 'guest.cmd="ping -c 3 10.77.0.1"'


def test_value_already_quoted_is_kept() -> None:
    cmdline = Cmdline(100)
    cmdline.insert("guest.cmd", '"echo hi"')
    assert str(cmdline) == 'guest.cmd="echo hi"'


def test_empty_value_is_allowed() -> None:
    cmdline = Cmdline(100)
    cmdline.insert("root", "")
    assert str(cmdline) == "root="


def test_blank_text_adds_nothing() -> None:
    cmdline = Cmdline(10)
    cmdline.insert_str("   ")
    assert cmdline.as_bytes() == b"\0"


def test_capacity_counts_the_nul() -> None:
    cmdline = Cmdline(6)
    cmdline.insert_str("abcde")
    assert cmdline.as_bytes() == b"abcde\0"
    with pytest.raises(CmdlineError, match="6 bytes with its NUL, over the capacity of 5"):
        Cmdline(5).insert_str("abcde")


def test_an_entry_that_does_not_fit_leaves_the_line_unchanged() -> None:
    cmdline = Cmdline(16)
    cmdline.insert_str("console=ttyS0")
    with pytest.raises(CmdlineError):
        cmdline.insert("a", "b")
    assert str(cmdline) == "console=ttyS0"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\0b", "NUL"),
        ("a\nb", "printable ASCII"),
        ("caf\u00e9", "printable ASCII"),
        ('guest.cmd="echo', "unbalanced"),
    ],
)
def test_bad_text_is_refused(text: str, reason: str) -> None:
    cmdline = Cmdline(100)
    with pytest.raises(CmdlineError, match=reason):
        cmdline.insert_str(text)
    assert str(cmdline) == ""


@pytest.mark.parametrize("key", ["", "has space", "a=b", 'q"'])
def test_bad_key_is_refused(key: str) -> None:
    with pytest.raises(CmdlineError):
        Cmdline(100).insert(key, "value")


def test_value_that_would_split_is_refused() -> None:
    with pytest.raises(CmdlineError, match="several arguments"):
        Cmdline(100).insert("key", '"a b" c')


def test_capacity_must_hold_the_nul() -> None:
    with pytest.raises(CmdlineError):
        Cmdline(0)


@pytest.mark.parametrize(
    ("size", "text"),
    [(4096, "4K"), (512, "512"), (2 << 20, "2M"), (1 << 30, "1G"), (0x1800, "6K"), (1000, "1000")],
)
def test_sizes_read_by_memparse(size: int, text: str) -> None:
    assert format_memory_size(size) == text


def test_virtio_mmio_device_strings() -> None:
    cmdline = Cmdline(200)
    cmdline.add_virtio_mmio_device(0x1000, 0xD000_0000, 5)
    cmdline.add_virtio_mmio_device(512, 0xFEB0_0E00, 12)
    cmdline.add_virtio_mmio_device(0x1000, 0xD000_1000, 6, device_id=3)
    assert str(cmdline) == (
        "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=512@0xfeb00e00:12 "
        "virtio_mmio.device=4K@0xd0001000:6:3"
    )


@pytest.mark.parametrize(
    ("size", "base", "irq", "device_id"),
    [(0, 0x1000, 5, None), (0x1000, -1, 5, None), (0x1000, 1 << 63, 5, None),
     (0x1000, 0x1000, 1 << 32, None), (0x1000, 0x1000, 5, -1)],
)  # fmt: skip
def test_virtio_mmio_device_out_of_range(
    size: int, base: int, irq: int, device_id: int | None
) -> None:
    with pytest.raises(CmdlineError):
        Cmdline(200).add_virtio_mmio_device(size, base, irq, device_id)


def test_write_cmdline_writes_the_nul_and_returns_its_size(memory: GuestMemoryMmap) -> None:
    memory.write(0x2_0000, b"\xff" * 32)
    cmdline = Cmdline(64)
    cmdline.insert_str("console=ttyS0")
    assert write_cmdline(memory, 0x2_0000, cmdline) == 14
    assert memory.read(0x2_0000, 15) == b"console=ttyS0\0\xff"


def test_write_cmdline_outside_memory(memory: GuestMemoryMmap) -> None:
    cmdline = Cmdline(64)
    cmdline.insert_str("console=ttyS0")
    with pytest.raises(BootParamsError, match="cmdline_addr"):
        write_cmdline(memory, (512 << 20) - 4, cmdline)


# The kernel's view: lib/cmdline.c next_arg, transcribed for the check ----------


def kernel_next_arg(line: str) -> tuple[str, str | None, str]:
    """``(param, val, rest)`` exactly as the kernel's ``next_arg`` splits ``line``
    (which starts at a non-space character)."""
    quoted = in_quote = line.startswith('"')
    args = line[1:] if quoted else line
    equals = 0
    i = 0
    while i < len(args):
        if args[i].isspace() and not in_quote:
            break
        if equals == 0 and args[i] == "=":
            equals = i
        if args[i] == '"':
            in_quote = not in_quote
        i += 1
    token, rest = args[:i], args[i + 1 :].lstrip()
    if quoted and token.endswith('"'):
        token = token[:-1]
    if not equals:
        return token, None, rest
    param, value = token[:equals], token[equals + 1 :]
    if value.startswith('"'):
        value = value[1:]
        if not quoted and value.endswith('"'):
            value = value[:-1]
    return param, value, rest


def kernel_args(line: str) -> list[tuple[str, str | None]]:
    parsed = []
    rest = line.lstrip()
    while rest:
        param, value, rest = kernel_next_arg(rest)
        parsed.append((param, value))
    return parsed


cmdline_text = st.text(
    alphabet=st.sampled_from([*"ab=- .\"'", "\0", "\t", "\u00a0", "\u00e9", "z", "9"]), max_size=12
)


@given(key=cmdline_text, value=cmdline_text)
def test_inserted_entry_is_what_the_kernel_reads(key: str, value: str) -> None:
    cmdline = Cmdline(64)
    cmdline.insert_str("console=ttyS0 quiet")
    try:
        cmdline.insert(key, value)
    except CmdlineError:
        assert str(cmdline) == "console=ttyS0 quiet"
        return
    parsed = kernel_args(str(cmdline))
    assert parsed[:2] == [("console", "ttyS0"), ("quiet", None)]
    assert len(parsed) == 3
    param, seen = parsed[2]
    assert param == key
    expected = value
    if value.startswith('"'):
        expected = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
    assert seen == expected


@given(text=cmdline_text, capacity=st.integers(1, 20))
def test_accepted_text_fits_and_is_printable_ascii(text: str, capacity: int) -> None:
    cmdline = Cmdline(capacity)
    try:
        cmdline.insert_str(text)
    except CmdlineError:
        assert str(cmdline) == ""
        return
    data = cmdline.as_bytes()
    assert len(data) <= capacity
    assert data.endswith(b"\0")
    assert all(0x20 <= byte < 0x7F for byte in data[:-1])
    assert data.count(b'"') % 2 == 0
