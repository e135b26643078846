"""Failures are `KvmError`s with errno and the ioctl's name; bad arguments never reach KVM."""

from __future__ import annotations

import errno
import os

import pytest
from kvm_bindings import kvm_regs
from kvm_ioctls import Kvm, KvmError, MmioAddress, PioAddress
from kvm_ioctls.testing import CpuMode, TinyGuest
from kvm_ioctls.vcpu import VcpuFd
from kvm_ioctls.vm import VmFd

pytestmark = pytest.mark.kvm


def test_using_a_closed_vm_is_a_typed_error() -> None:
    with Kvm() as kvm:
        vm = kvm.create_vm()
        vm.close()
        vm.close()  # closing twice is harmless
        with pytest.raises(KvmError) as caught:
            vm.create_vcpu(0)
    assert (caught.value.ioctl, caught.value.errno) == ("KVM_CREATE_VCPU", errno.EBADF)


def test_running_a_closed_vcpu_is_a_typed_error() -> None:
    with Kvm() as kvm:
        guest = TinyGuest(kvm, b"\xf4", CpuMode.REAL)
        guest.vcpu.close()
        with pytest.raises(KvmError) as caught:
            guest.vcpu.run()
        assert (caught.value.ioctl, caught.value.errno) == ("KVM_RUN", errno.EBADF)
        with pytest.raises(KvmError):
            guest.vcpu.get_regs()
        guest.vm.close()


def test_a_vm_ioctl_on_a_wrong_fd_is_a_typed_error() -> None:
    fd = os.open("/dev/null", os.O_RDWR)
    vm = VmFd(fd, 4096)
    with pytest.raises(KvmError) as caught:
        vm.create_irq_chip()
    assert caught.value.errno == errno.ENOTTY
    assert "KVM_CREATE_IRQCHIP" in str(caught.value)
    vm.close()


def test_a_vcpu_on_a_wrong_fd_cannot_be_created() -> None:
    fd = os.open("/dev/null", os.O_RDWR)
    with pytest.raises(KvmError) as caught:
        VcpuFd(fd, 0, 4096)  # /dev/null has no kvm_run page to map
    assert caught.value.ioctl == "mmap(kvm_run)"
    os.close(fd)


def test_creating_the_same_vcpu_twice_is_eexist() -> None:
    with Kvm() as kvm, kvm.create_vm() as vm:
        first = vm.create_vcpu(0)
        with pytest.raises(KvmError) as caught:
            vm.create_vcpu(0)
        assert caught.value.errno == errno.EEXIST
        first.close()


@pytest.mark.parametrize(
    ("call", "detail"),
    [
        (lambda vm: vm.set_user_memory_region(0, 0x1001, 0x1000, 0x7F0000000000), "page-aligned"),
        (lambda vm: vm.set_user_memory_region(0, 0, 0x1000, 0x1234), "page aligned"),
        (lambda vm: vm.set_user_memory_region(-1, 0, 0x1000, 0x7F0000000000), "slot"),
        (lambda vm: vm.register_ioevent(3, PioAddress(0x10000), 1), "16-bit port"),
        (lambda vm: vm.register_ioevent(3, MmioAddress(0x1000), 3), "length 3"),
        (lambda vm: vm.register_ioevent(3, MmioAddress(0x1000), 0, datamatch=1), "datamatch"),
        (lambda vm: vm.register_ioevent(3, MmioAddress(0x1000), 1, datamatch=256), "fit"),
        (lambda vm: vm.register_irqfd(-5, 1), "file descriptor"),
        (lambda vm: vm.register_irqfd(3, 1 << 32), "gsi"),
        (lambda vm: vm.create_vcpu(-1), "vcpu id"),
        (lambda vm: vm.get_irqchip(7), "irqchip"),
        (lambda vm: vm.set_tss_address(1 << 40), "4 GiB"),
    ],
)
def test_bad_arguments_are_refused_before_any_system_call(call: object, detail: str) -> None:
    with Kvm() as kvm:
        vm = kvm.create_vm()
        vm.close()  # a system call would now fail with EBADF instead
        with pytest.raises(KvmError) as caught:
            call(vm)  # type: ignore[operator]
    assert caught.value.errno == errno.EINVAL
    assert caught.value.detail is not None
    assert detail in caught.value.detail


def test_a_wrong_struct_type_is_refused_before_the_system_call() -> None:
    with Kvm() as kvm:
        guest = TinyGuest(kvm, b"\xf4", CpuMode.REAL)
        with pytest.raises(KvmError, match="expected kvm_sregs"):
            guest.vcpu.set_sregs(kvm_regs())  # type: ignore[arg-type]
        guest.close()
