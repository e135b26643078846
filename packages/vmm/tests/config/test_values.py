"""Value syntaxes of CH's options: sizes, toggles, integers, lists, MAC and IP addresses."""

from __future__ import annotations

import pytest
from vmm.config.values import (
    dequote,
    format_integer_list,
    format_size,
    is_netmask,
    parse_int,
    parse_integer_list,
    parse_ip,
    parse_mac,
    parse_size,
    parse_string_list,
    parse_toggle,
    parse_tuple_list,
    quote,
    split_commas,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512 << 20),
        ("1G", 1 << 30),
        ("4K", 4096),
        ("4096", 4096),
        ("0", 0),
        (" 2G ", 2 << 30),
    ],
)
def test_sizes_take_binary_suffixes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["12Q", "", "M", "1.5G", "-1G", "1g", "1 G", "1T", "0x10"])
def test_a_malformed_size_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="size such as 512M"):
        parse_size(text)


def test_a_size_beyond_64_bits_is_rejected() -> None:
    with pytest.raises(ValueError, match="64 bits"):
        parse_size(f"{1 << 40}G")


@pytest.mark.parametrize(
    ("size", "text"), [(512 << 20, "512M"), (1 << 30, "1G"), (4097, "4097"), (0, "0")]
)
def test_sizes_format_with_the_largest_exact_suffix(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [("on", True), ("ON", True), ("true", True), ("off", False), ("false", False), ("", False)],
)
def test_toggles_are_on_off_true_false(text: str, value: bool) -> None:
    assert parse_toggle(text) is value


def test_a_toggle_rejects_other_words() -> None:
    with pytest.raises(ValueError, match="on or off"):
        parse_toggle("yes")


def test_integers_are_strict_decimal() -> None:
    assert parse_int("+42") == 42
    for bad in ("4_2", " 42", "0x2a", "٤٢", "", "-"):
        with pytest.raises(ValueError, match="decimal integer"):
            parse_int(bad)


def test_integers_outside_the_field_width_are_rejected() -> None:
    with pytest.raises(ValueError, match="from 0 to 255"):
        parse_int("256", 0, 255)
    with pytest.raises(ValueError, match="non-negative"):
        parse_int("-1", 0, 255)


def test_integer_lists_expand_ranges() -> None:
    assert parse_integer_list("[0,2-4,6]") == (0, 2, 3, 4, 6)
    assert parse_integer_list("5") == (5,)


def test_an_integer_range_must_go_upwards() -> None:
    with pytest.raises(ValueError, match="upwards"):
        parse_integer_list("[4-2]")


def test_integer_lists_of_more_than_65536_integers_are_refused() -> None:
    # [0-4294967295] (--numa cpus=, a u32 list) built a list of 2**32 integers.
    assert len(parse_integer_list("[0-65534,65535]")) == 65536
    with pytest.raises(ValueError, match="more than 65536 integers in the list"):
        parse_integer_list("[0-4294967295]")
    with pytest.raises(ValueError, match="more than 65536 integers in the list"):
        parse_integer_list("[0-65535,70000]")


def test_integer_lists_format_runs_as_ranges() -> None:
    assert format_integer_list((0, 1, 2, 5, 7, 8)) == "[0-2,5,7-8]"


def test_string_lists_keep_quoted_commas() -> None:
    assert parse_string_list('[a,"b,c",d]') == ("a", "b,c", "d")


def test_tuple_lists_pair_keys_and_values() -> None:
    pairs = parse_tuple_list("[0@[0-1],1@[2]]", int, parse_integer_list)
    assert pairs == ((0, (0, 1)), (1, (2,)))


def test_a_tuple_list_needs_brackets_and_at_signs() -> None:
    with pytest.raises(ValueError, match="brackets"):
        parse_tuple_list("0@1", int, int)
    with pytest.raises(ValueError, match="key@value"):
        parse_tuple_list("[0]", int, int)


def test_mac_addresses_are_six_hex_pairs_in_lower_case() -> None:
    assert parse_mac("12:34:56:78:9A:bC") == "12:34:56:78:9a:bc"
    for bad in ("12:34:56:78:9a", "12:34:56:78:9a:bc:de", "1:34:56:78:9a:bc", "12:34:56:78:9a:zz"):
        with pytest.raises(ValueError, match="MAC address"):
            parse_mac(bad)


def test_ip_addresses_are_v4_or_v6_in_canonical_form() -> None:
    assert parse_ip("192.168.1.1") == "192.168.1.1"
    assert parse_ip("FE80:0:0::1") == "fe80::1"
    with pytest.raises(ValueError, match="IPv4 or IPv6"):
        parse_ip("192.168.1")


def test_a_netmask_is_contiguous_and_of_the_ip_version() -> None:
    assert is_netmask("10.0.0.1", "255.255.255.0")
    assert not is_netmask("10.0.0.1", "255.0.255.0")
    assert not is_netmask("10.0.0.1", "ffff::")
    assert is_netmask("fe80::1", "ffff:ffff::")


def test_commas_inside_quotes_and_brackets_do_not_split() -> None:
    assert split_commas('a=1,b="x,y",c=[1,2]') == ["a=1", 'b="x,y"', "c=[1,2]"]


@pytest.mark.parametrize("text", ['a="b', "a=[1", "a=1]"])
def test_unbalanced_quotes_or_brackets_are_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        split_commas(text)


def test_doubled_quotes_inside_quotes_stand_for_one_quote() -> None:
    assert dequote('"a""b"') == 'a"b'
    assert quote('a"b') == '"a""b"'
    assert quote("plain") == "plain"
    assert quote("") == '""'
