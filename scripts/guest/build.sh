#!/usr/bin/env bash
# build.sh OUT_DIR: build the project's test guest from Debian packages.
#
# Kernel: Debian's linux-source-6.1 + patches/*.patch, configured from
# `make tinyconfig` + config.fragment, built as a stripped ELF `vmlinux`
# (PVH entry) and an LZ4 `bzImage`.  Initramfs: uncompressed newc cpio with
# busybox-static and ./init.  See README.md next to this script.
#
# Writes OUT_DIR/{vmlinux,bzImage,initramfs.cpio,SHA256SUMS,vmlinux.config,
# vmlinux.map}, plus vmlinux-acpi{,.config,.map} when VARIANTS has "acpi".
# Cached: when nothing it depends on changed, it exits at once.
#
# Environment:
#   VARIANTS    space-separated, from: default acpi   (default: "default")
#   BUILD_DIR   source and object trees (default: OUT_DIR/build, ~1.5 GB)
#   JOBS        make -j (default: nproc)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
BUILD_DIR=${BUILD_DIR:-$OUT/build}
VARIANTS=${VARIANTS:-default}
JOBS=${JOBS:-$(nproc)}

SRC_PKG=linux-source-6.1
SRC_TARBALL=/usr/src/linux-source-6.1.tar.xz
DEBS=(
	"$SRC_PKG" busybox-static gcc make libc6-dev flex bison bc libelf-dev
	lz4 xz-utils binutils patch
)
# Fixed build identity and cpio mtime: same inputs give the same bytes.
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 1970'
export KBUILD_BUILD_USER=guest KBUILD_BUILD_HOST=cloud-hypervisor-py
export KBUILD_BUILD_VERSION=1
export LC_ALL=C

log() { echo "build-guest: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

for v in $VARIANTS; do
	case $v in default | acpi) ;; *) die "unknown variant '$v' (VARIANTS: default acpi)" ;; esac
done

# One build at a time per OUT_DIR (tests may ask for the guest in parallel).
exec 9>"$OUT/.build.lock"
flock 9

# ---------------------------------------------------------------- packages
# deb_versions: "name version" for each of DEBS ("name -" if not installed).
deb_versions() {
	{ dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\n' "${DEBS[@]}" 2>/dev/null || true; } |
		awk -v want="${DEBS[*]}" '
			$2 == "ii" { v[$1] = $3 }
			END { n = split(want, w, " "); for (i = 1; i <= n; i++) print w[i], (w[i] in v ? v[w[i]] : "-") }'
}

ensure_debs() {
	local missing
	missing=$(deb_versions | awk '$2 == "-" { print $1 }')
	[ -z "$missing" ] && return
	log "installing Debian packages: ${missing//$'\n'/ }"
	as_root apt-get update -qq
	# shellcheck disable=SC2086
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing >&2
}

# ------------------------------------------------------------------- stamp
# Everything the outputs depend on: package versions, our inputs, variants.
inputs_stamp() {
	{
		echo "variants: $VARIANTS"
		deb_versions
		cd "$HERE"
		sha256sum build.sh init config.fragment config-acpi.fragment patches/*.patch
	} | sha256sum | cut -d' ' -f1
}

has_variant() { [[ " $VARIANTS " == *" $1 "* ]]; }

outputs() {
	echo initramfs.cpio SHA256SUMS
	if has_variant default; then echo vmlinux bzImage vmlinux.config vmlinux.map; fi
	if has_variant acpi; then echo vmlinux-acpi vmlinux-acpi.config vmlinux-acpi.map; fi
	return 0
}

outputs_present() {
	local f
	for f in $(outputs); do [ -s "$OUT/$f" ] || return 1; done
}

STAMP_FILE=$OUT/.stamp
if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$(inputs_stamp)" ] && outputs_present; then
	log "up to date: $OUT"
	exit 0
fi

rm -f "$STAMP_FILE" # a build that fails half-way must not look complete later
ensure_debs
STAMP=$(inputs_stamp)
SRC_VERSION=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
[ -f "$SRC_TARBALL" ] || die "$SRC_TARBALL missing (package $SRC_PKG $SRC_VERSION)"
mkdir -p "$BUILD_DIR"
START=$SECONDS

# ------------------------------------------------------------------ source
# The unpacked, patched tree is reused while the tarball and the patches are
# the same; otherwise it is unpacked again and the object trees are dropped
# (tar keeps the tarball's old mtimes, so make could not see a reverted
# patch).
SRC=$BUILD_DIR/linux-src
src_stamp=$(
	echo "$SRC_VERSION"
	cd "$HERE" && cat patches/*.patch
)
src_stamp=$(echo "$src_stamp" | sha256sum | cut -d' ' -f1)

unpack_source() {
	local tmp=$SRC.new p
	# Parts an x86 build never reads: 370 MB of AMD GPU register headers,
	# perf and the selftests (a third less to write to disk).
	local excludes=(
		--exclude=linux-source-6.1/drivers/gpu/drm/amd/include/asic_reg
		--exclude=linux-source-6.1/tools/perf
		--exclude=linux-source-6.1/tools/testing
	)
	rm -rf "$tmp" "$SRC" "$BUILD_DIR"/obj-*
	mkdir -p "$tmp"
	log "unpacking $SRC_PKG $SRC_VERSION"
	xz -T0 -dc "$SRC_TARBALL" | tar -x -C "$tmp" --strip-components=1 "${excludes[@]}"
	[ -f "$tmp/Makefile" ] || die "unexpected layout of $SRC_TARBALL"
	for p in "$HERE"/patches/*.patch; do
		log "applying $(basename "$p")"
		patch -d "$tmp" -p1 --batch --forward --no-backup-if-mismatch -s <"$p" ||
			die "$(basename "$p") does not apply to $SRC_PKG $SRC_VERSION; refresh it"
	done
	echo "$src_stamp" >"$tmp/.guest-src-stamp"
	mv "$tmp" "$SRC"
}

if [ "$(cat "$SRC/.guest-src-stamp" 2>/dev/null)" != "$src_stamp" ]; then
	unpack_source
fi
KVER=$(make -s -C "$SRC" kernelversion)

# ------------------------------------------------------------------ config
# fragment_settings FRAGMENT...: "SYMBOL VALUE" per option, later ones win
# ("n" for "# CONFIG_X is not set").
fragment_settings() {
	sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1 \2/p' \
		-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1 n/p' "$@" |
		awk '{ v[$1] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		     END { for (i = 1; i <= n; i++) print order[i], v[order[i]] }'
}

# check_config CONFIG FRAGMENT...: every option of the fragments must have
# its value in the resolved CONFIG (a missing dependency drops options
# silently otherwise).
check_config() {
	local config=$1 bad
	shift
	bad=$(fragment_settings "$@" | while read -r sym want; do
		got=$(sed -n -e "s/^$sym=\(.*\)$/\1/p" -e "s/^# $sym is not set$/n/p" "$config")
		[ -z "$got" ] && got=n
		[ "$got" = "$want" ] || echo "  $sym: wanted $want, got $got"
	done)
	[ -z "$bad" ] || die "kernel config does not match the fragments:"$'\n'"$bad"
}

configure() {
	local obj=$1
	shift
	local frags=("$@") stamp
	stamp=$(cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
	if [ -f "$obj/.config" ] && [ "$(cat "$obj/.guest-config-stamp" 2>/dev/null)" = "$stamp" ]; then
		return
	fi
	log "configuring $(basename "$obj"): tinyconfig + $(cd "$HERE" && basename -a "${frags[@]}" | tr '\n' ' ')"
	mkdir -p "$obj"
	make -s -C "$SRC" O="$obj" ARCH=x86_64 tinyconfig >"$obj/config.log" 2>&1 ||
		die "make tinyconfig failed, see $obj/config.log"
	# Drop what the fragments set, append the fragments, resolve the rest.
	local syms
	syms=$(fragment_settings "${frags[@]}" | cut -d' ' -f1 | paste -sd'|')
	grep -Ev "^(# )?($syms)[= ]" "$obj/.config" >"$obj/.config.merged" || true
	cat "${frags[@]}" >>"$obj/.config.merged"
	mv "$obj/.config.merged" "$obj/.config"
	make -s -C "$SRC" O="$obj" ARCH=x86_64 olddefconfig >>"$obj/config.log" 2>&1 ||
		die "make olddefconfig failed, see $obj/config.log"
	check_config "$obj/.config" "${frags[@]}"
	echo "$stamp" >"$obj/.guest-config-stamp"
}

# --------------------------------------------------------------- kernel(s)
build_kernel() {
	local obj=$1
	shift
	log "building $* of $(basename "$obj") (Linux $KVER, make -j$JOBS)"
	make -C "$SRC" O="$obj" ARCH=x86_64 -j"$JOBS" "$@" >"$obj/make.log" 2>&1 || {
		tail -n 40 "$obj/make.log" >&2
		die "kernel build failed, see $obj/make.log"
	}
}

# install_vmlinux OBJ NAME: stripped copy, checked for the PVH entry note.
install_vmlinux() {
	local obj=$1 name=$2
	strip -o "$OUT/$name.tmp" "$obj/vmlinux"
	# XEN_ELFNOTE_PHYS32_ENTRY (type 0x12, owner "Xen") is how a VMM finds
	# the 32-bit PVH entry point; losing it makes the kernel unbootable.
	local entry
	entry=$(readelf -n "$OUT/$name.tmp" | awk '
		$1 == "Xen" && /\(0x00000012\)|PHYS32_ENTRY/ { note = 1; next }
		note && /description data:/ { print "0x" $6 $5 $4 $3; exit }
		{ note = 0 }')
	[ -n "$entry" ] || die "$name has no PVH entry note (Xen, type 0x12)"
	log "$name: PVH entry $entry"
	mv "$OUT/$name.tmp" "$OUT/$name"
	cp "$obj/.config" "$OUT/$name.config"
	cp "$obj/System.map" "$OUT/$name.map"
}

# The default variant is vmlinux and the bzImage (the same tree); VARIANTS=acpi
# alone builds only vmlinux-acpi (and the initramfs), for a folder of its own.
if has_variant default; then
	configure "$BUILD_DIR/obj-default" "$HERE/config.fragment"
	build_kernel "$BUILD_DIR/obj-default" vmlinux bzImage
	install_vmlinux "$BUILD_DIR/obj-default" vmlinux
	cp "$BUILD_DIR/obj-default/arch/x86/boot/bzImage" "$OUT/bzImage.tmp"
	mv "$OUT/bzImage.tmp" "$OUT/bzImage"
fi
if has_variant acpi; then
	configure "$BUILD_DIR/obj-acpi" "$HERE/config.fragment" "$HERE/config-acpi.fragment"
	build_kernel "$BUILD_DIR/obj-acpi" vmlinux
	install_vmlinux "$BUILD_DIR/obj-acpi" vmlinux-acpi
fi

# --------------------------------------------------------------- initramfs
# Every inode costs ~35 ms to unpack at emulated CPL0, so: busybox, the sh
# link, /init, /dev/console (the kernel opens it before /init runs) and the
# mount points /init uses.  Built with the kernel's own gen_init_cpio (no
# root needed for the device node; mtimes fixed).
GEN_CPIO=$BUILD_DIR/gen_init_cpio
if [ ! -x "$GEN_CPIO" ] || [ "$SRC/usr/gen_init_cpio.c" -nt "$GEN_CPIO" ]; then
	cc -O2 -o "$GEN_CPIO" "$SRC/usr/gen_init_cpio.c"
fi
STAGE=$BUILD_DIR/initramfs
rm -rf "$STAGE"
mkdir -p "$STAGE"
BUSYBOX=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
[ -x "$BUSYBOX" ] || die "busybox-static installed no /bin/busybox"
cp "$BUSYBOX" "$STAGE/busybox"
cp "$HERE/init" "$STAGE/init"
touch -d @0 "$STAGE/busybox" "$STAGE/init"
cat >"$STAGE/list" <<EOF
dir /bin 0755 0 0
file /bin/busybox $STAGE/busybox 0755 0 0
slink /bin/sh busybox 0777 0 0
file /init $STAGE/init 0755 0 0
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0555 0 0
dir /sys 0555 0 0
dir /mnt 0755 0 0
EOF
"$GEN_CPIO" -t 0 "$STAGE/list" >"$OUT/initramfs.cpio.tmp"
mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"

# ------------------------------------------------------------------ finish
(
	cd "$OUT"
	sums=(initramfs.cpio)
	if has_variant default; then sums+=(vmlinux bzImage); fi
	if has_variant acpi; then sums+=(vmlinux-acpi); fi
	sha256sum "${sums[@]}" >SHA256SUMS
)
echo "$STAMP" >"$STAMP_FILE"
log "done in $((SECONDS - START)) s: Linux $KVER ($SRC_PKG $SRC_VERSION) in $OUT"
