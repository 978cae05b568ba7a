#!/bin/bash
# t-echo.sh - lo-echo: the self-test, the client against other echo servers
# (socat, python3), the server against python3 clients, and --up and the
# diagnosis inside fresh network namespaces (unshare -n: lo is down there).
# Real peers, loopback only.
# needs: lo-echo lo-recv

. "$(dirname "$0")/lib.sh"

if ! have lo-echo; then
	skip "lo-echo" "not built in"
	exit 0
fi

# ---- the python3 peers ----

cat >"$T/peer.py" <<'EOF'
import os, socket, sys, threading, time

mode, arg = sys.argv[1], sys.argv[2]

def portfile(s):
    with open(arg + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(arg + ".tmp", arg)

def tcp_server(handle):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    portfile(s)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

def echo(c, flip=None):             # flip: the stream offset of a bit to flip
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

def hold(c):                        # reads, never answers
    while c.recv(65536):
        pass

if mode == "tcp-echo":
    tcp_server(echo)
elif mode == "tcp-flip":
    tcp_server(lambda c: echo(c, int(sys.argv[3])))
elif mode == "tcp-hold":
    tcp_server(hold)
elif mode in ("udp-echo", "udp-dup", "udp-late"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    portfile(s)
    n = 0
    while True:
        d, a = s.recvfrom(65536)
        n += 1
        if mode == "udp-late" and n == 5:   # the 5th comes back 0.15 s late,
            threading.Timer(0.15, s.sendto, (d, a)).start()
            continue
        if mode == "udp-late" and n > 5:    # while the others take 10 ms each
            time.sleep(0.01)
        for _ in range(2 if mode == "udp-dup" else 1):
            s.sendto(d, a)
elif mode == "tcp-client":          # N random bytes: send, half-close, read all back
    n = int(sys.argv[3])
    data = os.urandom(n)
    c = socket.create_connection(("127.0.0.1", int(arg)))
    def send():                     # (in a thread: the echo comes back meanwhile)
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
        sys.exit("%d of %d bytes came back, %s" % (len(got), n,
                 "a prefix" if data.startswith(bytes(got)) else "differing"))
    print("%d bytes echoed" % n)
elif mode == "udp-client":          # 1, 1400 and 3 bytes, NULs included
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    for d in (b"\0", os.urandom(700) + b"\0" * 700, b"a\0b"):
        s.sendto(d, ("127.0.0.1", int(arg)))
        r, a = s.recvfrom(65536)
        if r != d or a[1] != int(arg):
            sys.exit("a datagram of %d bytes came back as %d bytes" % (len(d), len(r)))
    print("3 datagrams echoed")
EOF

# bg CMD...: CMD in the background, bounded; BGPID is its `timeout`, which
# passes a SIGTERM on. fin stops them all (a server left to lib.sh's kill -9
# of the job would outlive the test until its timeout), then ends the test.
BGS=()
bg() { timeout -k 3 "$TMO" "$@" & BGPID=$!; BGS+=("$BGPID"); }
fin()
{
	local p
	for p in "${BGS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	BGS=()
	end
}

# peer MODE NAME [ARG]: a python3 server in the background; PORT
peer()
{
	rm -f "$T/$2.port"
	bg python3 "$T/peer.py" "$1" "$T/$2.port" "${3:-}" 2>"$T/$2.err"
	PORT=
	wait_file "$T/$2.port" "$BGPID" || { problem "python3 $1 did not start: $(oneline "$T/$2.err")"; return 1; }
	PORT=$(cat "$T/$2.port")
}

# echo_start ARGS...: lo-echo -l -P FILE ARGS in the background; PORT, EPID
# (its `timeout`: a SIGTERM to it reaches lo-echo), stderr in $T/eerr.
echo_start()
{
	rm -f "$T/eport"
	bg "$LOOPBOX" lo-echo -l -P "$T/eport" "$@" 2>"$T/eerr"
	EPID=$BGPID
	PORT=
	wait_file "$T/eport" "$EPID" || { problem "lo-echo -l did not listen: $(oneline "$T/eerr")"; return 1; }
	PORT=$(cat "$T/eport")
}

# ---- the self-test ----

begin "self-test: exit 0, a table with PASS lines"
t0=$(date +%s%N)
lb lo-echo >"$T/out" 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rc_is 0 $rc lo-echo "$T/err"
has "$T/out" '^check +min us +p50 us +p99 us +max us +MB/s +result$'
has "$T/out" '^tcp 127\.0\.0\.1 .* PASS$'
has "$T/out" '^udp 127\.0\.0\.1 .* PASS$'
[ "$ms" -lt 2000 ] || problem "it took $ms ms"
fin

begin "self-test -J: one JSON object with p50_us and p99_us"
lb lo-echo -J >"$T/out" 2>"$T/err"
rc_is 0 $? lo-echo "$T/err"
T python3 -m json.tool "$T/out" >/dev/null 2>"$T/jerr" || problem "not JSON: $(oneline "$T/jerr")"
T python3 - "$T/out" >"$T/jerr" 2>&1 <<'EOF' || problem "$(oneline "$T/jerr")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] is True and j["exit"] == 0 and j["mode"] == "self-test", j
assert j["count"] == 1000 and j["size"] == 64 and j["wall_ms"] >= 0, j
names = [c["name"] for c in j["checks"]]
assert names == ["tcp 127.0.0.1", "tcp ::1", "udp 127.0.0.1"], names
for c in j["checks"]:
    if c["result"] == "SKIP":
        assert not j["ipv6"] and c["p50_us"] is None, c
        continue
    assert c["result"] == "PASS" and c["messages"] == 1000 and c["bytes"] == 64000, c
    assert 0 < c["min_us"] <= c["p50_us"] <= c["p99_us"] <= c["max_us"], c
    assert c["mb_s"] > 0 and c["seconds"] > 0 and c["lost"] == c["dup"] == 0, c
EOF
fin

begin "self-test -q: exit 0, prints nothing"
lb lo-echo -q >"$T/out" 2>"$T/err"
rc_is 0 $? lo-echo "$T/err"
empty "$T/out"
empty "$T/err"
fin

begin "self-test -B 256M: bulk one way into a sink"
lb lo-echo -B 256M -c 200 >"$T/out" 2>"$T/err"
rc_is 0 $? lo-echo "$T/err"
has "$T/out" '^bulk 127\.0\.0\.1 +- +- +- +- +[0-9.]+ +PASS +\(one way into a sink\)$'
fin

begin "self-test -s 100000: the TCP checks pass, UDP is skipped"
lb lo-echo -c 20 -s 100000 >"$T/out" 2>"$T/err"
rc_is 0 $? lo-echo "$T/err"
has "$T/out" '^tcp 127\.0\.0\.1 .* PASS$'
has "$T/out" '^udp 127\.0\.0\.1 .* SKIP'
fin

# ---- the diagnosis, in fresh network namespaces ----

if ! netns_lo_ok; then
	skip "lo-echo in network namespaces" "unshare -n or ip not available"
else
	begin "unshare -n: lo down is exit 3, named with its fix"
	T unshare -n "$LOOPBOX" lo-echo >"$T/out" 2>"$T/err"
	rc_is 3 $? lo-echo "$T/err"
	has "$T/err" '^lo-echo: .*loopback interface lo is down: run lo-echo --up, or ip link set lo up$'
	lines "$T/err" 1
	empty "$T/out"
	fin

	begin "unshare -n: lo-echo --up passes, twice in a row"
	T unshare -n sh -c '"$1" lo-echo --up && "$1" lo-echo --up' sh "$LOOPBOX" >"$T/out" 2>"$T/err"
	rc_is 0 $? "lo-echo --up" "$T/err"
	content "$T/err" "lo-echo: lo: done: ip link set lo up
"
	[ "$(grep -c '^tcp 127.0.0.1 .*PASS$' "$T/out")" = 2 ] || problem "not two passing self-tests: $(oneline "$T/out")"
	fin

	begin "unshare -n, unprivileged: --up is exit 3, says it lacks the privilege"
	cp "$LOOPBOX" "$T/loopbox" && chmod 755 "$T" "$T/loopbox"
	T unshare -n setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all "$T/loopbox" lo-echo --up >"$T/out" 2>"$T/err"
	rc_is 3 $? "lo-echo --up" "$T/err"
	has "$T/err" '^lo-echo: ip link set lo up: operation not permitted: this needs CAP_NET_ADMIN'
	fin

	begin "::1 absent: a note, the ::1 check skipped, exit 0"
	netns "ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1" "$LOOPBOX" lo-echo >"$T/out" 2>"$T/err"
	rc_is 0 $? lo-echo "$T/err"
	has "$T/err" '^lo-echo: note: ::1 is not available'
	has "$T/out" '^tcp ::1 +- +- +- +- +- +SKIP'
	has "$T/out" '^tcp 127\.0\.0\.1 .* PASS$'
	fin

	begin "127.0.0.1 missing: exit 3, named with its fix"
	netns "ip link set lo up && ip addr del 127.0.0.1/8 dev lo" "$LOOPBOX" lo-echo >"$T/out" 2>"$T/err"
	rc_is 3 $? lo-echo "$T/err"
	has "$T/err" '^lo-echo: 127\.0\.0\.1: .*not assigned to lo: run lo-echo --up'
	fin

	begin "127.0.0.1 missing: --up adds 127.0.0.1/8, then the self-test passes"
	netns "ip link set lo up && ip addr del 127.0.0.1/8 dev lo" sh -c \
		'"$1" lo-echo --up -q && ip -4 addr show dev lo' sh "$LOOPBOX" >"$T/out" 2>"$T/err"
	rc_is 0 $? "lo-echo --up" "$T/err"
	has "$T/out" 'inet 127\.0\.0\.1/8 scope host lo'
	fin

	begin "lo down: the client says so, exit 3"
	T unshare -n "$LOOPBOX" lo-echo -p 7 >"$T/out" 2>"$T/err"
	rc_is 3 $? lo-echo "$T/err"
	has "$T/err" 'lo is down'
	fin
fi

# ---- the client against other echo servers ----

if ! have_cmd socat; then
	skip "lo-echo -p against socat" "no socat"
else
	begin "-p against socat's echo (TCP-LISTEN,fork EXEC:cat), small and large messages"
	P=$(free_port)
	bg socat TCP-LISTEN:"$P",bind=127.0.0.1,fork,reuseaddr EXEC:cat 2>"$T/serr"
	lb lo-echo -p "$P" -w 5 >"$T/out" 2>"$T/err"
	rc_is 0 $? lo-echo "$T/err"
	has "$T/out" "^tcp 127\.0\.0\.1:$P .* PASS$"
	lb lo-echo -p "$P" -c 40 -s 300000 >"$T/out" 2>"$T/err"
	rc_is 0 $? "lo-echo -s 300000" "$T/err"
	fin
fi

begin "-p -J against a python3 echo server, and -s 1 (every byte value)"
if peer tcp-echo echo; then
	lb lo-echo -p "$PORT" -J >"$T/out" 2>"$T/err"
	rc_is 0 $? lo-echo "$T/err"
	T python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); c = j["checks"][0]
assert j["mode"] == "client" and c["result"] == "PASS" and c["p99_us"] > 0, j' "$T/out" 2>"$T/jerr" ||
		problem "JSON: $(oneline "$T/jerr")"
	lb lo-echo -p "$PORT" -s 1 -c 600 >"$T/out" 2>"$T/err"
	rc_is 0 $? "lo-echo -s 1" "$T/err"
fi
fin

begin "a server that flips one bit: exit 1, naming the byte"
if peer tcp-flip flip 12345; then
	lb lo-echo -p "$PORT" >"$T/out" 2>"$T/err"
	rc_is 1 $? lo-echo "$T/err"
	has "$T/err" "^lo-echo: tcp 127\.0\.0\.1:$PORT: echo differs at byte 12345 \(message 192\): sent [0-9]+, got [0-9]+$"
	has "$T/out" "FAIL$"
fi
fin

begin "a server that never answers: -t 0.3 is exit 4"
if peer tcp-hold hold; then
	lb lo-echo -p "$PORT" -t 0.3 >"$T/out" 2>"$T/err"
	rc_is 4 $? lo-echo "$T/err"
	has "$T/err" 'no echo within 300 ms \(after 0 bytes\)$'
fi
fin

begin "-u -p against a python3 UDP echo server"
if peer udp-echo uecho; then
	lb lo-echo -u -p "$PORT" >"$T/out" 2>"$T/err"
	rc_is 0 $? lo-echo "$T/err"
	has "$T/out" "^udp 127\.0\.0\.1:$PORT .* PASS$"
fi
fin

begin "a UDP server that answers twice: exit 1, the duplicates counted"
if peer udp-dup udup; then
	lb lo-echo -u -p "$PORT" -c 100 -J >"$T/out" 2>"$T/err"
	rc_is 1 $? lo-echo "$T/err"
	has "$T/err" 'datagrams lost: 0, echoed twice: 99$'
	has "$T/out" '"dup":99'
fi
fin

begin "a UDP echo that comes too late: lost, then seen late; exit 1"
if peer udp-late ulate; then
	lb lo-echo -u -p "$PORT" -c 20 -t 0.1 -J >"$T/out" 2>"$T/err"
	rc_is 1 $? lo-echo "$T/err"
	has "$T/err" 'datagrams lost: 1, echoed twice: 0$'
	has "$T/out" '"messages":19,.*"lost":1,"late":1,"dup":0'
fi
fin

begin "-p where nothing listens: exit 1 (TCP and UDP)"
P=$(free_port)
lb lo-echo -p "$P" >"$T/out" 2>"$T/err"
rc_is 1 $? lo-echo "$T/err"
has "$T/err" "^lo-echo: 127\.0\.0\.1:$P: connection refused$"
lb lo-echo -u -p "$P" >"$T/out" 2>"$T/err"
rc_is 1 $? "lo-echo -u" "$T/err"
has "$T/err" 'connection refused'
fin

# ---- the server ----

begin "-l returns 4 MiB of random bytes intact (send, half-close, read); -c 1 then exit 0"
if echo_start -c 1; then
	T python3 "$T/peer.py" tcp-client "$PORT" $((4 << 20)) >"$T/out" 2>"$T/err"
	rc_is 0 $? "python3 client" "$T/err"
	wait_gone "$EPID" || problem "lo-echo -l -c 1 still runs"
	wait "$EPID"
	rc_is 0 $? "lo-echo -l" "$T/eerr"
fi
fin

begin "-l -u echoes datagrams of 1, 1400 and 3 bytes (with NULs); -c 3 then exit 0"
if echo_start -u -c 3; then
	T python3 "$T/peer.py" udp-client "$PORT" >"$T/out" 2>"$T/err"
	rc_is 0 $? "python3 client" "$T/err"
	has "$T/out" '3 datagrams echoed'
	wait_gone "$EPID" || problem "lo-echo -l -u -c 3 still runs"
	wait "$EPID"
	rc_is 0 $? "lo-echo -l -u" "$T/eerr"
fi
fin

begin "-l on a port in use: exit 1, named"
if peer tcp-echo busy; then
	lb lo-echo -l -p "$PORT" >"$T/out" 2>"$T/err"
	rc_is 1 $? "lo-echo -l" "$T/err"
	has "$T/err" "^lo-echo: 127\.0\.0\.1:$PORT: address (already )?in use$"
fi
fin

begin "-l: a client is served while another idles; SIGTERM is exit 0"
if echo_start; then
	exec 7<>"/dev/tcp/127.0.0.1/$PORT"
	lb lo-echo -p "$PORT" -c 2000 -s 2000 >"$T/out" 2>"$T/err"
	rc_is 0 $? "lo-echo -p" "$T/err"
	exec 7>&-
	lb lo-echo -6 -p "$PORT" -c 10 >"$T/out" 2>"$T/err"
	rc_is 1 $? "lo-echo -6 -p (the server is on 127.0.0.1 only)" "$T/err"
	kill -TERM "$EPID"
	wait "$EPID"
	rc_is 0 $? "lo-echo -l after SIGTERM" "$T/eerr"
fi
fin

begin "-l -6 and -p -6: TCP over ::1"
if ! ipv6_ok; then
	skip_test "no ::1 here"
elif echo_start -6; then
	lb lo-echo -6 -p "$PORT" -c 100 >"$T/out" 2>"$T/err"
	rc_is 0 $? lo-echo "$T/err"
	has "$T/out" '^tcp \[::1\]:[0-9]+ .* PASS$'
fi
fin

begin "-l -u and -p -u: datagrams of 65507 bytes"
if echo_start -u; then
	lb lo-echo -u -p "$PORT" -s 65507 -c 20 >"$T/out" 2>"$T/err"
	rc_is 0 $? lo-echo "$T/err"
fi
fin

begin "-l -U and -U: over a UNIX socket"
bg "$LOOPBOX" lo-echo -l -U "$T/echo.sock" 2>"$T/eerr"
for _ in $(seq 100); do [ -S "$T/echo.sock" ] && break; sleep 0.02; done
lb lo-echo -U "$T/echo.sock" -c 100 >"$T/out" 2>"$T/err"
rc_is 0 $? lo-echo "$T/err"
has "$T/out" "^unix $T/echo\.sock .* PASS$"
fin

begin "-l without -p: the kernel's port, said on stderr"
lb lo-echo -l -t 0.2 >"$T/out" 2>"$T/err"
rc_is 4 $? "lo-echo -l -t 0.2" "$T/err"
has "$T/err" '^lo-echo: listening on 127\.0\.0\.1:[0-9]+$'
has "$T/err" '^lo-echo: idle timeout: nothing came for the -t time$'
fin

# ---- usage ----

begin "usage errors are exit 2, one line"
for args in "-x" "-p 7 extra" "-P $T/p" "-a 127.0.0.1" "-u" "-l -J" "-l -s 10" "-p 7 -B 1M" "-s 0" \
	"-u -p 7 -s 70000" "-a 192.0.2.1 -p 7" "-p 0" "-c 0" "--down"; do
	# shellcheck disable=SC2086
	lb lo-echo $args >"$T/out" 2>"$T/err"
	rc_is 2 $? "lo-echo $args" "$T/err"
	lines "$T/err" 1 "lo-echo $args: stderr"
done
lb lo-echo --help >"$T/out" 2>"$T/err"
rc_is 0 $? "lo-echo --help"
has "$T/out" '^usage: lo-echo'
has "$T/out" '--up'
fin
