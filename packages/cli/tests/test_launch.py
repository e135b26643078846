"""The entry point starts the API socket early only for the plain `--api-socket` spellings."""

from __future__ import annotations

import pytest
from cli.launch import api_socket_value


@pytest.mark.parametrize(
    ("argv", "value"),
    [
        (["--api-socket", "path=/tmp/a.sock"], "path=/tmp/a.sock"),
        (["--api-socket=fd=3", "-v"], "fd=3"),
        (["--kernel", "k", "--api-socket", "/tmp/a.sock"], "/tmp/a.sock"),
        (["--kernel", "k"], None),
        (["--api-socket", "a", "--api-socket", "b"], None),
        (["--api-socket"], None),
        (["--help", "--api-socket", "a"], None),
    ],
)
def test_the_api_socket_value_is_found_without_parsing_the_command_line(
    argv: list[str], value: str | None
) -> None:
    assert api_socket_value(argv) == value
