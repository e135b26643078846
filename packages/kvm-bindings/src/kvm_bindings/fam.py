"""Sized variants of the structs that end in a flexible array member.

`kvm_cpuid2`, `kvm_msrs`, `kvm_msr_list`, `kvm_irq_routing` and
`kvm_signal_mask` end in `entries[]` (or similar) in C. `with_entries(kvm_cpuid2, 80)`
returns a ctypes struct type with the same header and room for 80 entries;
the type is cached, so building one per call is cheap.
"""

from __future__ import annotations

import ctypes
import functools


@functools.cache
def with_entries(header: type[ctypes.Structure], count: int) -> type[ctypes.Structure]:
    """The `header` struct type with its trailing zero-length array resized to `count`."""
    if count < 0:
        raise ValueError(f"entry count must not be negative, got {count}")
    fields = list(header._fields_)
    name, array_type = fields[-1][0], fields[-1][1]
    element = getattr(array_type, "_type_", None)
    if element is None or getattr(array_type, "_length_", None) != 0:
        raise TypeError(f"{header.__name__} does not end in a flexible array member")
    fields[-1] = (name, element * count)
    # A fresh Structure, not a subclass: ctypes appends a subclass's fields
    # after its base's, which would keep the zero-length array in front.
    namespace: dict[str, object] = {"_fields_": fields}
    if hasattr(header, "_anonymous_"):
        namespace["_anonymous_"] = header._anonymous_
    return type(f"{header.__name__}_{count}", (ctypes.Structure,), namespace)
