"""The key=value option parser: CH's option_parser rules, errors naming option and key."""

from __future__ import annotations

import pytest
from vmm.config import OptionError
from vmm.config.options import OptionParser
from vmm.config.values import parse_size


def test_values_are_read_by_key() -> None:
    parser = OptionParser("--memory", ("size", "shared")).parse("size=1G,shared=on")
    assert parser.get("size") == "1G"
    assert parser.toggle("shared", False) is True


def test_an_empty_value_is_the_same_as_no_key() -> None:
    parser = OptionParser("--memory", ("size",)).parse("size=")
    assert parser.is_set("size")
    assert parser.get("size") is None
    assert parser.size("size") is None


def test_an_empty_string_parses_to_nothing() -> None:
    parser = OptionParser("--memory", ("size",)).parse("   ")
    assert not parser.is_set("size")


def test_an_equals_sign_inside_a_value_is_kept() -> None:
    parser = OptionParser("--x", ("extra",)).parse("extra=foo=bar")
    assert parser.get("extra") == "foo=bar"


def test_quoted_values_keep_commas() -> None:
    parser = OptionParser("--x", ("cmdline",)).parse('cmdline="console=ttyS0,9600n8"')
    assert parser.get("cmdline") == "console=ttyS0,9600n8"


def test_an_unknown_key_names_the_option_and_the_key() -> None:
    with pytest.raises(OptionError) as caught:
        OptionParser("--memory", ("size",)).parse("size=1G,sise=2G")
    assert caught.value.option == "--memory"
    assert caught.value.key == "sise"
    assert str(caught.value).startswith("--memory: unknown option 'sise'")


def test_a_key_without_value_is_a_syntax_error() -> None:
    with pytest.raises(OptionError, match="needs a value"):
        OptionParser("--memory", ("size",)).parse("size")


def test_a_flag_takes_no_value() -> None:
    parser = OptionParser("--serial", (), ("tty",)).parse("tty")
    assert parser.is_set("tty")
    with pytest.raises(OptionError, match="takes no value"):
        OptionParser("--serial", (), ("tty",)).parse("tty=on")


def test_unbalanced_quotes_are_a_syntax_error() -> None:
    with pytest.raises(OptionError, match="invalid syntax"):
        OptionParser("--kernel", ("cmdline",)).parse('cmdline="abc')


def test_a_conversion_error_names_key_and_value() -> None:
    parser = OptionParser("--memory", ("size",)).parse("size=12Q")
    with pytest.raises(OptionError) as caught:
        parser.convert("size", parse_size)
    assert caught.value.key == "size"
    assert caught.value.value == "12Q"
    assert "invalid value '12Q' for size" in caught.value.message


def test_integers_are_range_checked_by_width() -> None:
    parser = OptionParser("--x", ("a",)).parse("a=256")
    with pytest.raises(OptionError, match="from 0 to 255"):
        parser.u8("a")
    assert parser.u16("a") == 256
