#!/usr/bin/env bash
# Developer entry point, named after Cloud Hypervisor's scripts/dev_cli.sh.
# Sets up what each job needs on a fresh Debian machine, then runs it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
PY=${PYTHON:-python3}
export PATH="$VENV/bin:$PATH"  # nox finds uv here

usage() {
	cat <<'USAGE'
Usage: scripts/dev_cli.sh COMMAND [ARGS...]

Commands:
  boot          Boot the default test guest and show its console (exits 0
                when the guest reboots at the end of its script).
  tests [ARGS]  Run the default nox sessions: tests, lint, typecheck.
                ARGS go to nox (e.g. -s tests -- -k memory).
  bench [ARGS]  Run the benchmarks (nox -s bench); needs /dev/kvm.
  build-guest   Build the project's test guest (kernel + initramfs) from
                Debian packages into build/guest; cached, a rerun is instant.
  help          Show this help.

Environment:
  PYTHON        interpreter used to create .venv (default python3)
USAGE
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_debs PKG...: install the Debian packages that are not installed yet.
ensure_debs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "dev_cli: installing Debian packages: ${missing[*]}" >&2
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
}

# ensure_venv: .venv with nox, and the workspace installed editable for `boot`.
ensure_venv() {
	if [ ! -x "$VENV/bin/python" ]; then
		ensure_debs python3-venv
		"$PY" -m venv "$VENV"
	fi
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip nox uv
}

install_workspace() {
	local args=() name
	for name in $("$VENV/bin/python" -c 'import runpy; print(" ".join(runpy.run_path("'"$ROOT"'/noxfile.py")["PACKAGES"]))'); do
		args+=(-e "$ROOT/packages/$name")
	done
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
}

# guest_dir: prints a folder holding vmlinux and initramfs.cpio, building one if needed.
guest_dir() {
	local d
	for d in "${CH_GUEST_DIR:-}" "$ROOT/build/guest" "$ROOT/../shared/guest"; do
		if [ -n "$d" ] && [ -f "$d/vmlinux" ] && [ -f "$d/initramfs.cpio" ]; then
			(cd "$d" && pwd)
			return
		fi
	done
	cmd_build_guest >&2
	echo "$ROOT/build/guest"
}

# What tests/test_acpi_guest.py needs of vmlinux-acpi (tests/harness.py: ACPI_KERNEL_OPTIONS).
ACPI_OPTIONS=(CONFIG_ACPI_BUTTON=y CONFIG_X86_64_ACPI_NUMA=y CONFIG_DMI_SYSFS=y)

# Kernels built for the tests outside the checkout, so a fresh clone reuses them.
CACHE_DIR=${CH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cloud-hypervisor-py}

# acpi_guest_dir: prints a folder whose vmlinux-acpi has ACPI_OPTIONS, or where
# one is being built: when none has, a build (VARIANTS=acpi only, into
# $CACHE_DIR/guest-acpi) starts in the background, holding the guest-boot
# lock, so the tests that boot wait for it while the others run beside it.
# ACPI_BUILD_PID is then its process.
acpi_guest_dir() {
	local d o ok
	for d in "${CH_ACPI_GUEST_DIR:-}" "${CH_GUEST_DIR:-}" "$ROOT/build/guest" "$ROOT/../shared/guest" \
		"$CACHE_DIR/guest-acpi"; do
		[ -n "$d" ] && [ -f "$d/vmlinux-acpi" ] && [ -f "$d/vmlinux-acpi.config" ] || continue
		ok=1
		for o in "${ACPI_OPTIONS[@]}"; do grep -qx "$o" "$d/vmlinux-acpi.config" || ok=; done
		if [ -n "$ok" ]; then
			(cd "$d" && pwd)
			return
		fi
	done
	local out=$CACHE_DIR/guest-acpi lock=${CH_GUEST_BOOT_LOCK:-/tmp/guest-boot.lock}
	mkdir -p "$out"
	echo "dev_cli: building the ACPI test kernel in $out (log: $out.log)" >&2
	flock "$lock" env VARIANTS=acpi "$ROOT/scripts/guest/build.sh" "$out" >"$out.log" 2>&1 &
	ACPI_BUILD_PID=$!
	echo "$out"
}

cmd_tests() {
	ensure_debs gcc libc6-dev linux-libc-dev e2fsprogs iproute2 qemu-utils acpica-tools dmidecode
	ensure_venv
	guest_dir >/dev/null # the boot tests need a guest: build one when none is at hand
	# The ACPI tests need an ACPI kernel with their options (tests/harness.py).
	ACPI_BUILD_PID=
	mkdir -p "$ROOT/build"
	acpi_guest_dir >"$ROOT/build/.acpi-guest-dir" # not $(...): the build is this shell's child
	CH_ACPI_GUEST_DIR=$(cat "$ROOT/build/.acpi-guest-dir")
	export CH_ACPI_GUEST_DIR
	"$ROOT/scripts/fetch-debian-kernel.sh" "$ROOT/build/debian-kernel" ||
		echo "dev_cli: no Debian kernel; the loader tests that need it will be skipped" >&2
	cd "$ROOT"
	local status=0
	"$VENV/bin/nox" "$@" || status=$?
	if [ -n "$ACPI_BUILD_PID" ] && ! wait "$ACPI_BUILD_PID"; then
		echo "dev_cli: the ACPI test kernel did not build: $CH_ACPI_GUEST_DIR.log" >&2
		status=1
	fi
	return "$status"
}

cmd_bench() {
	ensure_debs gcc libc6-dev linux-libc-dev qemu-system-x86 e2fsprogs iproute2
	ensure_venv
	cd "$ROOT"
	"$VENV/bin/nox" -s bench "$@"
}

cmd_build_guest() {
	"$ROOT/scripts/guest/build.sh" "$ROOT/build/guest"
}

cmd_boot() {
	ensure_venv
	install_workspace
	if [ -x "$VENV/bin/cloud-hypervisor" ]; then
		local guest
		guest=$(guest_dir)
		# The host-wide guest-boot lock (README): boots never share the CPUs.
		local lock=${CH_GUEST_BOOT_LOCK:-/tmp/guest-boot.lock}
		if ! flock -n "$lock" true; then
			echo "dev_cli: waiting for another guest boot to end ($lock)" >&2
		fi
		exec flock "$lock" "$VENV/bin/cloud-hypervisor" --kernel "$guest/vmlinux" \
			--initramfs "$guest/initramfs.cpio" --cpus boot=1 --memory size=128M \
			--serial tty --console off \
			--cmdline "$(cat "$ROOT/scripts/guest/cmdline")" "$@"
	fi
	exec "$VENV/bin/python" "$ROOT/packages/kvm-ioctls/examples/hello_guest.py"
}

main() {
	local cmd=${1:-help}
	[ $# -gt 0 ] && shift
	case "$cmd" in
	boot) cmd_boot "$@" ;;
	tests) cmd_tests "$@" ;;
	bench) cmd_bench "$@" ;;
	build-guest) cmd_build_guest "$@" ;;
	help | -h | --help) usage ;;
	*)
		echo "dev_cli: unknown command '$cmd'" >&2
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
