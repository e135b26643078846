"""`Kvm`: the /dev/kvm system file descriptor: capabilities, CPUID, MSR lists, VM creation."""

from __future__ import annotations

import errno
import os

import kvm_bindings as kb

from kvm_ioctls._fd import KvmFd
from kvm_ioctls.cpuid import MAX_CPUID_ENTRIES, CpuId, empty_cpuid2
from kvm_ioctls.errors import KvmError
from kvm_ioctls.vm import VmFd

KVM_DEVICE = "/dev/kvm"


class Kvm(KvmFd):
    """The KVM subsystem; opens /dev/kvm (or wraps an already open fd) and checks the API."""

    __slots__ = ()

    def __init__(self, path: str = KVM_DEVICE, *, fd: int | None = None) -> None:
        if fd is None:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except OSError as error:
                raise KvmError(
                    "open", error.errno or errno.ENODEV, f"cannot open {path}: {error.strerror}"
                ) from None
        super().__init__(fd)
        version = self.api_version()
        if version != kb.KVM_API_VERSION:
            self.close()
            raise KvmError(
                "KVM_GET_API_VERSION",
                errno.EINVAL,
                f"KVM API version {version}, this package needs {kb.KVM_API_VERSION}",
            )

    def api_version(self) -> int:
        return self._ioctl("KVM_GET_API_VERSION", kb.KVM_GET_API_VERSION, 0)

    def check_extension(self, cap: int) -> int:
        """0 when the capability is missing, else 1 or a capability-specific number."""
        return self._ioctl("KVM_CHECK_EXTENSION", kb.KVM_CHECK_EXTENSION, int(cap))

    def get_vcpu_mmap_size(self) -> int:
        return self._ioctl("KVM_GET_VCPU_MMAP_SIZE", kb.KVM_GET_VCPU_MMAP_SIZE, 0)

    def get_supported_cpuid(self, capacity: int = MAX_CPUID_ENTRIES) -> CpuId:
        """The CPUID leaves KVM can give a guest: the starting point of a vCPU's table."""
        table = empty_cpuid2(capacity)
        self._ioctl("KVM_GET_SUPPORTED_CPUID", kb.KVM_GET_SUPPORTED_CPUID, table)
        return CpuId.from_struct(table)

    def get_emulated_cpuid(self, capacity: int = MAX_CPUID_ENTRIES) -> CpuId:
        """The CPUID features KVM emulates (slowly) even where the host lacks them."""
        table = empty_cpuid2(capacity)
        self._ioctl("KVM_GET_EMULATED_CPUID", kb.KVM_GET_EMULATED_CPUID, table)
        return CpuId.from_struct(table)

    def get_msr_index_list(self) -> list[int]:
        """The MSRs KVM saves and restores for a guest."""
        return self._msr_list("KVM_GET_MSR_INDEX_LIST", kb.KVM_GET_MSR_INDEX_LIST)

    def get_msr_feature_index_list(self) -> list[int]:
        """The feature MSRs (read-only capability MSRs) KVM reports."""
        return self._msr_list("KVM_GET_MSR_FEATURE_INDEX_LIST", kb.KVM_GET_MSR_FEATURE_INDEX_LIST)

    def _msr_list(self, name: str, request: int) -> list[int]:
        capacity = 256
        while True:
            msrs = kb.with_entries(kb.kvm_msr_list, capacity)(nmsrs=capacity)
            try:
                self._ioctl(name, request, msrs)
            except KvmError as error:
                if error.errno != errno.E2BIG or msrs.nmsrs <= capacity:
                    raise
                capacity = msrs.nmsrs
                continue
            return [int(msrs.indices[i]) for i in range(msrs.nmsrs)]

    def create_vm(self, machine_type: int = 0) -> VmFd:
        fd = self._ioctl("KVM_CREATE_VM", kb.KVM_CREATE_VM, machine_type)
        try:
            return VmFd(fd, self.get_vcpu_mmap_size())
        except BaseException:
            os.close(fd)
            raise
