"""A complete VMM: one vCPU in real mode prints a greeting through port I/O."""

import ctypes
import mmap

from kvm_ioctls import Hlt, IoOut, Kvm

GUEST_CODE = (
    bytes.fromhex(
        "be0f10"  #     mov si, 0x100f   ; the message follows the code at 0x1000
        "baf803"  #     mov dx, 0x3f8    ; a serial port
        "ac"  #     1:  lodsb
        "84c0"  #       test al, al
        "7403"  #       jz 2f
        "ee"  #         out dx, al       ; one vCPU exit per character
        "ebf8"  #       jmp 1b
        "f4"  #     2:  hlt
    )
    + b"Hello from a KVM guest, run by Python!\n\0"
)

kvm = Kvm()
vm = kvm.create_vm()
memory = mmap.mmap(-1, 0x4000)  # 16 KiB of guest RAM at guest-physical 0
memory[0x1000 : 0x1000 + len(GUEST_CODE)] = GUEST_CODE
host_address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
vm.set_user_memory_region(0, guest_phys_addr=0, memory_size=0x4000, userspace_addr=host_address)

vcpu = vm.create_vcpu(0)
sregs = vcpu.get_sregs()
sregs.cs.base, sregs.cs.selector = 0, 0  # real mode, flat: cs:ip = 0:0x1000
vcpu.set_sregs(sregs)
regs = vcpu.get_regs()
regs.rip, regs.rflags = 0x1000, 0x2
vcpu.set_regs(regs)

output = bytearray()
while True:
    match vcpu.run():
        case IoOut(0x3F8, data):
            output += data
        case Hlt():
            break
        case other:
            raise SystemExit(f"unexpected vCPU exit: {other}")
print(output.decode(), end="")
