"""A CPUID table as the VMM edits it between KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2."""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Iterator

from kvm_bindings import kvm_cpuid2, kvm_cpuid_entry2, with_entries

from kvm_ioctls.errors import invalid_argument

MAX_CPUID_ENTRIES = 256


class CpuId:
    """An ordered, editable list of `kvm_cpuid_entry2`, convertible to and from `kvm_cpuid2`."""

    __slots__ = ("entries",)

    def __init__(self, entries: Iterable[kvm_cpuid_entry2] = ()) -> None:
        self.entries: list[kvm_cpuid_entry2] = list(entries)

    @classmethod
    def from_struct(cls, table: ctypes.Structure) -> CpuId:
        """Copy the first `nent` entries out of a (sized) `kvm_cpuid2`."""
        count = table.nent
        return cls(kvm_cpuid_entry2.from_buffer_copy(table.entries[i]) for i in range(count))

    def to_struct(self, ioctl: str = "KVM_SET_CPUID2") -> ctypes.Structure:
        """A sized `kvm_cpuid2` holding these entries, ready for the ioctl."""
        if len(self.entries) > MAX_CPUID_ENTRIES:
            raise invalid_argument(
                ioctl, f"{len(self.entries)} CPUID entries, KVM takes at most {MAX_CPUID_ENTRIES}"
            )
        table = with_entries(kvm_cpuid2, len(self.entries))(nent=len(self.entries))
        for i, entry in enumerate(self.entries):
            table.entries[i] = entry
        return table

    def get(self, function: int, index: int = 0) -> kvm_cpuid_entry2 | None:
        """The entry for a leaf and sub-leaf, or None; the index only counts where KVM says so."""
        for entry in self.entries:
            if entry.function == function and (
                entry.index == index or not entry.flags & 1  # KVM_CPUID_FLAG_SIGNIFCANT_INDEX
            ):
                return entry
        return None

    def __iter__(self) -> Iterator[kvm_cpuid_entry2]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def empty_cpuid2(capacity: int = MAX_CPUID_ENTRIES) -> ctypes.Structure:
    """A `kvm_cpuid2` with room for `capacity` entries, for KVM to fill."""
    return with_entries(kvm_cpuid2, capacity)(nent=capacity)
