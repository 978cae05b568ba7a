#!/bin/bash
# .ci/tiny.sh - the tiny-image checks: the static musl build for every
# architecture tested under qemu-user (aarch64, armhf, riscv64, i386 and
# s390x, big-endian), initramfs images booted under qemu-system-x86_64 and
# qemu-system-aarch64, `make release`, the man page lint. Installs what it
# needs (.ci/cross-deps.sh; skip with TINY_NO_APT=1), runs each suite with a
# time bound, prints each suite's tally and ends with the total,
# "N passed, N failed[, N skipped]". Exit non-zero if any suite failed.
#
#	bash .ci/tiny.sh              (about 10 minutes after the install)
#
# TINY_ARCHES="aarch64 armhf" picks the cross architectures; each runs the
# whole suite (about 1.5-3 minutes an architecture under qemu-user).

set -u
cd "$(dirname "$0")/.." || exit 2
t0=$SECONDS

if [ "${TINY_NO_APT:-0}" != 1 ]; then
	bash .ci/cross-deps.sh || echo "# tiny: .ci/cross-deps.sh could not install everything: the suites that need it will fail"
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

for a in ${TINY_ARCHES:-aarch64 armhf riscv64 i386 s390x}; do
	suite "cross $a" 600 bash tests/cross/run "$a"
done
suite "initramfs x86_64" 180 bash tests/initramfs/run x86_64
suite "initramfs aarch64" 420 bash tests/initramfs/run aarch64
# make release: a static binary per architecture, SHA256SUMS that checks
release_check()
{
	local p=0 f=0 a out
	if out=$(make -s release RELEASE=obj-release 2>&1); then
		echo "$out"
		echo "ok - make release"; p=$((p + 1))
		for a in x86_64 aarch64 armhf riscv64 i386 s390x; do
			if [ -f obj-release/loopbox-$a ] && ! readelf -lW obj-release/loopbox-$a | grep -q INTERP &&
				grep -q " loopbox-$a\$" obj-release/SHA256SUMS; then
				echo "ok - release: loopbox-$a static, in SHA256SUMS"; p=$((p + 1))
			else
				echo "FAIL - release: loopbox-$a (missing, dynamic or not in SHA256SUMS)"; f=$((f + 1))
			fi
		done
		if (cd obj-release && sha256sum -c --quiet SHA256SUMS); then
			echo "ok - release: sha256sum -c SHA256SUMS"; p=$((p + 1))
		else
			echo "FAIL - release: sha256sum -c SHA256SUMS"; f=$((f + 1))
		fi
	else
		echo "$out" | tail -20
		echo "FAIL - make release"; f=$((f + 1))
	fi
	echo "$p passed, $f failed"
	[ "$f" = 0 ]
}
export -f release_check
suite "make release" 300 bash -c release_check
man_lint()
{
	local p=0 f=0 s=0 out d
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
	d=$(mktemp -d)
	if make -s install DESTDIR="$d" PREFIX=/usr >/dev/null && cmp -s docs/loopbox.1 "$d/usr/share/man/man1/loopbox.1"; then
		echo "ok - make install puts the man page in \$(MANDIR)/man1/loopbox.1"; p=$((p + 1))
	else
		echo "FAIL - make install puts the man page in \$(MANDIR)/man1/loopbox.1 ($(cd "$d" && find . -type f | tr '\n' ' '))"; f=$((f + 1))
	fi
	rm -rf "$d"
	echo "$p passed, $f failed, $s skipped"
	[ "$f" = 0 ]
}
export -f man_lint
suite "man page" 60 bash -c man_lint

echo "# tiny: $((SECONDS - t0))s${bad:+; failed:$bad}"
if [ "$S" -gt 0 ]; then echo "tiny: $P passed, $F failed, $S skipped"; else echo "tiny: $P passed, $F failed"; fi
[ "$F" = 0 ]
