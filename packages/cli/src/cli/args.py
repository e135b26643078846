"""Command-line parsing with clap's rules, as `cloud-hypervisor` (Rust) does it.

`--opt value` and `--opt=value`; repeatable options take several values at
once (`--disk a b --disk c`); `-vvv` counts; an option given twice that takes
one value, an unknown option, or a stray word is a usage error (exit status
2, like clap). Hand-written rather than argparse: it mirrors clap's behaviour
and costs nothing at start-up.
"""

from __future__ import annotations

from cli.options import OPTIONS, Arity, Group, OptionSpec, by_long, by_short

__all__ = ["Arguments", "UsageError", "parse_args"]


class UsageError(Exception):
    """The command line does not fit the options (clap's usage errors); exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Arguments:
    """What the command line gave: values by option name; `given` excludes defaults."""

    __slots__ = ("given", "values")

    def __init__(self) -> None:
        self.values: dict[str, str | list[str] | int | bool] = {}
        self.given: set[str] = set()

    def __repr__(self) -> str:
        return f"Arguments(values={self.values!r}, given={sorted(self.given)!r})"

    def one(self, name: str) -> str | None:
        value = self.values.get(name)
        assert value is None or isinstance(value, str)
        return value

    def many(self, name: str) -> tuple[str, ...]:
        value = self.values.get(name, [])
        assert isinstance(value, list)
        return tuple(value)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name, False))

    def count(self, name: str) -> int:
        value = self.values.get(name, 0)
        assert isinstance(value, int)
        return value


def _is_utf8(token: str) -> bool:
    try:
        token.encode()
    except UnicodeEncodeError:
        return False
    return True


def _looks_like_option(token: str) -> bool:
    return token.startswith("-") and token != "-"


def parse_args(argv: list[str]) -> Arguments:
    """Parse `argv` (without the program name); raises UsageError."""
    if not all(map(_is_utf8, argv)):
        # As clap refuses an argument that is not UTF-8 (Python has it as surrogate escapes):
        # it could not be written in CH's JSON, nor as a disk serial or a tap name.
        raise UsageError("invalid UTF-8 was detected in one or more arguments")
    longs, shorts = by_long(), by_short()
    args = Arguments()
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if token.startswith("--") and len(token) > 2:
            name, equals, inline = token[2:].partition("=")
            spec = longs.get(name)
            if spec is None:
                raise UsageError(f"unexpected argument '--{name}' found")
            index = _take(spec, args, argv, index, inline if equals else None)
        elif _looks_like_option(token) and token != "--":
            for position, letter in enumerate(token[1:], start=1):
                spec = shorts.get(letter)
                if spec is None:
                    raise UsageError(f"unexpected argument '-{letter}' found")
                if spec.arity is not Arity.COUNT and spec.arity is not Arity.FLAG:
                    rest = token[position + 1 :]
                    index = _take(spec, args, argv, index, rest or None)
                    break
                _take(spec, args, argv, index, None)
        else:
            raise UsageError(f"unexpected argument '{token}' found")
    _check_groups(args)
    for spec in OPTIONS:
        if spec.default is not None and spec.name not in args.values:
            args.values[spec.name] = spec.default
    return args


def _take(
    spec: OptionSpec, args: Arguments, argv: list[str], index: int, inline: str | None
) -> int:
    """Record one occurrence of `spec`; returns the index of the next unread token."""
    name = spec.name
    if spec.arity is Arity.COUNT:
        if inline is not None:
            raise UsageError(f"unexpected value '{inline}' for '{spec.display}' found")
        args.values[name] = args.count(name) + 1
    elif spec.arity is Arity.FLAG:
        if inline is not None:
            raise UsageError(f"unexpected value '{inline}' for '{spec.display}' found")
        if name in args.given:
            raise UsageError(f"the argument '{spec.display}' cannot be used multiple times")
        args.values[name] = True
    elif spec.arity is Arity.MANY:
        values = [inline] if inline is not None else []
        while index < len(argv) and not _looks_like_option(argv[index]):
            values.append(argv[index])
            index += 1
        if not values:
            raise UsageError(f"a value is required for '{spec.display}' but none was supplied")
        args.values[name] = [*args.many(name), *values]
    else:
        if name in args.given:
            raise UsageError(f"the argument '{spec.display}' cannot be used multiple times")
        value = inline
        if value is None and index < len(argv) and not _looks_like_option(argv[index]):
            value = argv[index]
            index += 1
        if value is None:
            if spec.arity is not Arity.OPTIONAL:
                raise UsageError(f"a value is required for '{spec.display}' but none was supplied")
            value = ""
        if spec.choices and value not in spec.choices:
            raise UsageError(
                f"invalid value '{value}' for '{spec.display}'\n"
                f"  [possible values: {', '.join(spec.choices)}]"
            )
        args.values[name] = value
    args.given.add(name)
    return index


def _check_groups(args: Arguments) -> None:
    """Like clap's `vm-config` group: VM options need a payload (--kernel or --firmware)."""
    specs = by_long()
    vm_options = [n for n in sorted(args.given) if n in specs and specs[n].group is Group.VM]
    has_payload = any(specs[n].group is Group.PAYLOAD for n in args.given if n in specs)
    if vm_options and not has_payload:
        raise UsageError(
            "the following required arguments were not provided:\n"
            "  <--firmware <firmware>|--kernel <kernel>>\n"
            f"  (needed by '{specs[vm_options[0]].display}')"
        )
