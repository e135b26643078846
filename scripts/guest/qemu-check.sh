#!/usr/bin/env bash
# qemu-check.sh [GUEST_DIR] [KERNEL]: boot the test guest under QEMU
# (microvm, the reference command of README.md) and check the /init contract.
#
#   GUEST_DIR  folder with the kernel and initramfs.cpio (default: build/guest)
#   KERNEL     vmlinux (default), bzImage or vmlinux-acpi
#
# Checks, each a separate boot: guest.cmd output + GUEST-CMD-EXIT=0 + reboot
# ends QEMU (also prints the time from QEMU start to GUEST-USERSPACE-READY),
# then a guest.script ext4 disk on virtio-mmio with a second raw disk whose
# md5 the guest must print.  Needs qemu-system-x86 and e2fsprogs, and a
# usable /dev/kvm.  Exits non-zero on the first failed check.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${1:-$HERE/../../build/guest}
KERNEL=${2:-vmlinux}
CMDLINE=$(cat "$HERE/cmdline")
TIMEOUT=${TIMEOUT:-300}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

machine=microvm,acpi=off
if [ "$KERNEL" = vmlinux-acpi ]; then machine=microvm,acpi=on; fi
# shellcheck disable=SC2054  # commas belong to QEMU options
QEMU=(
	qemu-system-x86_64 -accel kvm -M "$machine" -device i8042
	-cpu host,-cx16,-kvm-pv-ipi,-kvm-pv-sched-yield,-kvm-pv-unhalt,-arch-capabilities
	-m 128 -smp 1 -kernel "$DIR/$KERNEL" -initrd "$DIR/initramfs.cpio" -nodefaults
	-serial stdio -no-reboot -display none
)

fail() {
	echo "qemu-check: FAIL: $*" >&2
	exit 1
}

# boot NAME APPEND [QEMU ARGS...]: run QEMU, serial output to $WORK/NAME.log;
# prints the seconds from start to the READY marker.
boot() {
	local name=$1 append=$2 log=$WORK/$1.log start ready=
	shift 2
	start=$(date +%s.%N)
	timeout "$TIMEOUT" "${QEMU[@]}" -append "$CMDLINE $append" "$@" </dev/null |
		while IFS= read -r line; do
			line=${line%$'\r'}
			printf '%s\n' "$line" >>"$log"
			if [ -z "$ready" ] && [ "$line" = GUEST-USERSPACE-READY ]; then
				ready=$(date +%s.%N)
				echo "$ready - $start" | bc >"$WORK/$name.ready"
			fi
		done || fail "$name: QEMU failed or timed out; serial log: $(cat "$log")"
	[ -f "$WORK/$name.ready" ] || fail "$name: no GUEST-USERSPACE-READY; serial log: $(cat "$log")"
	grep -qx GUEST-REBOOT "$log" || fail "$name: no GUEST-REBOOT"
	cat "$WORK/$name.ready"
}

t=$(boot cmd 'guest.cmd="cat /proc/cmdline"')
grep -q '^console=ttyS0 .*guest.cmd=' "$WORK/cmd.log" || fail "cmd: /proc/cmdline not printed"
grep -qx 'GUEST-CMD-EXIT=0' "$WORK/cmd.log" || fail "cmd: no GUEST-CMD-EXIT=0"
echo "qemu-check: $KERNEL: guest.cmd ok, QEMU start to GUEST-USERSPACE-READY: ${t} s"

mkdir "$WORK/root"
# shellcheck disable=SC2016  # expanded by the guest
printf 'echo "run.sh: $(cat hello.txt)"\nmd5sum /dev/vdb\nexit 3\n' >"$WORK/root/run.sh"
echo hello >"$WORK/root/hello.txt"
mke2fs -q -t ext4 -d "$WORK/root" "$WORK/disk.img" 8M
head -c 1048576 /dev/urandom >"$WORK/raw.img"
want=$(md5sum <"$WORK/raw.img" | cut -d' ' -f1)
boot script 'guest.script=/dev/vda' \
	-drive file="$WORK/disk.img",if=none,id=d0,format=raw -device virtio-blk-device,drive=d0 \
	-drive file="$WORK/raw.img",if=none,id=d1,format=raw,readonly=on -device virtio-blk-device,drive=d1 \
	>/dev/null
grep -qx 'run.sh: hello' "$WORK/script.log" || fail "script: run.sh did not run"
grep -q "^$want  /dev/vdb" "$WORK/script.log" || fail "script: md5 of /dev/vdb differs"
grep -qx 'GUEST-CMD-EXIT=3' "$WORK/script.log" || fail "script: no GUEST-CMD-EXIT=3"
echo "qemu-check: $KERNEL: guest.script on virtio-mmio ext4 ok"
