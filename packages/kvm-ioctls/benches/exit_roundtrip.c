/* Reference for bench_exit_roundtrip.py: the same KVM_RUN -> port-I/O exit loop in C.
 * Real-mode guest at 0x1000: 1: out dx, al; jmp 1b. Prints the median round trip in ns. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

static int cmp(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

int main(int argc, char **argv) {
	int exits = argc > 1 ? atoi(argv[1]) : 20000;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	uint8_t *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const uint8_t code[] = {0xee, 0xeb, 0xfd};
	memcpy(mem + 0x1000, code, sizeof code);
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = (uint64_t)mem};
	if (kvm < 0 || vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		perror("kvm set-up");
		return 1;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	struct kvm_sregs sregs;
	ioctl(vcpu, KVM_GET_SREGS, &sregs);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	ioctl(vcpu, KVM_SET_SREGS, &sregs);
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2, .rdx = 0x3f8};
	ioctl(vcpu, KVM_SET_REGS, &regs);

	uint64_t *samples = calloc(exits, sizeof *samples);
	uint64_t last = now_ns();
	unsigned long ports = 0;
	for (int i = 0; i < exits; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
			return 1;
		}
		ports += run->io.port + ((uint8_t *)run)[run->io.data_offset];
		uint64_t t = now_ns();
		samples[i] = t - last;
		last = t;
	}
	qsort(samples, exits, sizeof *samples, cmp);
	printf("%llu %lu\n", (unsigned long long)samples[exits / 2], ports);
	return 0;
}
