"""Every field of VmConfig and every key of every option is built or refused: none is dropped.

Two walks make a new field or key impossible to land unclassified:

* every field path of VmConfig (the API's JSON, the CLI's target): a path in
  `BUILT` names the test that proves it (a file that exists); any other path,
  set to a value other than its default, is refused by `refuse_unbuilt`;
* every key of every command-line option (as the option's parser knows it):
  some value of it parses into a config different from the option without
  it, so no key is parsed and then dropped before the config.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vmm.config import VmParams, parse_vm_config
from vmm.config.capabilities import BUILT, RULES, covered, refuse_unbuilt
from vmm.config.codecs import FLAG
from vmm.config.declarations import OPTIONS, by_field
from vmm.config.devices import DiskConfig, ImageType
from vmm.config.errors import ConfigError, ValidationError
from vmm.config.model import CpusConfig, PayloadConfig, VmConfig

WORKSPACE = Path(__file__).resolve().parents[4]
BASE = VmConfig(payload=PayloadConfig(kernel="/k"))


def _unwrap(hint: Any) -> Any:
    """The type inside Annotated[...] and X | None."""
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return _unwrap(hint)
    return hint


def _item_type(hint: Any) -> Any:
    """The record type of a field, or of each element of a tuple field; else the type."""
    hint = _unwrap(hint)
    if typing.get_origin(hint) is tuple:
        return _unwrap(typing.get_args(hint)[0])
    return hint


def _paths(cls: type, prefix: str = "") -> Iterator[tuple[str, type, dataclasses.Field[Any]]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        path = f"{prefix}.{field.name}" if prefix else field.name
        yield path, cls, field
        inner = _item_type(hints[field.name])
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            yield from _paths(inner, path)


ALL_PATHS = [path for path, _, _ in _paths(VmConfig)]


def _sample(hint: Any, default: Any = dataclasses.MISSING) -> Any:
    """A value of type `hint` other than `default`."""
    raw = _unwrap(hint)
    if typing.get_origin(raw) is tuple:
        return (_sample(typing.get_args(raw)[0]),)
    if raw is bool:
        return not default if isinstance(default, bool) else True
    if raw is int:
        return default + 1 if isinstance(default, int) else 1
    if raw is str:
        return "sample" if default != "sample" else "other"
    if isinstance(raw, type) and issubclass(raw, enum.Enum):
        return next(member for member in raw if member != default)
    if dataclasses.is_dataclass(raw):
        return _record(raw, default)
    raise AssertionError(f"no sample for {hint!r}")


def _record(cls: Any, default: Any = dataclasses.MISSING) -> Any:
    """An instance of `cls` (required fields filled in) other than `default`."""
    hints = typing.get_type_hints(cls, include_extras=True)
    required = {f.name: _sample(hints[f.name]) for f in dataclasses.fields(cls) if _is_required(f)}
    record = cls(**required)
    if record == default:
        first = dataclasses.fields(cls)[0]
        record = dataclasses.replace(
            record, **{first.name: _sample(hints[first.name], getattr(record, first.name))}
        )
    return record


def _is_required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING


def _with(record: Any, parts: list[str], make_value: Any) -> Any:
    """`record` with the field at `parts` set by `make_value(field, hint, current)`."""
    hints = typing.get_type_hints(type(record), include_extras=True)
    name, rest = parts[0], parts[1:]
    field = next(f for f in dataclasses.fields(record) if f.name == name)
    current = getattr(record, name)
    if not rest:
        return dataclasses.replace(record, **{name: make_value(field, hints[name], current)})
    is_tuple = typing.get_origin(_unwrap(hints[name])) is tuple
    inner_type = _item_type(hints[name])
    if is_tuple:
        inner = current[0] if current else _record(inner_type)
        return dataclasses.replace(record, **{name: (_with(inner, rest, make_value),)})
    inner = current if current is not None else _record(inner_type)
    return dataclasses.replace(record, **{name: _with(inner, rest, make_value)})


def _set(path: str) -> VmConfig:
    """BASE with the field at `path` set to a value other than its default."""

    def value(field: dataclasses.Field[Any], hint: Any, current: Any) -> Any:
        return _sample(hint, field.default if not _is_required(field) else current)

    return typing.cast(VmConfig, _with(BASE, path.split("."), value))


def _refused_ancestor(path: str) -> str:
    """The first part of `path` that is not built: where the refusal must point."""
    parts = path.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if prefix not in BUILT:
            return prefix
    return path


def _strip_indices(path: str) -> str:
    return ".".join(part.split("[", 1)[0] for part in path.split("."))


def test_the_base_config_is_built() -> None:
    refuse_unbuilt(BASE)


def test_every_classified_path_is_a_field() -> None:
    assert set(BUILT) - set(ALL_PATHS) == set()
    assert set(RULES) - set(ALL_PATHS) == set()


@pytest.mark.parametrize("path", sorted(p for p in BUILT if not BUILT[p].startswith("nothing")))
def test_a_built_field_names_a_test_that_exists(path: str) -> None:
    if not (WORKSPACE / "packages").is_dir():
        pytest.skip("outside the workspace: the proving tests are not at hand")
    assert (WORKSPACE / BUILT[path]).is_file(), BUILT[path]


NOT_BUILT = [p for p in ALL_PATHS if not covered(p) and _refused_ancestor(p) not in RULES]


@pytest.mark.parametrize("path", NOT_BUILT)
def test_every_field_not_built_is_refused_when_set(path: str) -> None:
    expected = _refused_ancestor(path)
    with pytest.raises(ValidationError) as raised:
        refuse_unbuilt(_set(path))
    assert _strip_indices(raised.value.path) == expected
    assert "not supported" in raised.value.message


def test_more_vcpus_than_boot_is_refused() -> None:
    refuse_unbuilt(dataclasses.replace(BASE, cpus=CpusConfig(boot_vcpus=2, max_vcpus=2)))
    with pytest.raises(ValidationError, match="'max' more vCPUs than boot="):
        refuse_unbuilt(dataclasses.replace(BASE, cpus=CpusConfig(boot_vcpus=1, max_vcpus=2)))


@pytest.mark.parametrize("image_type", list(ImageType))
def test_only_raw_and_qcow2_images_are_built(image_type: ImageType) -> None:
    config = dataclasses.replace(BASE, disks=(DiskConfig(path="/d", image_type=image_type),))
    if image_type in (ImageType.RAW, ImageType.UNKNOWN, ImageType.QCOW2):
        refuse_unbuilt(config)
    else:
        with pytest.raises(ValidationError, match="images are not supported"):
            refuse_unbuilt(config)


# --- every key of every option reaches the config ---------------------------------------

# A value each option parses on its own, to which one key at a time is added.
BASES: dict[str, str] = {
    "cpus": "boot=1",
    "memory": "size=512M",
    "memory_zones": "id=z0,size=64M",
    "rate_limit_groups": "id=g0,bw_size=1000,bw_refill_time=100",
    "disks": "path=/d",
    "net": "tap=t0",
    "rng": "src=/dev/urandom",
    "balloon": "size=64M",
    "fs": "tag=t,socket=/s",
    "generic_vhost_user": "socket=/s,virtio_id=1,queue_sizes=[64]",
    "pmem": "file=/p,size=2M",
    "serial": "tty",
    "console": "tty",
    "debug_console": "off",
    "devices": "path=/sys/x",
    "user_devices": "socket=/s",
    "vdpa": "path=/v",
    "vsock": "cid=3,socket=/s",
    "numa": "guest_numa_id=0",
    "rtc": "",
    "pci_segments": "pci_segment=1",
    "platform": "num_pci_segments=2",
    "tpm": "socket=/s",
    "landlock_rules": "path=/x,access=r",
}
# The option behind each VmParams field, as errors name it (`disks` -> `--disk`).
OPTION_OF = {
    field: str(ValidationError(field.replace("memory_zones", "memory.zones"), "").option)
    for field in BASES
}
CANDIDATES = (
    "on", "off", "7", "2", "1M", "/x", "x", "[1]", "[0@[1]]", "[1,2]", "1:1:1:1",
    "52:54:00:00:00:07", "10.1.2.3", "255.255.0.0", "qcow2", "full", "virtio-mem", "vcpu",
    "[amx]", "0x3f8", "[0@1]", "[1@[0]]", "[x]", "[z0]", "[1@20]", "0", "1", "3",
    "00000000-0000-0000-0000-000000000001", "server", "host",
)  # fmt: skip


def _keys_of_each_option() -> dict[str, tuple[str, ...]]:
    """Each VmParams field's keys, as its option's declaration has them."""
    return {field: tuple(key.name for key in by_field()[field].keys) for field in BASES}


def test_every_option_with_keys_has_a_base_value() -> None:
    assert {o.field for o in OPTIONS if o.keys} == set(BASES)


def test_every_key_fills_a_field_of_its_record() -> None:
    for option in OPTIONS:
        if option.record is None:
            assert not option.keys, option.long
            continue
        names = {f.name for f in dataclasses.fields(option.record)}
        for key in option.keys:
            assert key.field in names, key.name


def test_params_hold_each_declared_option() -> None:
    assert set(by_field()) == {f.name for f in dataclasses.fields(VmParams)}


def _parse(field: str, text: str) -> VmConfig:
    value: Any = (text,) if isinstance(getattr(VmParams(), field), tuple) else text
    extra: dict[str, Any] = {}
    if field == "numa":
        extra["memory_zones"] = (BASES["memory_zones"],)
    return parse_vm_config(VmParams(kernel="/k", **{field: value}, **extra))


KEYS = _keys_of_each_option()


# Keys that only parse together with others (a token bucket needs a size and a refill time).
COMPANIONS = {
    "bw_": ("bw_size=1000", "bw_refill_time=100"),
    "ops_": ("ops_size=10", "ops_refill_time=100"),
}
# Keys with no value but their default to give.
EXEMPT = {("cpus", "profile"): "host is its only value, and the default"}


def _configs_with(field: str, key: str) -> tuple[VmConfig | None, set[str]]:
    """The config without `key` (companions kept) and the distinct configs it gives
    for each candidate value that parses (repr'd: configs hold tuples, not sets)."""
    companions = next((c for p, c in COMPANIONS.items() if key.startswith(p)), ())
    kept = [p for p in BASES[field].split(",") if p and p != key and not p.startswith(f"{key}=")]
    kept += [c for c in companions if not c.startswith(f"{key}=")]
    try:
        without: VmConfig | None = _parse(field, ",".join(kept))
    except ConfigError:
        without = None
    seen: set[str] = set()
    declared = next(k for k in by_field()[field].keys if k.name == key)
    tokens = [key] if declared.codec is FLAG else [f"{key}={value}" for value in CANDIDATES]
    for token in tokens:
        # A console's mode (tty, file=, socket=) is exclusive: then the key stands alone.
        for parts in ([*kept, token], [token]):
            try:
                seen.add(repr(_parse(field, ",".join(parts))))
                break
            except ConfigError:
                continue
    return without, seen


def test_exempt_keys_are_real_keys() -> None:
    assert all(key in KEYS[field] for field, key in EXEMPT)


@pytest.mark.parametrize(
    ("field", "key"),
    [(field, key) for field, keys in KEYS.items() for key in keys if (field, key) not in EXEMPT],
)
def test_every_option_key_reaches_the_config(field: str, key: str) -> None:
    without, seen = _configs_with(field, key)
    assert seen, f"no value of {key}= parses for {OPTION_OF[field]}"
    reached = len(seen) > 1 or repr(without) not in seen
    assert reached, f"no value of {key}= changes the config of {OPTION_OF[field]}: it is dropped"
