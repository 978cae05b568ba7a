#!/bin/bash
# .ci/tiny.sh - issue 7's checks: cross builds tested under qemu-user
# (aarch64, armhf), the initramfs boot test, the man page lint. Installs
# the Debian packages they need (skip with TINY_NO_APT=1), runs each suite
# with a time bound, prints each suite's tally and ends with the total,
# "N passed, N failed[, N skipped]". Exit non-zero if any suite failed.
#
#	bash .ci/tiny.sh              (about 2-3 minutes after the install)
#
# TINY_ARCHES="aarch64 armhf" picks the cross architectures (riscv64 works too).

set -u
cd "$(dirname "$0")/.." || exit 2
t0=$SECONDS

if [ "${TINY_NO_APT:-0}" != 1 ]; then
	pkgs=(qemu-user-static qemu-system-x86 linux-image-amd64 busybox-static cpio mandoc file
		gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
		gcc-riscv64-linux-gnu libc6-dev-riscv64-cross musl-tools make)
	missing=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "# tiny: apt-get install ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		{ timeout 300 apt-get update -q && timeout 600 apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
			>/tmp/tiny-apt.log 2>&1 || { tail -20 /tmp/tiny-apt.log; echo "FAIL - tiny: apt-get install failed"; echo "0 passed, 1 failed"; exit 1; }
	fi
	echo "# tiny: packages ready after $((SECONDS - t0))s"
fi

P=0 F=0 S=0
bad=
# suite NAME SECS CMD...: run it bounded, show it, add its tally.
suite()
{
	local name=$1 tmo=$2 log rc line p f s t1=$SECONDS
	shift 2
	log=$(mktemp)
	echo "## $name"
	timeout -k 10 "$tmo" "$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	p=0 f=0 s=0
	if [ -n "$line" ]; then
		p=$(echo "$line" | awk '{print $1}')
		f=$(echo "$line" | awk '{print $3}')
		s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	fi
	s=${s:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "FAIL - $name (exited $rc$([ "$rc" = 124 ] && echo ": timed out after ${tmo}s"))"
	fi
	[ "$f" != 0 ] && bad="$bad $name"
	P=$((P + p)) F=$((F + f)) S=$((S + s))
	echo "## $name: $p passed, $f failed, $s skipped, $((SECONDS - t1))s"
	rm -f "$log"
}

for a in ${TINY_ARCHES:-aarch64 armhf}; do
	suite "cross $a" 420 bash tests/cross/run "$a"
done
suite initramfs 180 bash tests/initramfs/run
man_lint()
{
	local p=0 f=0 s=0 out
	if mandoc -T lint -W warning docs/loopbox.1; then
		echo "ok - mandoc -T lint docs/loopbox.1"; p=$((p + 1))
	else
		echo "FAIL - mandoc -T lint docs/loopbox.1"; f=$((f + 1))
	fi
	if ! command -v groff >/dev/null; then
		echo "skip - groff -ww -z docs/loopbox.1 (groff not installed)"; s=1
	elif out=$(groff -ww -z -mdoc docs/loopbox.1 2>&1) && [ -z "$out" ]; then
		echo "ok - groff -ww -z docs/loopbox.1"; p=$((p + 1))
	else
		echo "FAIL - groff -ww -z docs/loopbox.1 ($out)"; f=$((f + 1))
	fi
	echo "$p passed, $f failed, $s skipped"
	[ "$f" = 0 ]
}
export -f man_lint
suite "man page" 60 bash -c man_lint

echo "# tiny: $((SECONDS - t0))s${bad:+; failed:$bad}"
if [ "$S" -gt 0 ]; then echo "tiny: $P passed, $F failed, $S skipped"; else echo "tiny: $P passed, $F failed"; fi
[ "$F" = 0 ]
