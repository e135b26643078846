"""`Kvm`: the /dev/kvm system descriptor."""

from __future__ import annotations

import errno
import os

import pytest
from kvm_bindings import Cap
from kvm_ioctls import Kvm, KvmError

pytestmark = pytest.mark.kvm


def test_api_version_is_12() -> None:
    with Kvm() as kvm:
        assert kvm.api_version() == 12


def test_check_extension_reports_capabilities_this_vmm_needs() -> None:
    with Kvm() as kvm:
        for cap in (Cap.IRQCHIP, Cap.USER_MEMORY, Cap.IRQFD, Cap.IOEVENTFD, Cap.IRQ_ROUTING):
            assert kvm.check_extension(cap) > 0, cap.name
        assert kvm.check_extension(Cap.NR_MEMSLOTS) >= 32


def test_vcpu_mmap_size_covers_kvm_run() -> None:
    with Kvm() as kvm:
        assert kvm.get_vcpu_mmap_size() >= 4096


def test_supported_cpuid_has_the_vendor_leaf_and_the_kvm_signature() -> None:
    with Kvm() as kvm:
        cpuid = kvm.get_supported_cpuid()
    assert len(cpuid) > 10
    leaf0 = cpuid.get(0)
    assert leaf0 is not None
    assert leaf0.eax >= 1
    kvm_leaf = cpuid.get(0x40000000)
    assert kvm_leaf is not None
    signature = b"".join(
        v.to_bytes(4, "little") for v in (kvm_leaf.ebx, kvm_leaf.ecx, kvm_leaf.edx)
    )
    assert signature == b"KVMKVMKVM\0\0\0"


def test_emulated_cpuid_is_readable() -> None:
    with Kvm() as kvm:
        emulated = kvm.get_emulated_cpuid()
    assert all(entry.function <= 0xFFFFFFFF for entry in emulated)


def test_msr_index_list_holds_the_syscall_msrs() -> None:
    with Kvm() as kvm:
        indices = kvm.get_msr_index_list()
        kvm.get_msr_feature_index_list()
    assert 0xC0000082 in indices  # LSTAR


def test_an_already_open_fd_is_accepted() -> None:
    fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    with Kvm(fd=fd) as kvm:
        assert kvm.fileno() == fd
        assert kvm.api_version() == 12


def test_a_missing_device_is_a_kvm_error() -> None:
    with pytest.raises(KvmError) as caught:
        Kvm("/nonexistent/kvm")
    assert caught.value.errno == errno.ENOENT
    assert "/nonexistent/kvm" in str(caught.value)


def test_a_file_that_is_not_kvm_is_a_kvm_error_not_a_crash(tmp_path: object) -> None:
    fd = os.open("/dev/null", os.O_RDWR)
    with pytest.raises(KvmError) as caught:
        Kvm(fd=fd)
    assert caught.value.ioctl == "KVM_GET_API_VERSION"
    assert caught.value.errno == errno.ENOTTY
