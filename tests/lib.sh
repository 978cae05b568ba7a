# tests/lib.sh - sourced by every tests/t-*.sh.
#
# A test prints exactly one line: "ok - NAME", "FAIL - NAME (why)" or
# "skip - NAME (why)"; tests/run counts those lines. The usual shape:
#
#	begin "lo-send to lo-recv: round trip"
#	recv_start -o "$T/out" || { end; return; }	# sets PORT, RPID
#	lb lo-send -p "$PORT" -m hi 2>"$T/serr"; rc_is 0 $? lo-send
#	recv_wait; rc_is 0 "$RRC" lo-recv
#	same "$T/out" <(printf hi)
#	end
#
# Every process runs under `timeout` (lb, T), so nothing can hang the
# suite; every listener uses -p 0 -P FILE, so ports never clash.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOOPBOX=${LOOPBOX:-$TOP/loopbox}
BUILD=${BUILD:-obj}
APPLETS=${APPLETS:-$("$LOOPBOX" --list 2>/dev/null | tr '\n' ' ')}
TMO=${TMO:-20}		# seconds any one command may take
# A sanitizer report must never pass for an expected exit 1.
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=87:print_stacktrace=1:halt_on_error=1}

lib_cleanup()
{
	local p
	for p in $(jobs -p); do killtree "$p"; done
	wait 2>/dev/null
	rm -rf "$T"
}
T=$(mktemp -d "${TMPDIR:-/tmp}/loopbox-test.XXXXXX")
trap lib_cleanup EXIT

# ---- running things ----

# lb APPLET ARGS...: the loopbox under test, bounded.
lb() { timeout -k 3 "$TMO" "$LOOPBOX" "$@"; }
# T CMD...: anything else, bounded.
T() { timeout -k 3 "$TMO" "$@"; }
have() { case " $APPLETS " in *" $1 "*) return 0 ;; esac; return 1; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }

# kids PID: the children of PID.
kids() { cat /proc/"$1"/task/*/children 2>/dev/null; }
# kid PID: the process at the end of PID's chain of only children: for a
# background `lb ...` (a subshell, then timeout), the loopbox itself.
kid()
{
	local p=$1 c i
	for i in $(seq 100); do
		c=$(kids "$p")
		if [ -n "$c" ]; then
			p=${c%% *}
		elif [ "$p" != "$1" ] && [ "$(readlink /proc/"$p"/exe 2>/dev/null)" != "$(readlink -f "$(command -v timeout)")" ]; then
			echo "$p"
			return 0
		else
			sleep 0.02	# not forked yet
		fi
	done
	return 1
}
# killtree PID: PID and all its descendants, with SIGKILL.
killtree()
{
	local c
	kill -STOP "$1" 2>/dev/null
	for c in $(kids "$1"); do killtree "$c"; done
	kill -9 "$1" 2>/dev/null
}

# wait_file FILE [PID]: until FILE is non-empty (10 s at most), or PID died.
wait_file()
{
	local i
	for i in $(seq 500); do
		[ -s "$1" ] && return 0
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && { [ -s "$1" ]; return; }
		sleep 0.02
	done
	return 1
}

# wait_gone PID: until PID exited (10 s at most).
wait_gone()
{
	local i
	for i in $(seq 500); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.02
	done
	return 1
}

# wait_size FILE BYTES: until FILE holds at least BYTES (10 s at most).
wait_size()
{
	local i s
	for i in $(seq 500); do
		s=$(stat -c %s "$1" 2>/dev/null || echo 0)
		[ "$s" -ge "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

# free_port: a TCP port on 127.0.0.1 nothing listens on (the kernel's pick).
free_port()
{
	local f=$T/free.$RANDOM
	lb lo-recv -q -p 0 -P "$f" -t 0.001 2>/dev/null
	[ -s "$f" ] || return 1
	cat "$f"
	rm -f "$f"
}

# serve_start ARGS...: lo-serve -p 0 -P FILE ARGS in the background, stdout
# in $T/vout, stderr in $T/verr. Sets SPID (the timeout wrapper), LPID (the
# server itself) and PORT.
serve_start()
{
	rm -f "$T/vport" "$T/vout" "$T/verr"
	lb lo-serve -p 0 -P "$T/vport" "$@" >"$T/vout" 2>"$T/verr" &
	SPID=$!
	PORT=
	if ! wait_file "$T/vport" "$SPID"; then
		problem "lo-serve did not listen: $(oneline "$T/verr")"
		return 1
	fi
	PORT=$(cat "$T/vport")
	LPID=$(kid "$SPID")
}

# recv_start ARGS...: lo-recv -p 0 -P FILE ARGS in the background, its
# stdout in $T/rout (unless ARGS redirect with -o), stderr in $T/rerr.
# Sets RPID (the timeout wrapper; `kid $RPID` is lo-recv) and PORT.
recv_start()
{
	rm -f "$T/rport" "$T/rout" "$T/rerr"
	lb lo-recv -p 0 -P "$T/rport" "$@" >"$T/rout" 2>"$T/rerr" &
	RPID=$!
	PORT=
	if ! wait_file "$T/rport" "$RPID"; then
		problem "lo-recv did not listen: $(head -c 300 "$T/rerr")"
		return 1
	fi
	PORT=$(cat "$T/rport")
}
# recv_bg ARGS...: lo-recv ARGS in the background (no -p/-P added), as
# recv_start; the caller waits for readiness (e.g. lo-send -w).
recv_bg()
{
	rm -f "$T/rout" "$T/rerr"
	lb lo-recv "$@" >"$T/rout" 2>"$T/rerr" &
	RPID=$!
}
# recv_wait: wait for it; its exit code in RRC.
recv_wait() { wait "$RPID"; RRC=$?; }

# listening PORT: something listens there (a probe would be accepted, so
# this reads the kernel's table instead of connecting).
listening()
{
	local hex
	hex=$(printf ':%04X ' "$1")
	grep -q "$hex.* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# wait_unix PATH: until a UNIX socket listens at PATH (10 s at most); read
# from the kernel's table, since a probe connection would be accepted.
wait_unix()
{
	local i
	for i in $(seq 500); do
		grep -q " 00010000 .* $1\$" /proc/net/unix 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- judging ----

TNAME=
TERR=
begin() { TNAME=$1; TERR=; }
problem() { TERR="${TERR:+$TERR; }$*"; }
end()
{
	if [ -n "$TERR" ]; then
		echo "FAIL - $TNAME ($TERR)"
	else
		echo "ok - $TNAME"
	fi
	TNAME=
}
skip() { echo "skip - $1 ($2)"; }
# skip_test WHY: inside begin..., skip the current test instead.
skip_test() { echo "skip - $TNAME ($1)"; TNAME=; TERR=; }

# rc_is WANT GOT LABEL
rc_is() { [ "$2" = "$1" ] || problem "$3 exit $2, want $1${4:+: $(oneline "$4")}"; }
# same FILE1 FILE2: byte-exact.
same()
{
	cmp -s "$1" "$2" || problem "$(basename "$1") differs from $(basename "$2") ($(stat -c %s "$1" 2>/dev/null || echo -) vs $(stat -c %s "$2" 2>/dev/null || echo -) bytes)"
}
# has FILE ERE [LABEL]: FILE matches ERE, case-insensitively.
has() { grep -Eqi -- "$2" "$1" 2>/dev/null || problem "${3:-$(basename "$1")} lacks /$2/: $(oneline "$1")"; }
lacks() { ! grep -Eqi -- "$2" "$1" 2>/dev/null || problem "${3:-$(basename "$1")} has /$2/: $(oneline "$1")"; }
empty() { [ ! -s "$1" ] || problem "${2:-$(basename "$1")} not empty: $(oneline "$1")"; }
# lines FILE N: exactly N lines (an error message is one line).
lines()
{
	local n
	n=$(wc -l <"$1" 2>/dev/null || echo 0)
	[ "$n" -eq "$2" ] || problem "${3:-$(basename "$1")} has $n lines, want $2: $(oneline "$1")"
}
# content FILE TEXT: FILE holds exactly TEXT.
content()
{
	local got
	got=$(cat "$1" 2>/dev/null; echo .)
	got=${got%.}
	[ "$got" = "$2" ] || problem "${3:-$(basename "$1")} is '$(oneline "$1")', want '$(printf %s "$2" | tr '\n' '|')'"
}
# oneline FILE|TEXT: a short one-line rendering for FAIL details.
oneline()
{
	if [ -f "$1" ]; then head -c 200 "$1"; else printf '%s' "$1"; fi | tr '\n' '|' | tr -cd '[:print:]'
}

# ---- environment ----

# netns_ok: unshare -n works here (root, or user namespaces).
netns_ok() { unshare -n true 2>/dev/null; }
# ipv6_ok: ::1 can be bound in this network namespace.
# (the kernel's table, so it works whichever applets are built)
ipv6_ok() { grep -qi '^0\{31\}1 .* lo$' /proc/net/if_inet6 2>/dev/null; }
# netns SETUP CMD...: CMD in a new network namespace (lo down, no
# addresses: nothing there can reach beyond it), after the sh commands
# SETUP (e.g. "ip link set lo up"). Bounded like everything else.
netns() { local setup=$1; shift; T unshare -n sh -c "$setup"' && exec "$@"' sh "$@"; }
# netns_lo_ok: a namespace where lo can be brought up (needs iproute2).
netns_lo_ok() { netns_ok && have_cmd ip && unshare -n sh -c 'ip link set lo up' 2>/dev/null; }
