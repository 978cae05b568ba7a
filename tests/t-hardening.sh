# t-hardening.sh - faults, a short load soak and security, each checking
# both ends: SIGSTOP/SIGCONT mid-transfer, a reader taking a byte per
# millisecond, a peer resetting at random points, descriptor exhaustion in
# every applet, UNIX paths that cannot be used, 300 concurrent clients on
# lo-serve and lo-echo -l (replies, descriptors back to baseline), no
# wildcard listener in any mode, -e arguments passed untouched.
# needs: lo-send lo-recv lo-serve lo-echo
source "$(dirname "$0")/lib.sh"

have_cmd python3 || { skip "t-hardening" "no python3"; exit 0; }
SOAK=${SOAK:-10}	# seconds of each load soak
SOAK_N=${SOAK_N:-300}	# concurrent clients in it (CI: 1000 for 60 s, once)
[ "$TMO" -ge $((SOAK + 30)) ] || TMO=$((SOAK + 30))	# the servers outlive the soak

head -c 4M /dev/urandom >"$T/part1"
head -c 16M /dev/urandom >"$T/part2"
cat "$T/part1" "$T/part2" >"$T/all"

# py NAME ARGS...: $T/NAME.py, bounded
py() { local s=$1; shift; T python3 "$T/$s.py" "$@"; }

# ---- SIGSTOP / SIGCONT ----

# t_stop WHO: stop lo-recv or lo-send once 4 MiB arrived, for 2 s, then
# resume; the rest (16 MiB, more than the socket buffers) waits meanwhile.
t_stop()
{
	local who=$1 spid pid
	begin "SIGSTOP then SIGCONT of $who mid-transfer: both exit 0, byte-exact"
	recv_start -o "$T/out" || { end; return; }
	{ cat "$T/part1"; sleep 1; cat "$T/part2"; } | lb lo-send -p "$PORT" >/dev/null 2>"$T/serr" &
	spid=$!
	if ! wait_size "$T/out" 4194304; then
		problem "the first 4 MiB did not arrive"
	else
		if [ "$who" = lo-recv ]; then pid=$(kid "$RPID"); else pid=$(kid "$spid"); fi
		kill -STOP "$pid"
		sleep 2
		kill -CONT "$pid"
	fi
	wait "$spid"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	same "$T/out" "$T/all"
	end
}
t_stop lo-recv
t_stop lo-send

# ---- a reader that takes one byte per millisecond ----

cat >"$T/slow.py" <<'EOF'
# slow.py PORTFILE OUT: accept one connection, read it a byte at a time,
# one per millisecond, into OUT until EOF; then close cleanly
import os, socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % l.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
l.settimeout(15)
c, _ = l.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
with open(sys.argv[2], "wb") as f:
    while True:
        b = c.recv(1)
        if not b:
            break
        f.write(b)
        time.sleep(0.001)
c.close()
EOF
begin "a reader taking 1 byte/ms: lo-send exits 0 once all 1500 bytes arrived"
head -c 1500 /dev/urandom >"$T/small"
rm -f "$T/slowport"
py slow "$T/slowport" "$T/slowout" 2>"$T/perr" &
ppid=$!
if wait_file "$T/slowport" "$ppid"; then
	lb lo-send -p "$(cat "$T/slowport")" "$T/small" >/dev/null 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
else
	problem "slow.py did not listen: $(oneline "$T/perr")"
fi
wait "$ppid"; rc_is 0 $? slow.py "$T/perr"
same "$T/slowout" "$T/small"
end

# ---- a peer that resets at a random point ----

cat >"$T/reset.py" <<'EOF'
# reset.py PORTFILE N: accept one connection, read N bytes, then reset it
# (SO_LINGER 0); prints how many bytes it read
import os, socket, struct, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % l.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
l.settimeout(15)
c, _ = l.accept()
n, got = int(sys.argv[2]), 0
while got < n:
    b = c.recv(min(65536, n - got))
    if not b:
        break
    got += len(b)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
print(got)
EOF
for at in $((RANDOM % 4096)) $((65536 + RANDOM * 8)) $((2097152 + RANDOM * 32)); do
	begin "a peer resetting after $at of 20 MiB: lo-send exit 1 with the count, never 0"
	rm -f "$T/resport"
	py reset "$T/resport" "$at" >"$T/pout" 2>"$T/perr" &
	ppid=$!
	if wait_file "$T/resport" "$ppid"; then
		lb lo-send -p "$(cat "$T/resport")" "$T/all" >/dev/null 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
		has "$T/serr" "^lo-send: 127\.0\.0\.1:[0-9]+: .*reset.*[0-9]+ bytes sent"
		lines "$T/serr" 1
	else
		problem "reset.py did not listen: $(oneline "$T/perr")"
	fi
	wait "$ppid"; rc_is 0 $? reset.py "$T/perr"
	content "$T/pout" "$at
"
	end
done

# ---- out of descriptors ----

# t_nofile N APPLET ARGS...: under a descriptor limit of N (prlimit, so
# that timeout and the shell are not under it): exit 1, one line naming
# "too many open files", no crash, no hang. A dynamically linked loopbox
# (SAN=1) cannot be tested so: its loader needs the descriptors itself.
dynamic() { readelf -lW "$LOOPBOX" 2>/dev/null | grep -q INTERP; }	# static glibc holds the string ld-linux too
t_nofile()
{
	local n=$1
	shift
	begin "ulimit -n $n: $* exits 1, one clean line"
	if ! have_cmd prlimit; then skip_test "no prlimit"; return; fi
	if dynamic; then skip_test "dynamically linked: the loader needs descriptors too"; return; fi
	lb_nofile() { T prlimit --nofile="$n:$n" "$LOOPBOX" "$@"; }
	lb_nofile "$@" </dev/null >/dev/null 2>"$T/nferr"; rc_is 1 $? "$1" "$T/nferr"
	has "$T/nferr" "^$1: .*too many open files"
	lines "$T/nferr" 1
	end
}
t_nofile 3 lo-send -p 9 -m x
t_nofile 3 lo-recv -p 0
t_nofile 3 lo-serve -p 0 -m x
t_nofile 3 lo-echo -l -p 0
t_nofile 4 lo-echo -c 10
t_nofile 5 lo-echo -c 10
t_nofile 6 lo-echo -c 10
t_nofile 3 lo-echo -p 9 -c 1

begin "ulimit -n 12: lo-serve with 40 clients waits for descriptors, does not spin or crash"
cat >"$T/few.py" <<'EOF'
# few.py PORT N: N clients at once, each sends and reads to EOF (5 s);
# prints how many got "ok"
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"hi")
    socks.append(s)
ok = 0
for s in socks:
    b = b""
    try:
        while True:
            d = s.recv(100)
            if not d:
                break
            b += d
    except OSError:
        pass
    ok += b == b"ok"
    s.close()
print(ok)
EOF
rm -f "$T/vport"
(ulimit -n 12 && exec timeout -k 3 "$TMO" "$LOOPBOX" lo-serve -p 0 -P "$T/vport" -m ok) 2>"$T/verr" &
spid=$!
if wait_file "$T/vport" "$spid"; then
	py few "$(cat "$T/vport")" 40 >"$T/fout" 2>"$T/ferr"; rc_is 0 $? few.py "$T/ferr"
	content "$T/fout" "40
"
	lpid=$(kid "$spid")
	t0=$(awk '{ print $14 + $15 }' /proc/"$lpid"/stat 2>/dev/null || echo 0)
	sleep 1
	t1=$(awk '{ print $14 + $15 }' /proc/"$lpid"/stat 2>/dev/null || echo 0)
	[ $((t1 - t0)) -lt 30 ] || problem "lo-serve used $((t1 - t0)) ticks of CPU in an idle second"
	kill -TERM "$lpid" 2>/dev/null
else
	problem "lo-serve did not listen: $(oneline "$T/verr")"
fi
wait "$spid"; rc_is 0 $? lo-serve "$T/verr"
end

# ---- UNIX socket paths ----

long=$T/$(printf 'x%.0s' $(seq 120))
for a in lo-recv lo-serve lo-echo lo-send; do
	begin "$a -U: a path of $(( ${#long} )) bytes is exit 2"
	case $a in
	lo-recv) args=(-U "$long") ;;
	lo-serve) args=(-U "$long" -m x) ;;
	lo-echo) args=(-l -U "$long") ;;
	lo-send) args=(-U "$long" -m x) ;;
	esac
	lb "$a" "${args[@]}" >/dev/null 2>"$T/err"; rc_is 2 $? "$a" "$T/err"
	has "$T/err" "too long"
	lines "$T/err" 1
	[ ! -e "$long" ] || problem "$long was created"
	end
done

if setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null; then
	chmod 711 "$T"
	mkdir -m 755 "$T/locked"
	for a in lo-recv lo-serve lo-echo; do
		begin "$a -U in a directory without write permission (uid 65534): exit 1"
		case $a in
		lo-recv) args=(-U "$T/locked/s") ;;
		lo-serve) args=(-U "$T/locked/s" -m x) ;;
		lo-echo) args=(-l -U "$T/locked/s") ;;
		esac
		T setpriv --reuid 65534 --regid 65534 --clear-groups "$LOOPBOX" "$a" "${args[@]}" \
			>/dev/null 2>"$T/err"; rc_is 1 $? "$a" "$T/err"
		has "$T/err" "permission denied"
		lines "$T/err" 1
		[ ! -e "$T/locked/s" ] || problem "the socket was created"
		end
	done
	chmod 700 "$T"
else
	skip "-U in a directory without permission" "setpriv cannot switch to uid 65534 here"
fi

for a in lo-recv lo-serve lo-echo; do
	begin "$a -U on an existing regular file: exit 1, the file untouched"
	printf 'precious\n' >"$T/regular"
	touch -d @1000000000 "$T/regular"
	case $a in
	lo-recv) args=(-U "$T/regular") ;;
	lo-serve) args=(-U "$T/regular" -m x) ;;
	lo-echo) args=(-l -U "$T/regular") ;;
	esac
	lb "$a" "${args[@]}" >/dev/null 2>"$T/err"; rc_is 1 $? "$a" "$T/err"
	lines "$T/err" 1
	[ -f "$T/regular" ] || problem "it is no longer a regular file"
	content "$T/regular" "precious
"
	[ "$(stat -c %Y "$T/regular")" = 1000000000 ] || problem "its mtime changed"
	end
done

# ---- load soak: 300 concurrent clients ----

cat >"$T/soak.py" <<'EOF'
# soak.py MODE PORT N SECS: N concurrent clients for SECS seconds.
# serve: connect, send a request, read the reply to EOF, close, again;
# echo: one connection each, ping-pong messages of 1-3000 random bytes.
# Prints "ok BAD": round trips that were right, and those that were not.
import asyncio, os, random, sys, time
mode, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ok = bad = 0
errors = []
async def serve_client(end):
    global ok, bad
    while time.monotonic() < end:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"GET /\r\n\r\n")
            await w.drain()
            b = await asyncio.wait_for(r.read(), 10)
            w.close()
            if b == b"REPLY-0123456789":
                ok += 1
            else:
                bad += 1
                errors.append(repr(b[:40]))
        except Exception as e:
            bad += 1
            errors.append(repr(e))
async def echo_client(end):
    global ok, bad
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < end:
            m = os.urandom(random.randint(1, 3000))
            w.write(m)
            await w.drain()
            b = await asyncio.wait_for(r.readexactly(len(m)), 10)
            if b == m:
                ok += 1
            else:
                bad += 1
        w.write_eof()
        rest = await asyncio.wait_for(r.read(), 10)
        if rest:
            bad += 1
            errors.append("extra bytes at the end")
        w.close()
    except Exception as e:
        bad += 1
        errors.append(repr(e))
async def main():
    end = time.monotonic() + secs
    f = serve_client if mode == "serve" else echo_client
    await asyncio.gather(*(f(end) for i in range(n)))
asyncio.run(main())
print(ok, bad)
for e in errors[:5]:
    print(e, file=sys.stderr)
EOF
nfd() { ls /proc/"$1"/fd 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS/ { print $2 }' /proc/"$1"/status 2>/dev/null; }

# t_soak MODE NAME ARGS...: the server ARGS, $SOAK_N clients for $SOAK s
t_soak()
{
	local mode=$1 name=$2 spid lpid base after ok bad i
	shift 2
	begin "$name under $SOAK_N concurrent clients for ${SOAK}s: every reply right, RSS flat, descriptors back to baseline"
	rm -f "$T/sport"
	lb "$@" -p 0 -P "$T/sport" >/dev/null 2>"$T/soakerr" &
	spid=$!
	if ! wait_file "$T/sport" "$spid"; then
		problem "$name did not listen: $(oneline "$T/soakerr")"; end; return
	fi
	lpid=$(kid "$spid")
	base=$(nfd "$lpid")
	timeout -k 3 $((SOAK + 40)) python3 "$T/soak.py" "$mode" "$(cat "$T/sport")" "$SOAK_N" "$SOAK" \
		>"$T/soakout" 2>"$T/soakperr" &
	local ppid=$! r1 r2
	# RSS flat: sampled once the clients are all in, and again near the end
	sleep $((SOAK / 3 + 1))
	r1=$(rss "$lpid")
	sleep $((SOAK - SOAK / 3 - 2))
	r2=$(rss "$lpid")
	wait "$ppid"; rc_is 0 $? soak.py "$T/soakperr"
	[ -n "$r1" ] && [ -n "$r2" ] && [ $((r2 - r1)) -le 512 ] ||
		problem "RSS grew during the soak: ${r1:-?} kB, then ${r2:-?} kB"
	echo "# $name: RSS ${r1:-?} kB after $((SOAK / 3 + 1)) s, ${r2:-?} kB after $((SOAK - 1)) s"
	read -r ok bad <"$T/soakout"
	[ "${bad:-x}" = 0 ] || problem "$bad wrong or failed round trips ($ok right): $(oneline "$T/soakperr")"
	[ "${ok:-0}" -ge "$SOAK_N" ] || problem "only ${ok:-0} round trips"
	for i in $(seq 100); do
		after=$(nfd "$lpid")
		[ "$after" = "$base" ] && break
		sleep 0.05
	done
	[ "$after" = "$base" ] || problem "$after descriptors after the soak, $base before"
	kill -TERM "$lpid" 2>/dev/null
	wait "$spid"; rc_is 0 $? "$name" "$T/soakerr"
	end
}
t_soak serve "lo-serve -m" lo-serve -m REPLY-0123456789
t_soak echo "lo-echo -l" lo-echo -l

# ---- no wildcard listener, in any mode ----

# t_nowild PROTO NAME ARGS...: the listener ARGS -p 0 -P FILE; ss shows
# its port bound to 127.0.0.1 or ::1 only
t_nowild()
{
	local proto=$1 name=$2 spid port want
	shift 2
	begin "ss: $name listens on loopback only, never a wildcard"
	if ! have_cmd ss; then skip_test "no ss"; return; fi
	rm -f "$T/wport"
	lb "$@" -p 0 -P "$T/wport" >/dev/null 2>"$T/werr" &
	spid=$!
	if ! wait_file "$T/wport" "$spid"; then
		problem "it did not listen: $(oneline "$T/werr")"; kill "$spid"; wait "$spid"; end; return
	fi
	port=$(cat "$T/wport")
	case " $* " in *" -6 "*) want="\[::1\]:$port" ;; *) want="127\.0\.0\.1:$port" ;; esac
	ss -Hln"$proto" >"$T/ss"
	grep -E "[]:*]$port[[:space:]]" "$T/ss" | awk '{ print $4 }' >"$T/sslocal"
	[ -s "$T/sslocal" ] || problem "ss does not show port $port: $(oneline "$T/ss")"
	if grep -Evq "^$want\$" "$T/sslocal"; then
		problem "bound as: $(oneline "$T/sslocal")"
	fi
	killtree "$spid"
	wait "$spid" 2>/dev/null
	end
}
t_nowild t "lo-recv (TCP)" lo-recv
t_nowild t "lo-serve (TCP)" lo-serve -m x
t_nowild u "lo-serve -u" lo-serve -u -m x
t_nowild t "lo-echo -l (TCP)" lo-echo -l
t_nowild u "lo-echo -l -u" lo-echo -l -u
if ipv6_ok; then
	t_nowild t "lo-recv -6" lo-recv -6
	t_nowild t "lo-serve -6" lo-serve -6 -m x
	t_nowild u "lo-serve -6 -u" lo-serve -6 -u -m x
	t_nowild t "lo-echo -l -6" lo-echo -l -6
	t_nowild u "lo-echo -l -6 -u" lo-echo -l -6 -u
else
	skip "ss: -6 listeners" "no ::1 here"
fi

# ---- -e: arguments untouched, no shell ----

begin "lo-serve -e: ';', \$(id), spaces and a newline arrive byte-exact"
nl=$'line1\nline2'
rm -f "$T/eport"
lb lo-serve -p 0 -P "$T/eport" -c 1 -e printf '%s\0' 'a;b' '$(id)' 'x  y ' "$nl" '`id`' '*' >/dev/null 2>"$T/eerr" &
spid=$!
if wait_file "$T/eport" "$spid"; then
	lb lo-send -p "$(cat "$T/eport")" -m x >"$T/eout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	printf '%s\0' 'a;b' '$(id)' 'x  y ' "$nl" '`id`' '*' >"$T/ewant"
	same "$T/eout" "$T/ewant"
else
	problem "lo-serve did not listen: $(oneline "$T/eerr")"
fi
wait "$spid"; rc_is 0 $? lo-serve "$T/eerr"
end

# ---- what the fuzzers found, through the binary ----

# tests/fuzz/corpus/num/regress-secs-86400.5: lb_secs took 86400.5 s
for a in "lo-recv -p 0 -t 86400.5" "lo-send -p 9 -w 86400.001 -m x"; do
	begin "$a: over 86400 s is a usage error (exit 2)"
	# (taken, it would listen or retry: 2 s is plenty for a usage error)
	timeout -k 1 2 "$LOOPBOX" $a >/dev/null 2>"$T/err" </dev/null; rc_is 2 $? "${a%% *}" "$T/err"
	has "$T/err" "not a time in seconds"
	end
done
