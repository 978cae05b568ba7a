# t-serve.sh - lo-serve: -m, -f, -e, many clients at once, -c, -n, -A,
# SIGTERM, out of descriptors, -u, -t, -v, usage.
# needs: lo-serve lo-send
source "$(dirname "$0")/lib.sh"

# serve_unix NAME ARGS...: the same on the abstract UNIX socket @NAME.
serve_unix()
{
	local name=$1
	shift
	rm -f "$T/vout" "$T/verr"
	lb lo-serve -U "@$name" "$@" >"$T/vout" 2>"$T/verr" &
	SPID=$!
	wait_unix "@$name" || { problem "lo-serve did not listen on @$name: $(oneline "$T/verr")"; return 1; }
	LPID=$(kid "$SPID")
}
# serve_stop: SIGTERM, and its exit code in SRC.
serve_stop()
{
	kill -TERM "$LPID" 2>/dev/null
	wait "$SPID"
	SRC=$?
}
# py SCRIPT ARGS...: a python3 client from $T/SCRIPT.py, bounded.
py() { local s=$1; shift; T python3 "$T/$s.py" "$@"; }
san() { grep -q __asan_init "$LOOPBOX" 2>/dev/null; }

# python3 clients, written once
cat >"$T/get.py" <<'EOF'
# get.py PORT [REQUEST]: send REQUEST (nothing: half-close), print the reply
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
if len(sys.argv) > 2:
    s.sendall(sys.argv[2].encode())
else:
    s.shutdown(socket.SHUT_WR)
b = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    b += d
sys.stdout.write(b.decode())
EOF
cat >"$T/many.py" <<'EOF'
# many.py PORT N WANT: N connections open at once, each asks, then all
# are read; prints how many got exactly WANT
import socket, sys
port, n, want = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
socks = [socket.create_connection(("127.0.0.1", port), timeout=20) for i in range(n)]
for s in socks:
    s.sendall(b"hi")
ok = 0
for s in socks:
    b = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        b += d
    ok += b == want
    s.close()
print(ok)
EOF
cat >"$T/idle.py" <<'EOF'
# idle.py PORT N SECS READY: N connections that send nothing, held SECS
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for i in range(int(sys.argv[2]))]
open(sys.argv[4], "w").write("ready\n")
time.sleep(float(sys.argv[3]))
EOF

# ---- replies ----

t_reply()
{
	begin "-m: lo-send and a raw client get REPLY; one -v line each"
	serve_start -v -m pong || { end; return; }
	lb lo-send -p "$PORT" -m ping >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	content "$T/out" pong
	py get "$PORT" >"$T/out2"; rc_is 0 $? "half-closing client"
	content "$T/out2" pong
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	has "$T/verr" '^lo-serve: 127\.0\.0\.1:[0-9]+: 4 bytes in, 4 out, [0-9]+\.[0-9]{3} s, ok$'
	has "$T/verr" ': 0 bytes in, 4 out, .*ok$'
	end
}

t_200()
{
	begin "200 concurrent lo-send clients all get the reply"
	serve_start -m "Hello from server" || { end; return; }
	local i bad=0
	for i in $(seq 200); do
		lb lo-send -p "$PORT" -m "Hello from client" >"$T/o.$i" 2>&1 &
	done
	wait $(jobs -p | grep -vx "$SPID")
	for i in $(seq 200); do
		[ "$(cat "$T/o.$i")" = "Hello from server" ] || bad=$((bad + 1))
	done
	[ "$bad" = 0 ] || problem "$bad of 200 did not get it: $(oneline "$(cat "$T"/o.* | sort | uniq -c | head -3)")"
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	rm -f "$T"/o.*
	end
}

t_curl()
{
	begin "-f: curl gets the HTTP response in FILE"
	have_cmd curl || { skip_test "no curl"; return; }
	printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n' >"$T/http"
	serve_start -f "$T/http" || { end; return; }
	T curl -sS -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT/x" >"$T/code" 2>"$T/err"
	rc_is 0 $? curl "$T/err"
	content "$T/code" 200
	content "$T/body" $'hello\n'
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_fresh()
{
	begin "-f: FILE is read afresh for each connection"
	printf one >"$T/f"
	serve_start -f "$T/f" || { end; return; }
	lb lo-send -p "$PORT" -m a >"$T/o1" 2>&1
	printf two >"$T/f.new" && mv "$T/f.new" "$T/f"
	lb lo-send -p "$PORT" -m a >"$T/o2" 2>&1
	printf three >>"$T/f"
	lb lo-send -p "$PORT" -m a >"$T/o3" 2>&1
	content "$T/o1" one
	content "$T/o2" two
	content "$T/o3" twothree
	serve_stop
	end
}

t_bigfile()
{
	begin "-f: a 10 MiB FILE to 4 clients at once, byte-exact, one of them sending 8 MiB"
	head -c 10M /dev/urandom >"$T/big"
	head -c 8M /dev/urandom >"$T/req"
	serve_start -f "$T/big" || { end; return; }
	local i
	for i in 1 2 3; do
		lb lo-send -p "$PORT" -m "GET $i" >"$T/b.$i" 2>"$T/be.$i" &
	done
	lb lo-send -p "$PORT" "$T/req" >"$T/b.4" 2>"$T/be.4" &
	wait $(jobs -p | grep -vx "$SPID")
	for i in 1 2 3 4; do same "$T/b.$i" "$T/big"; empty "$T/be.$i"; done
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	rm -f "$T"/b.* "$T/req"
	end
}

t_noreset()
{
	begin "a client that reads late and keeps sending after the reply gets it all, no reset"
	cat >"$T/late.py" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET")
time.sleep(0.3)              # the reply waits, unread; the server half-closed
s.sendall(b"x" * 300000)     # more request after the reply: read and dropped
time.sleep(0.2)
b = b""
while True:
    d = s.recv(65536)        # a reset here would raise
    if not d:
        break
    b += d
print(len(b))
EOF
	head -c 100000 /dev/urandom >"$T/mid"
	serve_start -f "$T/mid" || { end; return; }
	py late "$PORT" >"$T/out" 2>"$T/err"; rc_is 0 $? client "$T/err"
	content "$T/out" $'100000\n'
	serve_stop
	end
}

t_idle_other()
{
	begin "a client that connects and sends nothing does not delay another"
	serve_start -m pong || { end; return; }
	rm -f "$T/ready"
	py idle "$PORT" 5 3 "$T/ready" &
	local ipid=$! t0
	wait_file "$T/ready" || problem "idle clients did not connect"
	t0=$(now_ms)
	lb lo-send -p "$PORT" -m ping >"$T/out" 2>&1; rc_is 0 $? lo-send "$T/out"
	content "$T/out" pong
	[ $(($(now_ms) - t0)) -lt 1000 ] || problem "took $(($(now_ms) - t0)) ms"
	killtree "$ipid"; wait "$ipid" 2>/dev/null
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_idle_timeout()
{
	begin "-t: an idle connection is closed after SECS, others are not"
	cat >"$T/wait.py" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t0 = time.time()
d = s.recv(10)
print(repr(d), int((time.time() - t0) * 1000))
EOF
	serve_start -t 0.3 -m pong || { end; return; }
	py wait "$PORT" >"$T/out" 2>"$T/err"; rc_is 0 $? client "$T/err"
	local ms
	ms=$(awk '{print $2}' "$T/out")
	has "$T/out" "^b'' [0-9]+$"
	[ "${ms:-0}" -ge 250 ] && [ "${ms:-0}" -lt 2000 ] || problem "closed after ${ms:-?} ms"
	lb lo-send -p "$PORT" -m ping >"$T/o2" 2>&1; content "$T/o2" pong
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_ipv6()
{
	begin "-6: served on ::1"
	ipv6_ok || { skip_test "no IPv6 here"; return; }
	serve_start -6 -m pong || { end; return; }
	lb lo-send -6 -p "$PORT" -m ping >"$T/out" 2>&1; rc_is 0 $? lo-send "$T/out"
	content "$T/out" pong
	serve_stop
	end
}

# ---- programs ----

t_exec_env()
{
	begin "-e: PROG runs with the UCSPI variables (inherited ones replaced)"
	PROTO=bogus TCPREMOTEHOST=stale serve_start -e sh -c \
		'echo "$PROTO $TCPLOCALIP $TCPLOCALPORT $TCPREMOTEIP ${TCPREMOTEHOST-unset}"; echo "$TCPREMOTEPORT"' ||
		{ end; return; }
	lb lo-send -p "$PORT" </dev/null >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	has "$T/out" "^TCP 127\.0\.0\.1 $PORT 127\.0\.0\.1 unset$"
	has "$T/out" '^[0-9]+$' TCPREMOTEPORT
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_exec_args()
{
	begin "-e: arguments reach PROG untouched (no shell); stdin and stdout are the connection"
	serve_start -e printf '[%s]' 'a b' '$(x)' '*' "it's" || { end; return; }
	lb lo-send -p "$PORT" </dev/null >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	content "$T/out" "[a b][\$(x)][*][it's]"
	serve_stop
	serve_start -e tr a-z A-Z || { end; return; }
	lb lo-send -p "$PORT" -m "hello, world" >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	content "$T/out" "HELLO, WORLD"
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_exec_many()
{
	begin "-e: 50 clients at once, -c 50 exits 0 once every child is reaped; -v says how each ended"
	serve_start -v -c 50 -e cat || { end; return; }
	local i bad=0
	for i in $(seq 50); do
		lb lo-send -p "$PORT" -m "n$i" >"$T/o.$i" 2>&1 &
	done
	wait $(jobs -p | grep -vx "$SPID")
	for i in $(seq 50); do [ "$(cat "$T/o.$i")" = "n$i" ] || bad=$((bad + 1)); done
	[ "$bad" = 0 ] || problem "$bad of 50 wrong"
	wait "$SPID"; rc_is 0 $? "lo-serve -c 50" "$T/verr"
	[ "$(grep -c ': cat: exit 0, ' "$T/verr")" = 50 ] || problem "-v lines: $(oneline "$T/verr")"
	rm -f "$T"/o.*
	end
}

t_exec_unread()
{
	begin "-e: a PROG that answers without reading the request: the client gets it and a clean end"
	serve_start -e echo answer || { end; return; }
	head -c 100000 /dev/zero >"$T/req"
	local i
	for i in 1 2 3; do
		lb lo-send -p "$PORT" "$T/req" >"$T/out" 2>"$T/err"; rc_is 0 $? "lo-send $i" "$T/err"
		content "$T/out" $'answer\n'
	done
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	serve_unix "lbt-u-$$" -e echo answer || { end; return; }
	lb lo-send -U "@lbt-u-$$" -m "not read" >"$T/out" 2>"$T/err"; rc_is 0 $? "lo-send -U" "$T/err"
	content "$T/out" $'answer\n'
	serve_stop
	end
}

t_exec_missing()
{
	begin "-e: a PROG gone at run time is named; the client is reset (exit 1); the server goes on"
	printf '#!/bin/sh\necho hi\n' >"$T/gone"; chmod +x "$T/gone"
	serve_start -v -e "$T/gone" || { end; return; }
	rm -f "$T/gone"
	lb lo-send -p "$PORT" -m x >"$T/out" 2>"$T/err"; rc_is 1 $? lo-send "$T/err"
	empty "$T/out"
	has "$T/err" "reset"
	has "$T/verr" "^lo-serve: $T/gone: no such file"
	has "$T/verr" "gone: exit 127, .*no such file"
	lacks "$T/verr" "ok$"
	kill -0 "$LPID" 2>/dev/null || problem "server died"
	serve_stop; rc_is 0 "$SRC" lo-serve
	end
}

t_exec_unix()
{
	begin "-U -e: PROTO=UNIX and the peer's uid, gid and pid"
	serve_unix "lbt-e-$$" -e sh -c 'echo "$PROTO $UNIXREMOTEEUID $UNIXREMOTEEGID"; echo "$UNIXREMOTEPID"' ||
		{ end; return; }
	lb lo-send -U "@lbt-e-$$" </dev/null >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	has "$T/out" "^UNIX $(id -u) $(id -g)$"
	has "$T/out" '^[0-9]+$' UNIXREMOTEPID
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_unix_path()
{
	begin "-U PATH: served, a second server there is refused, the file is gone after SIGTERM"
	rm -f "$T/vout" "$T/verr"
	lb lo-serve -U "$T/s.sock" -m pong >"$T/vout" 2>"$T/verr" &
	SPID=$!
	wait_unix "$T/s.sock" || { problem "no listener: $(oneline "$T/verr")"; end; return; }
	LPID=$(kid "$SPID")
	lb lo-send -U "$T/s.sock" -m ping >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	content "$T/out" pong
	lb lo-serve -U "$T/s.sock" -m two >/dev/null 2>"$T/err2"; rc_is 1 $? "second lo-serve" "$T/err2"
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	[ -e "$T/s.sock" ] && problem "socket file left behind"
	end
}

# ---- limits and stopping ----

t_count()
{
	begin "-c 3: exits 0 after 3 connections"
	serve_start -c 3 -m pong || { end; return; }
	local i
	for i in 1 2 3; do lb lo-send -p "$PORT" -m x >/dev/null 2>&1; done
	wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	end
}

t_sigterm()
{
	begin "SIGTERM: stops accepting, a request in flight is answered, exit 0 within ~1 s"
	cat >"$T/inflight.py" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
open(sys.argv[2], "w").write("connected\n")
time.sleep(0.4)               # the server has its SIGTERM by now
s.sendall(b"GET")
b = b""
while True:
    d = s.recv(100)
    if not d:
        break
    b += d
print(b.decode())
EOF
	serve_start -m pong || { end; return; }
	rm -f "$T/ready"
	py idle "$PORT" 1 5 "$T/ready" &
	local ipid=$!
	py inflight "$PORT" "$T/conn" >"$T/out" 2>"$T/err" &
	local cpid=$! t0
	wait_file "$T/conn" && wait_file "$T/ready" || problem "clients did not connect"
	t0=$(now_ms)
	kill -TERM "$LPID"
	sleep 0.1
	listening "$PORT" && problem "still listening after SIGTERM"
	wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	local ms=$(($(now_ms) - t0))
	[ "$ms" -lt 2500 ] || problem "exit took $ms ms"
	wait "$cpid"; rc_is 0 $? "in-flight client" "$T/err"
	content "$T/out" $'pong\n'
	killtree "$ipid"; wait "$ipid" 2>/dev/null
	end
}

t_sigint()
{
	begin "SIGINT on an idle server: exit 0 at once"
	serve_start -m pong || { end; return; }
	local t0
	t0=$(now_ms)
	kill -INT "$LPID"
	wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	[ $(($(now_ms) - t0)) -lt 900 ] || problem "took $(($(now_ms) - t0)) ms"
	end
}

t_loopback_only()
{
	begin "ss -ltn: the listener is on 127.0.0.1 only"
	have_cmd ss || { skip_test "no ss"; return; }
	serve_start -m pong || { end; return; }
	T ss -ltnH "sport = :$PORT" >"$T/ss"
	has "$T/ss" " 127\.0\.0\.1:$PORT "
	lines "$T/ss" 1
	serve_stop
	end
}

t_max()
{
	begin "-n 2: a third client waits in the backlog until one of two ends"
	cat >"$T/cap.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
c = [socket.create_connection(("127.0.0.1", port), timeout=5) for i in range(3)]
time.sleep(0.3)
c[2].sendall(b"x")
c[2].settimeout(0.5)
try:
    print("third served early:", c[2].recv(10))
    sys.exit(1)
except socket.timeout:
    pass
c[0].sendall(b"x")
c[0].settimeout(5)
r = c[0].recv(10)
assert r == b"pong", r
c[0].close()
c[2].settimeout(5)
r = c[2].recv(10)
assert r == b"pong", r
print("ok")
EOF
	serve_start -n 2 -m pong || { end; return; }
	py cap "$PORT" >"$T/out" 2>"$T/err"; rc_is 0 $? client "$T/err"
	content "$T/out" $'ok\n'
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_1000()
{
	begin "1000 concurrent python3 clients all answered (ulimit -n 4096)"
	(ulimit -n 4096 2>/dev/null) || { skip_test "ulimit -n 4096 not allowed"; return; }
	ulimit -n 4096
	serve_start -m pong || { end; return; }
	py many "$PORT" 1000 pong >"$T/out" 2>"$T/err"; rc_is 0 $? client "$T/err"
	content "$T/out" $'1000\n'
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_memory()
{
	begin "1000 idle connections cost the server < 1 KiB of memory each (RSS)"
	san && { skip_test "sanitizer build"; return; }
	serve_start -m pong || { end; return; }
	local r0 r1 per
	r0=$(awk '/^VmRSS/ {print $2}' /proc/"$LPID"/status)
	rm -f "$T/ready"
	py idle "$PORT" 1000 3 "$T/ready" &
	local ipid=$!
	wait_file "$T/ready" || problem "idle clients did not connect"
	sleep 0.3
	r1=$(awk '/^VmRSS/ {print $2}' /proc/"$LPID"/status)
	per=$(((r1 - r0) * 1024 / 1000))
	[ "$per" -le 1024 ] || problem "$per bytes per connection (RSS $r0 -> $r1 kB)"
	echo "# RSS $r0 kB idle, $r1 kB with 1000 idle connections: $per bytes each"
	killtree "$ipid"; wait "$ipid" 2>/dev/null
	serve_stop
	end
}

# fdstarve MODE ARG: 100 lo-send clients against a server under ulimit -n 40
fdstarve()
{
	rm -f "$T/vport"
	(ulimit -n 40 && exec timeout -k 3 "$TMO" "$LOOPBOX" lo-serve -p 0 -P "$T/vport" "$1" "$2" 2>"$T/verr") &
	SPID=$!
	wait_file "$T/vport" "$SPID" || { problem "no listener: $(oneline "$T/verr")"; return; }
	PORT=$(cat "$T/vport")
	LPID=$(kid "$SPID")
	local i bad=0
	for i in $(seq 100); do
		lb lo-send -p "$PORT" -m "req $i" >"$T/o.$i" 2>&1 &
	done
	wait $(jobs -p | grep -vx "$SPID")
	for i in $(seq 100); do [ "$(cat "$T/o.$i")" = "$3" ] || bad=$((bad + 1)); done
	[ "$bad" = 0 ] || problem "$bad of 100 not served: $(oneline "$(cat "$T"/o.* | sort | uniq -c | head -3)")"
	kill -0 "$LPID" 2>/dev/null || problem "the server died"
	lb lo-send -p "$PORT" -m again >"$T/o.x" 2>&1
	content "$T/o.x" "$3" "after the storm"
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	rm -f "$T"/o.*
}

t_fdstarve()
{
	begin "ulimit -n 40, 100 clients: every one served (-m), the server alive"
	fdstarve -m pong pong
	end
	begin "ulimit -n 40, 100 clients: every one served (-f: two descriptors each)"
	printf filed >"$T/small"
	fdstarve -f "$T/small" filed
	end
}

# ---- admission ----

# as_nobody CMD...: CMD as uid/gid 65534, with a copy of loopbox it can run
as_nobody() { T setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
nobody_box()
{
	chmod 711 "$T"
	mkdir -p -m 755 "$T/pub"
	cp "$LOOPBOX" "$T/pub/loopbox" && chmod 755 "$T/pub/loopbox"
}

t_admit()
{
	begin "-A 0 (TCP): root is served, uid 65534 is reset and logged"
	have_cmd setpriv && [ "$(id -u)" = 0 ] || { skip_test "needs root and setpriv"; return; }
	nobody_box
	serve_start -v -A 0 -m pong || { end; return; }
	lb lo-send -p "$PORT" -m hi >"$T/out" 2>"$T/err"; rc_is 0 $? "root lo-send" "$T/err"
	content "$T/out" pong
	as_nobody "$T/pub/loopbox" lo-send -p "$PORT" -m hi >"$T/out2" 2>"$T/err2"; rc_is 1 $? "uid 65534 lo-send" "$T/err2"
	empty "$T/out2"
	has "$T/err2" "reset"
	has "$T/verr" "refused \(uid 65534\)"
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_admit_list()
{
	begin "-A 65534,0 admits both; -A 1,2 refuses root"
	have_cmd setpriv && [ "$(id -u)" = 0 ] || { skip_test "needs root and setpriv"; return; }
	nobody_box
	serve_start -A 65534,0 -m pong || { end; return; }
	as_nobody "$T/pub/loopbox" lo-send -p "$PORT" -m hi >"$T/out" 2>"$T/err"; rc_is 0 $? "uid 65534" "$T/err"
	content "$T/out" pong
	serve_stop
	serve_start -A 1,2 -m pong || { end; return; }
	lb lo-send -p "$PORT" -m hi >"$T/out" 2>"$T/err"; rc_is 1 $? "root lo-send"
	empty "$T/out"
	serve_stop
	end
}

t_admit_unix()
{
	begin "-A 0 (-U): root is served, uid 65534 is reset and logged"
	have_cmd setpriv && [ "$(id -u)" = 0 ] || { skip_test "needs root and setpriv"; return; }
	nobody_box
	serve_unix "lbt-a-$$" -v -A 0 -m pong || { end; return; }
	lb lo-send -U "@lbt-a-$$" -m hi >"$T/out" 2>"$T/err"; rc_is 0 $? "root lo-send" "$T/err"
	content "$T/out" pong
	as_nobody "$T/pub/loopbox" lo-send -U "@lbt-a-$$" -m hi >"$T/out2" 2>"$T/err2"; rc_is 1 $? "uid 65534 lo-send" "$T/err2"
	empty "$T/out2"
	has "$T/verr" "refused \(uid 65534\)"
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_admit6()
{
	begin "-A 0 on ::1: root is served, uid 65534 is reset"
	ipv6_ok || { skip_test "no IPv6 here"; return; }
	have_cmd setpriv && [ "$(id -u)" = 0 ] || { skip_test "needs root and setpriv"; return; }
	nobody_box
	serve_start -6 -A 0 -m pong || { end; return; }
	lb lo-send -6 -p "$PORT" -m hi >"$T/out" 2>"$T/err"; rc_is 0 $? "root lo-send" "$T/err"
	content "$T/out" pong
	as_nobody "$T/pub/loopbox" lo-send -6 -p "$PORT" -m hi >"$T/out2" 2>&1; rc_is 1 $? "uid 65534 lo-send" "$T/out2"
	serve_stop
	end
}

# ---- UDP ----

t_udp()
{
	begin "-u: every datagram is answered (-m, then -f), -c counts datagrams"
	cat >"$T/udp.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(int(sys.argv[2])):
    s.sendto(b"ping %d" % i, ("127.0.0.1", int(sys.argv[1])))
    print(s.recvfrom(70000)[0].decode())
EOF
	serve_start -u -c 3 -m pong || { end; return; }
	py udp "$PORT" 3 >"$T/out" 2>"$T/err"; rc_is 0 $? client "$T/err"
	content "$T/out" $'pong\npong\npong\n'
	wait "$SPID"; rc_is 0 $? "lo-serve -c 3" "$T/verr"
	printf 'from a file' >"$T/ufile"
	serve_start -u -f "$T/ufile" || { end; return; }
	py udp "$PORT" 1 >"$T/out" 2>"$T/err"; rc_is 0 $? client "$T/err"
	content "$T/out" $'from a file\n'
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

# ---- usage ----

t_usage()
{
	begin "usage errors exit 2 with one line: no -m/-f/-e, two of them, -e with -u, bad -A, operands"
	local a
	for a in "-p 0" "-p 0 -m a -f b" "-p 0 -m a -e true" "-u -p 0 -e cat" "-p 0 -A x -m a" "-p 0 -A 1,,2 -m a" \
		"-p 0 -m a extra" "-a 10.0.0.1 -p 0 -m a" "-p 0 -n 0 -m a"; do
		# shellcheck disable=SC2086
		lb lo-serve $a >"$T/out" 2>"$T/err"; rc_is 2 $? "lo-serve $a" "$T/err"
		lines "$T/err" 1 "lo-serve $a"
	done
	has "$T/err" '^lo-serve: '
	lb lo-serve -p 0 -f "$T/nonesuch" >"$T/out" 2>"$T/err"; rc_is 1 $? "missing FILE" "$T/err"
	has "$T/err" "^lo-serve: $T/nonesuch: no such file"
	lb lo-serve --help >"$T/out" 2>"$T/err"; rc_is 0 $? "--help"
	has "$T/out" '^usage: lo-serve'
	end
}

t_reply
t_200
t_curl
t_fresh
t_bigfile
t_noreset
t_idle_other
t_idle_timeout
t_ipv6
t_exec_env
t_exec_args
t_exec_many
t_exec_unread
t_exec_missing
t_exec_unix
t_unix_path
t_count
t_sigterm
t_sigint
t_loopback_only
t_max
t_1000
t_memory
t_fdstarve
t_admit
t_admit_list
t_admit_unix
t_admit6
t_udp
t_usage
