"""Command-line parsing with clap's rules."""

from __future__ import annotations

import pytest
from cli.args import UsageError, parse_args


def _usage_error(*argv: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse_args(list(argv))
    return caught.value.message


def test_an_option_takes_the_next_word() -> None:
    assert parse_args(["--kernel", "/k"]).one("kernel") == "/k"


def test_an_option_takes_a_value_after_equals() -> None:
    assert parse_args(["--kernel=/k", "--cmdline=console=ttyS0"]).one("cmdline") == "console=ttyS0"


def test_defaults_are_chs() -> None:
    args = parse_args(["--kernel", "/k"])
    assert args.one("cpus") == "boot=1,max_phys_bits=46"
    assert args.one("memory") == "size=512M"
    assert args.one("serial") == "null"
    assert args.one("console") == "tty"
    assert args.one("rng") == "src=/dev/urandom"
    assert args.one("seccomp") == "true"


def test_defaults_are_not_counted_as_given() -> None:
    assert parse_args(["--kernel", "/k"]).given == {"kernel"}


def test_repeatable_options_take_several_values() -> None:
    args = parse_args(["--kernel", "/k", "--disk", "path=/a", "path=/b", "--disk", "path=/c"])
    assert args.many("disk") == ("path=/a", "path=/b", "path=/c")


def test_several_values_stop_at_the_next_option() -> None:
    args = parse_args(["--kernel", "/k", "--net", "tap=t0", "--disk", "path=/a"])
    assert args.many("net") == ("tap=t0",)


def test_v_counts() -> None:
    assert parse_args(["-vvv"]).count("v") == 3
    assert parse_args(["-v", "-v"]).count("v") == 2
    assert parse_args([]).count("v") == 0


def test_short_version_and_help() -> None:
    assert parse_args(["-V"]).flag("version")
    assert parse_args(["-h"]).flag("help")


def test_flags_take_no_value() -> None:
    assert parse_args(["--kernel", "/k", "--watchdog"]).flag("watchdog")
    assert "unexpected value 'yes'" in _usage_error("--kernel", "/k", "--watchdog=yes")


def test_rtc_may_come_without_a_value() -> None:
    assert parse_args(["--kernel", "/k", "--rtc"]).one("rtc") == ""
    assert parse_args(["--kernel", "/k", "--rtc", "id=rtc0"]).one("rtc") == "id=rtc0"


def test_an_unknown_option_is_a_usage_error() -> None:
    assert (
        _usage_error("--kernel", "/k", "--frobnicate") == "unexpected argument '--frobnicate' found"
    )


def test_an_unknown_short_option_is_a_usage_error() -> None:
    assert _usage_error("-x") == "unexpected argument '-x' found"


def test_a_stray_word_is_a_usage_error() -> None:
    assert _usage_error("--kernel", "/k", "extra") == "unexpected argument 'extra' found"


def test_an_argument_that_is_not_utf8_is_a_usage_error_as_in_clap() -> None:
    # Found by fuzz_cli: a disk serial of b"\xb4" (argv's surrogate escape) reached
    # validate and raised UnicodeEncodeError there.
    serial = b"serial=\xb4".decode("utf-8", "surrogateescape")
    message = _usage_error("--kernel", "/k", "--disk", f"path=/a,{serial}")
    assert message == "invalid UTF-8 was detected in one or more arguments"


def test_a_single_value_option_given_twice_is_a_usage_error() -> None:
    message = _usage_error("--kernel", "/a", "--kernel", "/b")
    assert message == "the argument '--kernel <kernel>' cannot be used multiple times"


def test_a_missing_value_is_a_usage_error() -> None:
    assert "a value is required for '--memory <memory>'" in _usage_error(
        "--kernel", "/k", "--memory"
    )
    assert "a value is required for '--disk <disk>'" in _usage_error("--kernel", "/k", "--disk")


def test_seccomp_takes_chs_values_only() -> None:
    assert parse_args(["--seccomp", "log"]).one("seccomp") == "log"
    message = _usage_error("--seccomp", "maybe")
    assert message.startswith("invalid value 'maybe' for '--seccomp <seccomp>'")
    assert "[possible values: true, false, log, errno]" in message


def test_vm_options_need_a_payload() -> None:
    message = _usage_error("--memory", "size=1G")
    assert "the following required arguments were not provided" in message
    assert "--kernel <kernel>" in message


def test_vmm_options_do_not_need_a_payload() -> None:
    assert parse_args(["--api-socket", "/tmp/ch.sock"]).one("api-socket") == "/tmp/ch.sock"
