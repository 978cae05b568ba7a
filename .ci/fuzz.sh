#!/bin/bash
# .ci/fuzz.sh - install clang and libFuzzer, run every fuzz target for
# FUZZ_S seconds (default 60) over its committed corpus; exit non-zero on
# any crash, regression-input failure or build failure.
set -eu
cd "$(dirname "$0")/.."
FUZZ_S=${FUZZ_S:-60}
if ! command -v clang >/dev/null 2>&1 ||
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# clang-14 pulls libclang-rt-14-dev (libFuzzer, ASan, UBSan) on
	# Debian 12; name it where the package exists on its own
	pkgs="clang"
	apt-cache show libclang-rt-14-dev >/dev/null 2>&1 && pkgs="$pkgs libclang-rt-14-dev"
	apt-get install -y --no-install-recommends $pkgs
fi
set +e
tests/fuzz/run "$FUZZ_S"
rc=$?
if [ "$rc" != 0 ]; then
	echo "fuzz: FAILED (crash inputs in tests/fuzz/crashes/)" >&2
	ls -l tests/fuzz/crashes/*/ 2>/dev/null >&2
fi
exit $rc
