#!/bin/bash
# .ci/cross-deps.sh - install what the tiny-image checks need (.ci/tiny.sh):
# qemu-user and qemu-system, the musl cross compilers, the kernels and
# busybox. Idempotent: it adds only the foreign architectures and installs
# only the packages that are missing; run as root.
#
#	bash .ci/cross-deps.sh
#
# The musl cross compilers are Debian's: with `dpkg --add-architecture
# ARCH`, musl-dev:ARCH brings /usr/bin/TRIPLET-gcc (a wrapper around
# gcc-TRIPLET-GNU with musl's specs). riscv64 is no Debian 12 architecture:
# gcc-riscv64-linux-gnu here, musl from Debian's source (dpkg-dev for
# dpkg-source) by tests/cross/musl-build, which the cross run calls.
#
# `apt-get update` exits non-zero when one index fails to download (a
# foreign architecture's security index, say); that does not stop the
# install: each architecture's packages are then installed as a group of
# their own, so one that cannot be had costs only its own architecture.
# Exit non-zero if anything is still missing at the end.

set -u
export DEBIAN_FRONTEND=noninteractive
FOREIGN=${FOREIGN:-"arm64 armhf i386 s390x"}
common=(qemu-user-static qemu-system-x86 qemu-system-arm linux-image-amd64 busybox-static cpio
	mandoc file make binutils musl-tools dpkg-dev gcc-riscv64-linux-gnu)
groups=("${common[*]}")
for a in $FOREIGN; do groups+=("musl-dev:$a"); done

missing()
{
	local p
	for p in "$@"; do
		dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
	done
}

added=
for a in $FOREIGN; do
	dpkg --print-foreign-architectures | grep -qx "$a" && continue
	dpkg --add-architecture "$a" && added=1
done

want=$(for g in "${groups[@]}"; do missing $g; done)
if [ -z "$want" ] && [ -z "$added" ]; then
	echo "# cross-deps: everything installed"
	exit 0
fi
log=/tmp/cross-deps-apt.log
: >"$log"
if ! timeout 300 apt-get update -q >>"$log" 2>&1; then
	echo "# cross-deps: apt-get update reported errors (going on with what it fetched):"
	grep -E '^(E|W): ' "$log" | sort -u | head -5 | sed 's/^/#   /'
fi
rc=0
if [ -n "$want" ] && ! timeout 900 apt-get install -y -q --no-install-recommends $want >>"$log" 2>&1; then
	echo "# cross-deps: one install of everything failed; by group:"
	for g in "${groups[@]}"; do
		w=$(missing $g)
		[ -n "$w" ] || continue
		if timeout 900 apt-get install -y -q --no-install-recommends $w >>"$log" 2>&1; then
			echo "#   installed: $(echo $w)"
		else
			echo "#   FAILED: $(echo $w): $(grep '^E: ' "$log" | tail -1)"
			rc=1
		fi
	done
fi
left=$(for g in "${groups[@]}"; do missing $g; done)
if [ -n "$left" ]; then
	echo "# cross-deps: still missing: $(echo $left)"
	exit 1
fi
echo "# cross-deps: installed: $(echo ${want:-none})"
exit $rc
