"""A start-up-cheap `dataclass` for the configuration classes.

On Python 3.11, `dataclasses.dataclass` compiles each generated method
(`__init__`, `__eq__`, `__setattr__`, ...) with `exec`: for the ~40 classes of
the configuration that was about 190 ms of CPU at import on this project's
machines, against a 45 ms budget for reaching the guest's first instruction.
This decorator builds the same classes, real dataclasses for
`dataclasses.fields`, `replace`, `asdict` and `is_dataclass`, with generic
methods shared by all classes instead of compiled ones. The type checker sees
the standard decorator (see the `TYPE_CHECKING` imports), so constructor calls
stay checked.

Only what the configuration uses is supported: keyword-only fields with
plain defaults, frozen or not. `__dataclass_params__` describes the plain
dataclass underneath (frozen=False): frozen instances refuse assignment all
the same, and frozen and unfrozen classes may inherit from each other.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["dataclass"]

T = TypeVar("T")
_MISSING = dataclasses.MISSING


def dataclass(*, frozen: bool = False, kw_only: bool = True) -> Callable[[type[T]], type[T]]:
    """Like `dataclasses.dataclass(frozen=..., kw_only=True)`, without compiling methods."""
    if not kw_only:
        raise TypeError("vmm.config.record.dataclass supports keyword-only fields only")

    def wrap(cls: type[T]) -> type[T]:
        return _process(cls, frozen)

    return wrap


def _process(cls: type[T], frozen: bool) -> type[T]:
    fields = _fields_fast(cls) if _FIELD is not None else None
    if fields is None:
        fields = _fields_slow(cls)
    names = tuple(field.name for field in fields)
    defaults: dict[str, Any] = {}
    for field in fields:
        if field.default_factory is not _MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: default_factory is not supported")
        if field.default is not _MISSING:
            defaults[field.name] = field.default
    name = cls.__qualname__
    setter = object.__setattr__

    def __init__(self: Any, **kwargs: Any) -> None:  # noqa: N807
        for field_name in names:
            if field_name in kwargs:
                value = kwargs.pop(field_name)
            elif field_name in defaults:
                value = defaults[field_name]
            else:
                raise TypeError(
                    f"{name}.__init__() missing required keyword-only argument: '{field_name}'"
                )
            setter(self, field_name, value)
        if kwargs:
            unexpected = next(iter(kwargs))
            raise TypeError(f"{name}.__init__() got an unexpected keyword argument '{unexpected}'")

    def __repr__(self: Any) -> str:  # noqa: N807
        inner = ", ".join(f"{field_name}={getattr(self, field_name)!r}" for field_name in names)
        return f"{name}({inner})"

    def __eq__(self: Any, other: object) -> bool:  # noqa: N807
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __hash__(self: Any) -> int:  # noqa: N807
        return hash(tuple(getattr(self, field_name) for field_name in names))

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls.__repr__ = __repr__  # type: ignore[method-assign]
    cls.__eq__ = __eq__  # type: ignore[method-assign]
    if frozen:
        cls.__hash__ = __hash__  # type: ignore[method-assign]
        cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
        cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
    else:
        cls.__hash__ = None  # type: ignore[assignment]
    return cls


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field '{name}'")


def _frozen_delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field '{name}'")


# The marker dataclasses puts on real fields (as opposed to ClassVar and
# InitVar pseudo-fields). If a Python version renames it, _fields_slow runs
# the standard decorator instead: slower at import, same classes.
_FIELD = getattr(dataclasses, "_FIELD", None)


def _fields_fast(cls: type) -> list[dataclasses.Field[Any]] | None:
    """Record the fields as dataclasses does, without its per-field type inspection."""
    fields: dict[str, dataclasses.Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        fields.update(getattr(base, "__dataclass_fields__", {}))
    for name, annotation in inspect.get_annotations(cls).items():
        if not isinstance(annotation, str):
            return None
        if annotation.startswith(("ClassVar", "typing.ClassVar", "InitVar")):
            continue
        default = cls.__dict__.get(name, _MISSING)
        if isinstance(default, dataclasses.Field):
            return None
        field: dataclasses.Field[Any] = dataclasses.field(default=default, kw_only=True)
        field.name = name
        field.type = annotation
        field._field_type = _FIELD  # type: ignore[attr-defined]
        fields[name] = field
    cls.__dataclass_fields__ = fields  # type: ignore[attr-defined]
    return list(fields.values())


def _fields_slow(cls: type) -> list[dataclasses.Field[Any]]:
    if not cls.__dict__.get("__doc__"):
        # Else dataclasses computes a docstring with inspect.signature (slow).
        cls.__doc__ = f"{cls.__name__}(...)"
    dataclasses.dataclass(init=False, repr=False, eq=False, kw_only=True)(cls)
    return list(dataclasses.fields(cls))
