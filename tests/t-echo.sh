#!/bin/bash
# t-echo.sh - lo-echo: the self-test, the client against other echo servers
# (socat, python3), the server against python3 clients, --up and the
# diagnosis inside fresh network namespaces (unshare -n: lo is down there).
#
# One line per test: "ok - name", "FAIL - name (why)", "skip - name (why)".
# Real peers on loopback only; every command runs under timeout.

cd "$(dirname "$0")/.." || exit 1
[ -f tests/lib.sh ] && . tests/lib.sh
LB=${LOOPBOX:-$PWD/loopbox}
T=$(mktemp -d /tmp/t-echo.XXXXXX)
chmod 755 "$T"
npass=0 nfail=0 nskip=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

e_ok() { echo "ok - $1"; npass=$((npass + 1)); }
e_fail() { echo "FAIL - $1 ($2)"; nfail=$((nfail + 1)); }
e_skip() { echo "skip - $1 ($2)"; nskip=$((nskip + 1)); }

# run SECS CMD...: stdout in $T/out, stderr in $T/err, status in $rc
run() {
	local secs=$1
	shift
	timeout -k 2 "$secs" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect NAME RC [GREP-PATTERN-IN-STDOUT+STDERR]
expect() {
	if [ "$rc" != "$2" ]; then
		e_fail "$1" "exit $rc, want $2: $(head -c 300 "$T/err" | tr '\n' ' ')"
	elif [ -n "$3" ] && ! cat "$T/out" "$T/err" | grep -qE -- "$3"; then
		e_fail "$1" "no /$3/ in: $(cat "$T/out" "$T/err" | head -c 300 | tr '\n' ' ')"
	else
		e_ok "$1"
	fi
}

# wait_port FILE: until a server wrote its port there; prints it
wait_port() {
	for _ in $(seq 100); do
		[ -s "$1" ] && { head -n1 "$1"; return 0; }
		sleep 0.05
	done
	return 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The python3 peers.
cat >"$T/peer.py" <<'EOF'
import os, socket, sys, threading

mode, arg = sys.argv[1], sys.argv[2]

def portfile(s):
    tmp = arg + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(tmp, arg)

def tcp_server(handle):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    portfile(s)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

def echo(c, flip=None):
    off = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        if flip is not None and off <= flip < off + len(d):
            b = bytearray(d)
            b[flip - off] ^= 0x10
            d = bytes(b)
        off += len(d)
        c.sendall(d)
    c.close()

if mode == "tcp-echo":
    tcp_server(echo)
elif mode == "tcp-flip":
    tcp_server(lambda c: echo(c, int(sys.argv[3])))
elif mode == "tcp-hold":            # accepts, reads, never answers
    tcp_server(lambda c: [c.recv(65536) for _ in iter(int, 1)])
elif mode in ("udp-echo", "udp-dup"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    portfile(s)
    while True:
        d, a = s.recvfrom(65536)
        for _ in range(2 if mode == "udp-dup" else 1):
            s.sendto(d, a)
elif mode == "tcp-client":          # send N random bytes, half-close, read all back
    n = int(sys.argv[3])
    data = os.urandom(n)
    c = socket.create_connection(("127.0.0.1", int(arg)))
    def send():
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    while True:
        d = c.recv(1 << 20)
        if not d:
            break
        got += d
    t.join()
    if bytes(got) != data:
        sys.exit("got %d bytes back of %d, %s" % (len(got), n, "equal prefix" if data.startswith(bytes(got)) else "differing"))
elif mode == "udp-client":          # 1, 1400 and 3 bytes, NULs included
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    for d in (b"\0", os.urandom(700) + b"\0" * 700, b"a\0b"):
        s.sendto(d, ("127.0.0.1", int(arg)))
        r, a = s.recvfrom(65536)
        if r != d or a[1] != int(arg):
            sys.exit("datagram of %d bytes came back as %d bytes" % (len(d), len(r)))
    print("3 datagrams echoed")
EOF

# start NAME CMD...: a background server; its pid joins the cleanup list
start() {
	"$@" >"$T/bg.out" 2>"$T/bg.err" &
	pids+=($!)
}

if [ ! -x "$LB" ]; then
	echo "FAIL - lo-echo ($LB: not built)"
	exit 1
fi

# ---- the self-test ----

t0=$(date +%s%N)
run 10 "$LB" lo-echo
t1=$(date +%s%N)
expect "self-test passes" 0
if [ "$rc" = 0 ] && [ "$(grep -c ' PASS' "$T/out")" -ge 2 ] && grep -q '^tcp 127.0.0.1 .* PASS' "$T/out" &&
	grep -q '^udp 127.0.0.1 .* PASS' "$T/out" && head -n1 "$T/out" | grep -q 'p50'; then
	e_ok "self-test table: a header and PASS lines ($(( (t1 - t0) / 1000000 )) ms)"
else
	e_fail "self-test table" "$(head -c 400 "$T/out" | tr '\n' '|')"
fi

run 10 "$LB" lo-echo -J
if [ "$rc" = 0 ] && python3 -m json.tool "$T/out" >/dev/null &&
	python3 - "$T/out" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] is True and j["exit"] == 0 and j["count"] == 1000 and j["size"] == 64, j
assert [c["name"] for c in j["checks"]][::2] == ["tcp 127.0.0.1", "udp 127.0.0.1"], j
for c in j["checks"]:
    if c["result"] == "SKIP":
        continue
    assert c["result"] == "PASS" and c["messages"] == 1000 and c["bytes"] == 64000, c
    assert 0 < c["min_us"] <= c["p50_us"] <= c["p99_us"] <= c["max_us"], c
    assert c["mb_s"] > 0 and c["seconds"] > 0, c
EOF
then
	e_ok "self-test -J: one JSON object with p50_us and p99_us"
else
	e_fail "self-test -J" "$(head -c 300 "$T/out")"
fi

run 10 "$LB" lo-echo -q
if [ "$rc" = 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then
	e_ok "self-test -q: exit 0, prints nothing"
else
	e_fail "self-test -q" "exit $rc, out: $(head -c 200 "$T/out" "$T/err")"
fi

run 20 "$LB" lo-echo -B 256M -c 200 -s 1000
expect "self-test -B 256M: bulk into a sink passes" 0 '^bulk 127.0.0.1 .* PASS .*sink'

run 10 "$LB" lo-echo -c 20 -s 100000
expect "self-test -s 100000: TCP checks pass, UDP skipped" 0 '^udp 127.0.0.1 .*SKIP'

# ---- the diagnosis, in fresh network namespaces ----

if ! unshare -n true 2>/dev/null; then
	e_skip "network namespaces" "unshare -n not permitted here"
else
	run 10 unshare -n "$LB" lo-echo
	expect "unshare -n: lo down is exit 3 and named" 3 'loopback interface lo is down: run lo-echo --up'

	run 20 unshare -n sh -c "'$LB' lo-echo --up && '$LB' lo-echo --up"
	expect "unshare -n: lo-echo --up passes, twice in a row" 0 'lo: brought up'
	if [ "$rc" = 0 ] && [ "$(grep -c 'brought up' "$T/err")" = 1 ] && [ "$(grep -c '^tcp 127.0.0.1 .*PASS' "$T/out")" = 2 ]; then
		e_ok "lo-echo --up: the second run has nothing to do, and both self-tests pass"
	else
		e_fail "lo-echo --up twice" "$(cat "$T/err" | tr '\n' '|')"
	fi

	cp "$LB" "$T/loopbox" && chmod 755 "$T/loopbox"
	run 10 unshare -n setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all "$T/loopbox" lo-echo --up
	expect "unprivileged --up: exit 3, says it lacks CAP_NET_ADMIN" 3 'cannot bring it up: operation not permitted.*CAP_NET_ADMIN'

	run 10 unshare -n sh -c "ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && '$LB' lo-echo"
	expect "::1 absent: a note, the ::1 check SKIP, exit 0" 0 '^tcp ::1 .*SKIP'
	grep -q 'note: ::1 is not available' "$T/err" && e_ok "::1 absent: the note is on stderr" ||
		e_fail "::1 absent: note" "$(cat "$T/err")"

	run 10 unshare -n sh -c "ip link set lo up && ip addr del 127.0.0.1/8 dev lo && '$LB' lo-echo"
	expect "127.0.0.1 missing: exit 3, named with its fix" 3 '127.0.0.1 is not assigned to lo: run lo-echo --up'

	run 10 unshare -n sh -c "ip link set lo up && ip addr del 127.0.0.1/8 dev lo && '$LB' lo-echo --up -q && ip -4 addr show dev lo"
	expect "127.0.0.1 missing: --up adds 127.0.0.1/8 and the self-test passes" 0 'inet 127.0.0.1/8'

	run 10 unshare -n "$LB" lo-echo -p 7
	expect "client with lo down: exit 3, named" 3 'lo is down'
fi

# ---- the client against other echo servers ----

if command -v socat >/dev/null; then
	P=$(free_port)
	start socat TCP-LISTEN:"$P",bind=127.0.0.1,fork,reuseaddr EXEC:cat
	run 10 "$LB" lo-echo -p "$P" -w 3
	expect "-p against socat's echo (EXEC:cat)" 0 "^tcp 127.0.0.1:$P .*PASS"
	run 10 "$LB" lo-echo -p "$P" -c 50 -s 300000
	expect "-p against socat, 50 messages of 300000 bytes" 0 "PASS"
else
	e_skip "-p against socat" "no socat"
fi

start python3 "$T/peer.py" tcp-echo "$T/py.port"
P=$(wait_port "$T/py.port")
run 10 "$LB" lo-echo -p "$P" -J
if [ "$rc" = 0 ] && python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); c=j["checks"][0]; assert j["mode"]=="client" and c["result"]=="PASS" and c["p99_us"]>0' "$T/out"; then
	e_ok "-p -J against a python3 echo server"
else
	e_fail "-p against python3" "exit $rc: $(head -c 300 "$T/out" "$T/err")"
fi
run 10 "$LB" lo-echo -p "$P" -s 1 -c 600
expect "-p -s 1 -c 600 against python3 (every byte value)" 0 PASS

start python3 "$T/peer.py" tcp-flip "$T/flip.port" 12345
P=$(wait_port "$T/flip.port")
run 10 "$LB" lo-echo -p "$P"
expect "a server that flips one bit: exit 1 naming byte 12345" 1 'echo differs at byte 12345 \(message 192\): sent 0x.., got 0x..'

start python3 "$T/peer.py" tcp-hold "$T/hold.port"
P=$(wait_port "$T/hold.port")
run 10 "$LB" lo-echo -p "$P" -t 0.3
expect "a server that never answers: -t 0.3 is exit 4" 4 'no echo within 0.300 s'

start python3 "$T/peer.py" udp-echo "$T/udp.port"
P=$(wait_port "$T/udp.port")
run 10 "$LB" lo-echo -u -p "$P"
expect "-u -p against a python3 UDP echo server" 0 "^udp 127.0.0.1:$P .*PASS"

start python3 "$T/peer.py" udp-dup "$T/dup.port"
P=$(wait_port "$T/dup.port")
run 10 "$LB" lo-echo -u -p "$P" -c 100
expect "a UDP server that answers twice: exit 1, duplicates counted" 1 '0 datagrams lost, 99 echoed twice|echoed twice'

P=$(free_port)
run 10 "$LB" lo-echo -p "$P"
expect "-p where nothing listens: exit 1" 1 'connection refused'
run 10 "$LB" lo-echo -u -p "$P"
expect "-u -p where nothing listens: exit 1" 1 'connection refused'

# ---- the server ----

start "$LB" lo-echo -l -P "$T/l.port" -c 1
LPID=$!
P=$(wait_port "$T/l.port")
run 20 python3 "$T/peer.py" tcp-client "$P" $((4 << 20))
expect "-l returns 4 MiB of random bytes intact (send, half-close, read)" 0
for _ in $(seq 50); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$LPID" 2>/dev/null; then
	e_fail "-l -c 1" "still running after its one connection"
else
	wait "$LPID"
	lrc=$?
	[ "$lrc" = 0 ] && e_ok "-l -c 1: exit 0 after one connection" || e_fail "-l -c 1" "exit $lrc"
fi

start "$LB" lo-echo -l -u -P "$T/lu.port"
P=$(wait_port "$T/lu.port")
run 10 python3 "$T/peer.py" udp-client "$P"
expect "-l -u echoes datagrams of 1, 1400 and 3 bytes (NULs)" 0 '3 datagrams echoed'

start "$LB" lo-echo -l -P "$T/l2.port"
LPID=$!
P=$(wait_port "$T/l2.port")
exec 7<>/dev/tcp/127.0.0.1/"$P"	# an idle client holds a connection open
run 10 "$LB" lo-echo -p "$P" -c 2000 -s 2000
expect "-l serves a client while another one idles (and lo-echo -p 2000 x 2000 B)" 0 PASS
run 10 "$LB" lo-echo -6 -p "$P" -c 10
expect "-l on 127.0.0.1 is not on ::1" 1 'connection refused'
exec 7>&-
kill -TERM "$LPID"
wait "$LPID"
lrc=$?
[ "$lrc" = 0 ] && e_ok "-l: SIGTERM is exit 0" || e_fail "-l SIGTERM" "exit $lrc"

start "$LB" lo-echo -l -6 -P "$T/l6.port"
P=$(wait_port "$T/l6.port")
if [ -n "$P" ]; then
	run 10 "$LB" lo-echo -6 -p "$P" -c 100
	expect "-l -6 and -p -6: TCP over ::1" 0 '^tcp \[::1\]:.*PASS'
else
	e_skip "-l -6" "no ::1 here: $(cat "$T/bg.err")"
fi

start "$LB" lo-echo -l -u -P "$T/lu2.port"
P=$(wait_port "$T/lu2.port")
run 10 "$LB" lo-echo -u -p "$P" -s 65507 -c 20
expect "-l -u and -p -u: datagrams of 65507 bytes" 0 PASS

start "$LB" lo-echo -l -U "$T/echo.sock"
for _ in $(seq 50); do [ -S "$T/echo.sock" ] && break; sleep 0.05; done
run 10 "$LB" lo-echo -U "$T/echo.sock" -c 100
expect "-l -U and -U: a UNIX socket" 0 "^unix $T/echo.sock .*PASS"

run 10 "$LB" lo-echo -l -p 0 -t 0.3
expect "-l -t 0.3 with no client: exit 4" 4 'idle timeout'

# ---- usage ----

for args in "-x" "-p 7 extra" "-P $T/p" "-a 127.0.0.1" "-l -J" "-l -s 10" "-p 7 -B 1M" "-s 0" \
	"-u -p 7 -s 70000" "-a 192.0.2.1 -p 7" "-p 0" "-c 0" "--down"; do
	# shellcheck disable=SC2086
	run 5 "$LB" lo-echo $args
	expect "usage: lo-echo $args is exit 2" 2 'lo-echo: '
done
run 5 "$LB" lo-echo --help
expect "lo-echo --help: exit 0, the usage on stdout" 0 'usage: lo-echo'

echo "# t-echo: $npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ]
