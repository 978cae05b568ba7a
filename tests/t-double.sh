# t-double.sh - lo-serve as the test double of a CI job: the descriptor
# limit raised, a served client's bounded linger, -g greetings, the
# README's canned HTTP reply against a keep-alive client.
# needs: lo-serve lo-send
source "$(dirname "$0")/lib.sh"

serve_stop()
{
	kill -TERM "$LPID" 2>/dev/null
	wait "$SPID"
	SRC=$?
}

cat >"$T/hold.py" <<'EOF'
# hold.py PORT N SECS READY: N clients that send, read the whole reply
# (to the server's FIN), and then never close; held SECS. Writes to READY
# how many got the reply.
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks, got = [], 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"hi")
    b = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        b += d
    got += b == b"pong"
    socks.append(s)
open(sys.argv[4], "w").write("%d\n" % got)
time.sleep(float(sys.argv[3]))
EOF

# soft FILE: the soft "Max open files" of process $LPID, into FILE
soft() { awk '/^Max open files/ { print $4 }' /proc/"$LPID"/limits >"$1"; }

t_rlimit()
{
	begin "ulimit -Sn 64 (hard >= 4096): the server raises it; 200 served clients that never close leave a new one served in < 1 s"
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=$(cat /proc/sys/fs/nr_open)
	[ "$hard" -ge 4096 ] || { skip_test "hard limit $hard < 4096"; return; }
	rm -f "$T/vport" "$T/ready"
	(ulimit -Sn 64; exec "$LOOPBOX" lo-serve -p 0 -P "$T/vport" -m pong 2>"$T/verr") &
	SPID=$! LPID=$!
	wait_file "$T/vport" "$SPID" || { problem "no port: $(oneline "$T/verr")"; end; return; }
	PORT=$(cat "$T/vport")
	soft "$T/soft"
	content "$T/soft" "$hard"$'\n'
	T python3 "$T/hold.py" "$PORT" 200 20 "$T/ready" &
	local h=$!
	wait_file "$T/ready" "$h"
	content "$T/ready" $'200\n'
	local t0 t1
	t0=$(now_ms)
	lb lo-send -w 1 -p "$PORT" -m hi >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	t1=$(now_ms)
	content "$T/out" pong
	[ $((t1 - t0)) -lt 1000 ] || problem "the new client took $((t1 - t0)) ms"
	kill "$h" 2>/dev/null; wait "$h" 2>/dev/null
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_linger()
{
	begin "ulimit -n 64 (hard too): 100 served clients that never close are let go after the linger; the next is served"
	rm -f "$T/vport" "$T/ready"
	(ulimit -n 64; exec "$LOOPBOX" lo-serve -v -p 0 -P "$T/vport" -m pong 2>"$T/verr") &
	SPID=$! LPID=$!
	wait_file "$T/vport" "$SPID" || { problem "no port: $(oneline "$T/verr")"; end; return; }
	PORT=$(cat "$T/vport")
	soft "$T/soft"
	content "$T/soft" $'64\n'
	local t0 t1 h
	t0=$(now_ms)
	# 100 > 64: without the linger the 61st would wait forever
	T python3 "$T/hold.py" "$PORT" 100 20 "$T/ready" &
	h=$!
	wait_file "$T/ready" "$h"
	t1=$(now_ms)
	content "$T/ready" $'100\n'
	# the first 60 or so waited for nothing; the rest for one linger each
	[ $((t1 - t0)) -ge 1500 ] || problem "100 clients in $((t1 - t0)) ms: was the limit there?"
	lb lo-send -w 5 -p "$PORT" -m hi >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	content "$T/out" pong
	kill "$h" 2>/dev/null; wait "$h" 2>/dev/null
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	has "$T/verr" ': 2 bytes in, 4 out, [0-9.]+ s, ok, linger over$'
	end
}

t_linger_time()
{
	begin "a served client that never closes is closed after 2 s (not -t's 0.5), cleanly (EOF, no reset)"
	serve_start -v -t 0.5 -m pong || { end; return; }
	cat >"$T/wait.py" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"hi")
time.sleep(0.3)
s.sendall(b"more")	# after the reply: read and dropped
t0 = time.monotonic()
b = b""
while True:
    d = s.recv(4096)	# the reply, then EOF (a reset would raise)
    if not d:
        break
    b += d
# the server's FIN came with the reply; wait for its close to show
s.settimeout(5)
try:
    time.sleep(2.5)
    s.sendall(b"x")
    time.sleep(0.1)
    s.sendall(b"y")	# a closed peer answers the first with a reset
    print(b.decode(), "open")
except OSError as e:
    print(b.decode(), "closed")
EOF
	T python3 "$T/wait.py" "$PORT" >"$T/out" 2>"$T/err"; rc_is 0 $? python3 "$T/err"
	content "$T/out" $'pong closed\n'
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	has "$T/verr" ': 6 bytes in, 4 out, (1\.9|2\.)[0-9]+ s, ok, linger over$'
	end
}

t_greet()
{
	begin "-g: an SMTP-style client reads the greeting before it sends; -c 1 exits 0"
	serve_start -v -g -c 1 -m $'220 loopbox ready\r\n' || { end; return; }
	cat >"$T/smtp.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
line = f.readline()		# nothing sent yet: the server speaks first
s.sendall(b"QUIT\r\n")
s.shutdown(socket.SHUT_WR)
rest = f.read()
sys.stdout.write(repr(line) + " " + repr(rest))
EOF
	T python3 "$T/smtp.py" "$PORT" >"$T/out" 2>"$T/err"; rc_is 0 $? python3 "$T/err"
	content "$T/out" "b'220 loopbox ready\\r\\n' b''"
	wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	has "$T/verr" ': 6 bytes in, 19 out, [0-9.]+ s, ok$'
	end
}

t_greet_file()
{
	begin "-g -f: FILE is the greeting; a client that sends nothing gets it"
	printf '+OK POP3 ready\r\n' >"$T/g"
	serve_start -g -f "$T/g" || { end; return; }
	T python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
print(s.recv(100).decode().strip())' "$PORT" >"$T/out" 2>"$T/err"
	rc_is 0 $? python3 "$T/err"
	content "$T/out" $'+OK POP3 ready\n'
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_keepalive()
{
	begin "README's HTTP reply: python http.client, 200 requests on one connection object, all 200 OK"
	# as README.md, "lo-serve as a test double", shows it
	printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n' >"$T/ok.http"
	serve_start -f "$T/ok.http" || { end; return; }
	T python3 -c '
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
ok = 0
for i in range(200):
    c.request("GET", "/health")
    r = c.getresponse()
    ok += r.status == 200 and r.read() == b"ok\n"
print(ok)' "$PORT" >"$T/out" 2>"$T/err"
	rc_is 0 $? python3 "$T/err"
	content "$T/out" $'200\n'
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	end
}

t_prog_limit()
{
	begin "-e: PROG gets the soft descriptor limit lo-serve was given, not the raised one"
	[ "$(ulimit -Hn)" -gt 64 ] || { skip_test "hard limit $(ulimit -Hn)"; return; }
	rm -f "$T/vport"
	(ulimit -Sn 64; exec "$LOOPBOX" lo-serve -c 1 -p 0 -P "$T/vport" -e sh -c 'ulimit -Sn' 2>"$T/verr") &
	SPID=$!
	wait_file "$T/vport" "$SPID" || { problem "no port: $(oneline "$T/verr")"; end; return; }
	lb lo-send -p "$(cat "$T/vport")" -m hi >"$T/out" 2>"$T/err"; rc_is 0 $? lo-send "$T/err"
	content "$T/out" $'64\n'
	wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	end
}

t_record_curl()
{
	begin "-o DIR: three concurrent curl POSTs, each body in its own file, -c 3; nothing else in DIR"
	have_cmd curl || { skip_test "no curl"; return; }
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n' >"$T/ok.http"
	mkdir -p "$T/got"
	serve_start -f "$T/ok.http" -c 3 -o "$T/got" || { end; return; }
	local i
	for i in 1 2 3; do
		T curl -sS -o "$T/c$i" -d "body=$i$i$i" "http://127.0.0.1:$PORT/hook" 2>"$T/cerr$i" &
	done
	wait $(jobs -p | grep -vx "$SPID")
	wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	for i in 1 2 3; do
		content "$T/c$i" $'ok\n' "curl $i's reply"
		[ "$(grep -l "^body=$i$i$i\$" "$T"/got/* | wc -l)" = 1 ] || problem "body $i is in $(grep -l "body=$i" "$T"/got/* | wc -l) files"
	done
	content <(ls -A "$T/got" | sort | tr '\n' ' ') "1 2 3 "
	has "$T/got/1" '^POST /hook HTTP/1\.1'
	end
}

t_record_cut()
{
	begin "-o DIR: a client reset after its reply, mid-request, and one cut by SIGTERM before it spoke leave no file and no temporary behind; a served one is kept"
	mkdir -p "$T/cut"
	serve_start -m pong -o "$T/cut" || { end; return; }
	T python3 -c '
import socket, struct, sys, time
p = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", p))	# 1: served, closes
a.sendall(b"whole"); a.shutdown(socket.SHUT_WR)
while a.recv(100): pass
a.close()
b = socket.create_connection(("127.0.0.1", p))	# 2: reset mid-request
b.sendall(b"GET /par")
time.sleep(0.2)
b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
b.close()
c = socket.create_connection(("127.0.0.1", p))	# 3: silent, then SIGTERM
open(sys.argv[2], "w").write("ready\n")
time.sleep(5)' "$PORT" "$T/held" 2>"$T/err" &
	local h=$!
	wait_file "$T/held" "$h"
	sleep 0.3
	ls -A "$T/cut" >"$T/mid"
	has "$T/mid" '^\.3\.[0-9a-f]{16}$' "the held request's temporary"
	serve_stop; rc_is 0 "$SRC" lo-serve "$T/verr"
	kill "$h" 2>/dev/null; wait "$h" 2>/dev/null
	ls -A "$T/cut" >"$T/after"
	content "$T/after" $'1\n'
	content "$T/cut/1" whole
	end
}

t_record_bad()
{
	begin "-o DIR: a DIR that is missing, or a file, is refused at startup: exit 1, one line"
	: >"$T/afile"
	lb lo-serve -p 0 -m x -o "$T/nodir" 2>"$T/err"; rc_is 1 $? lo-serve "$T/err"
	lines "$T/err" 1
	has "$T/err" "^lo-serve: $T/nodir: no such file or directory\$"
	lb lo-serve -p 0 -m x -o "$T/afile" 2>"$T/err"; rc_is 1 $? lo-serve "$T/err"
	has "$T/err" "^lo-serve: $T/afile: not a directory\$"
	end
}

t_usage()
{
	local a
	for a in "-o $T -e cat" "-o $T -u -m x" "-g -u -m x" "-g -e cat"; do
		begin "lo-serve -p 1 ${a/$T/DIR}: usage error, exit 2, one line"
		lb lo-serve -p 1 $a >/dev/null 2>"$T/err"; rc_is 2 $? lo-serve "$T/err"
		lines "$T/err" 1
		has "$T/err" "^lo-serve: ${a:0:2}: conflicts with -[ue]\$"
		end
	done
}

t_rlimit
t_linger
t_linger_time
t_greet
t_greet_file
t_keepalive
t_prog_limit
t_record_curl
t_record_cut
t_record_bad
t_usage
