#!/usr/bin/env bash
# Fetch Debian's own x86-64 kernel image (a real bzImage) into DEST_DIR/vmlinuz.
#
# linux-loader's tests parse and load it next to the project's test guest.
# Idempotent: an existing DEST_DIR/vmlinuz is kept. Needs no root when the apt
# package lists are present (`apt-get download` and `dpkg-deb` work as any
# user); as root it runs `apt-get update` once if the lists are missing.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DEST_DIR" >&2
	exit 2
fi
DEST=$1
if [ -s "$DEST/vmlinuz" ]; then
	exit 0
fi

# resolve: the versioned package that the meta-package linux-image-amd64 depends on.
resolve() {
	apt-cache depends --no-recommends --no-suggests linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}

package=$(resolve)
if [ -z "$package" ] && [ "$(id -u)" = 0 ]; then
	apt-get update -qq
	package=$(resolve)
fi
if [ -z "$package" ]; then
	echo "fetch-debian-kernel: cannot resolve linux-image-amd64's kernel package" \
		"(run 'apt-get update' as root first)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sandbox=()
if [ "$(id -u)" = 0 ]; then
	sandbox=(-o APT::Sandbox::User=root) # else apt warns that _apt cannot write here
fi
(cd "$work" && apt-get download -qq "${sandbox[@]}" "$package")
deb=$(ls "$work"/*.deb)
mkdir "$work/root"
# Only boot/ is needed: skip unpacking the ~400 MB of modules.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" --wildcards './boot/vmlinuz-*'
image=$(ls "$work"/root/boot/vmlinuz-* | head -n 1)

mkdir -p "$DEST"
cp "$image" "$DEST/vmlinuz.partial"
echo "$package $(basename "$image")" >"$DEST/vmlinuz.source"
mv "$DEST/vmlinuz.partial" "$DEST/vmlinuz"
echo "fetch-debian-kernel: $DEST/vmlinuz from $package" >&2
