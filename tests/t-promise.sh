# t-promise.sh - issue 16, "Every exit 0 is real": one test per row of
# the issue's table, each made with real processes (a python3 peer, real
# signals, an unprivileged intruder, two network namespaces, a listener
# with a full backlog), each proving that its situation was really there.
# needs: lo-send lo-recv lo-serve lo-echo
source "$(dirname "$0")/lib.sh"

# python3 for the peers; /usr/bin's for the unprivileged one (a pyenv shim
# under /root is not open to uid 65534)
PY=$(command -v python3 || true)
PYSYS=
for p in /usr/bin/python3 /usr/local/bin/python3; do [ -x "$p" ] && { PYSYS=$p; break; }; done


# within MS CMD...: CMD bounded by MS ms (the kill is a failure of its own:
# exit 124 shows as such); sets DT to the ms it took.
within()
{
	local ms=$1 t0 rc
	shift
	t0=$(now_ms)
	timeout -k 1 "$(awk "BEGIN { print $ms / 1000 }")" "$@"
	rc=$?
	DT=$(($(now_ms) - t0))
	return $rc
}

# ---- row 1: a peer that half-closes at once and never reads ----

cat >"$T/banner.py" <<'EOF'
# banner.py PORTFILE UNREADFILE: accept one; shutdown(SHUT_WR) at once, as
# a banner server does; read nothing; 1 s later note how many bytes lie
# unread in the socket (FIONREAD) and reset (SO_LINGER 0, close)
import fcntl, os, socket, struct, sys, termios, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = s.accept()
c.shutdown(socket.SHUT_WR)
time.sleep(1)
n = struct.unpack("i", fcntl.ioctl(c, termios.FIONREAD, b"\0\0\0\0"))[0]
open(sys.argv[2], "w").write("%d\n" % n)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
EOF

# issue 16 row 1: fixed on main by the core work
t_row1_unread()
{
	begin "row 1: a peer that half-closes at once and resets unread: lo-send exit 1 (it waited for the reading, and the reset came)"
	[ -n "$PY" ] || { skip_test "python3 not installed"; return; }
	head -c 100000 /dev/urandom >"$T/file100k"
	rm -f "$T/bport" "$T/unread"
	T "$PY" "$T/banner.py" "$T/bport" "$T/unread" 2>"$T/perr" & local pp=$!
	wait_file "$T/bport" $pp || { problem "python did not listen: $(oneline "$T/perr")"; end; return; }
	local t0=$(now_ms)
	lb lo-send -p "$(cat "$T/bport")" "$T/file100k" >"$T/out" 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" "reset|unproven|not read"
	# it waited for the peer to read (1 s), not took the early EOF for an end
	[ $(( $(now_ms) - t0 )) -ge 900 ] || problem "lo-send ended after $(( $(now_ms) - t0 )) ms"
	wait $pp; rc_is 0 $? python "$T/perr"
	# the situation: the peer read none of it, the bytes lay in its socket
	has "$T/unread" '^[1-9][0-9]*$' "bytes unread at the peer"
	end
}

# ---- row 2: lo-serve dies mid-reply ----

# issue 16 row 2 (this branch): the client of a reply cut by SIGKILL,
# SIGHUP, or SIGTERM after its 1 s grace is reset (exit 1)
t_row2_killed()
{
	local sig=$1 t0 ms
	begin "row 2: lo-serve -f 4GiB killed by SIG$sig mid-reply to a slow lo-send: the client exits 1"
	[ -f "$T/big4g" ] || truncate -s 4G "$T/big4g" 2>/dev/null || { skip_test "no 4 GiB sparse file here"; return; }
	serve_start -v -f "$T/big4g" || { end; return; }
	rm -f "$T/started" "$T/crc" "$T/cerr"
	# the client reads 1 MiB, then stops reading for 2 s: lo-serve blocks mid-reply
	( lb lo-send -p "$PORT" -m x 2>"$T/cerr" |
		{ head -c 1048576 >/dev/null; echo x >"$T/started"; sleep 2; wc -c >"$T/rest"; }
	  echo "${PIPESTATUS[0]}" >"$T/crc" ) & local cp=$!
	wait_file "$T/started" $cp || { problem "no reply came"; end; return; }
	sleep 0.2
	kill -0 "$LPID" 2>/dev/null || { problem "lo-serve was not running mid-reply"; end; return; }
	t0=$(now_ms)
	kill -"$sig" "$LPID"
	wait "$SPID"; local src=$?
	ms=$(($(now_ms) - t0))
	case $sig in
	KILL) rc_is 137 "$src" "lo-serve (killed)" ;;
	HUP) rc_is 129 "$src" "lo-serve (hung up)" ;;
	TERM)
		rc_is 0 "$src" lo-serve "$T/verr"
		[ "$ms" -ge 900 ] && [ "$ms" -lt 2500 ] || problem "SIGTERM to exit: $ms ms, want its 1 s grace"
		# -v names the unfinished connection
		has "$T/verr" '^lo-serve: 127\.0\.0\.1:[0-9]+: 1 bytes in, [0-9]+ out, .*unfinished'
		;;
	esac
	T bash -c "while kill -0 $cp 2>/dev/null; do sleep 0.05; done"
	wait $cp
	rc_is 1 "$(cat "$T/crc" 2>/dev/null)" "lo-send (slow client)" "$T/cerr"
	has "$T/cerr" 'reset'
	# the situation: the reply was cut (less than 4 GiB came)
	local got
	got=$(( 1048576 + $(cat "$T/rest" 2>/dev/null || echo 0) ))
	[ "$got" -lt 4294967296 ] || problem "the whole 4 GiB arrived: nothing was cut"
	end
}

# ---- rows 3, 4, 5: refused at startup ----

# refused EXIT WORD ARGS...: lo-serve -p 0 -P FILE ARGS exits EXIT at once
# with one line naming WORD, and never listens
refused()
{
	local want=$1 word=$2 lab
	shift 2
	lab="lo-serve $*"
	lab=${lab:0:60}	# a 65,508-byte REPLY is no label
	rm -f "$T/rport2"
	within 2000 "$LOOPBOX" lo-serve -p 0 -P "$T/rport2" "$@" >"$T/out" 2>"$T/err"
	rc_is "$want" $? "$lab" "$T/err"
	lines "$T/err" 1 "$lab"
	has "$T/err" "^lo-serve: .*$word" "$lab"
	[ ! -e "$T/rport2" ] || problem "$lab listened"
}

# starts ARGS...: lo-serve ARGS listens (and is stopped again)
starts()
{
	serve_start "$@" || return 1
	kill -TERM "$LPID" 2>/dev/null
	wait "$SPID"
}

# issue 16 row 3 (this branch)
t_row3_prog()
{
	begin "row 3: -e PROG that is missing, not executable, a directory, or not in PATH: exit 1 at once, nothing listens"
	printf '#!/bin/sh\necho hi\n' >"$T/mode644"; chmod 644 "$T/mode644"
	mkdir -p "$T/adir"
	# the situation: the file is there and not executable, the directory is there
	[ -f "$T/mode644" ] && [ ! -x "$T/mode644" ] || problem "mode644 is not a non-executable file"
	refused 1 /nonexistent -e /nonexistent
	(cd "$T" && refused 1 '\./mode644' -e ./mode644; [ -z "$TERR" ] || echo "$TERR" >"$T/sub")
	[ -s "$T/sub" ] && problem "$(cat "$T/sub")"; rm -f "$T/sub"
	refused 1 "$T/adir" -e "$T/adir"
	refused 1 /tmp -e /tmp
	refused 1 nosuchprog-xyz -e nosuchprog-xyz
	# what can run still starts: by path, and through PATH
	starts -e "$(command -v true)" || problem "-e /path/to/true did not start"
	starts -e true || problem "-e true did not start"
	end
}

# issue 16 row 4 (this branch)
t_row4_file()
{
	begin "row 4: -f DIRECTORY exit 1 at once; -f FIFO starts and serves what its writer writes"
	refused 1 /tmp -f /tmp
	refused 1 "$T/adir" -f "$T/adir"
	rm -f "$T/fifo4"; mkfifo "$T/fifo4"
	serve_start -f "$T/fifo4" || { end; return; }
	# the writer: fd 7 (opened read-write, so no open() blocks) holds the
	# FIFO and its line while the client comes; its close is the reply's end
	exec 7<>"$T/fifo4"
	echo from-the-fifo >&7
	rm -f "$T/out"
	lb lo-send -p "$PORT" -m x >"$T/out" 2>"$T/err" 7>&- & local cp=$!
	wait_file "$T/out" $cp || problem "no reply while the writer holds the FIFO"
	sleep 0.1
	kill -0 $cp 2>/dev/null || problem "lo-send ended before the writer closed the FIFO"
	exec 7>&-
	wait $cp; rc_is 0 $? "lo-send (FIFO)" "$T/err"
	content "$T/out" $'from-the-fifo\n'
	kill -TERM "$LPID"; wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	end
}

# issue 16 row 5 (this branch)
t_row5_udp()
{
	begin "row 5: -u -m over 65,507 B: exit 2 at once; 65,507 B starts and answers; -u -f over it: exit 1"
	[ -n "$PY" ] || { skip_test "python3 not installed"; return; }
	local big ok
	big=$(head -c 65508 /dev/zero | tr '\0' a)
	ok=${big:1}
	refused 2 -m -u -m "$big"
	printf '%s' "$big" >"$T/udp65508"
	refused 1 "$T/udp65508" -u -f "$T/udp65508"
	serve_start -u -m "$ok" || { end; return; }
	T "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
print(len(s.recvfrom(70000)[0]))' "$PORT" >"$T/out" 2>"$T/err"
	rc_is 0 $? "UDP client" "$T/err"
	content "$T/out" $'65507\n'
	kill -TERM "$LPID"; wait "$SPID"; rc_is 0 $? lo-serve "$T/verr"
	end
}

# ---- row 6: a UNIX path in use from another network namespace ----

# issue 16 row 6: fixed on main by the core work
t_row6_netns()
{
	begin "row 6: lo-serve -U PATH in use by a server in another netns: the second exits 1, the first still answers"
	netns_ok || { skip_test "unshare -n not permitted here"; return; }
	local sock=$T/x.sock
	rm -f "$sock"
	netns true "$LOOPBOX" lo-serve -U "$sock" -m one >/dev/null 2>"$T/e1" & local p1=$!
	local i
	for i in $(seq 250); do [ -S "$sock" ] && break; sleep 0.02; done
	lb lo-send -w 3 -U "$sock" -m ping >"$T/out" 2>"$T/err"; rc_is 0 $? "lo-send to the first" "$T/err"
	content "$T/out" one
	# the situation: the first lives in a network namespace of its own
	local l1
	l1=$(kid "$p1")
	[ -n "$l1" ] && [ "$(readlink /proc/"$l1"/ns/net)" != "$(readlink /proc/self/ns/net)" ] ||
		problem "the first lo-serve is not in a namespace of its own"
	within 3000 unshare -n "$LOOPBOX" lo-serve -U "$sock" -m two >/dev/null 2>"$T/e2"
	rc_is 1 $? "second lo-serve (other netns)" "$T/e2"
	has "$T/e2" "in use"
	lb lo-send -U "$sock" -m ping >"$T/out" 2>"$T/err"; rc_is 0 $? "lo-send to the first, after" "$T/err"
	content "$T/out" one
	[ -n "$l1" ] && kill -TERM "$l1" 2>/dev/null
	wait $p1
	end
}

# ---- row 7: an unprivileged intruder on the self-test's listeners ----

cat >"$T/intruder.py" <<'EOF'
# intruder.py SECS: for SECS, connect to every new loopback TCP listener
# (polled in /proc/net/tcp and tcp6) and hold the connection, sending nothing
import socket, sys, time
end = time.time() + float(sys.argv[1])
seen, held = set(), []
def listeners(path):
    try:
        with open(path) as f:
            rows = f.read().split("\n")[1:]
    except OSError:
        return []
    return [int(r.split()[1].split(":")[1], 16) for r in rows if r.split()[3:4] == ["0A"]]
print("ready", flush=True)
while time.time() < end:
    for fam, path, host in ((socket.AF_INET, "/proc/net/tcp", "127.0.0.1"),
                            (socket.AF_INET6, "/proc/net/tcp6", "::1")):
        for port in listeners(path):
            if (fam, port) in seen:
                continue
            seen.add((fam, port))
            try:
                s = socket.socket(fam)
                s.settimeout(0.5)
                s.connect((host, port))
                held.append(s)
                print("connected", host, port, flush=True)
            except OSError as e:
                print("failed", host, port, e, flush=True)
EOF

# issue 16 row 7: fixed on main by the core work
t_row7_intruder()
{
	begin "row 7: the self-test passes while an unprivileged intruder connects to each new loopback listener"
	netns_lo_ok || { skip_test "no network namespace with lo up here"; return; }
	have_cmd setpriv || { skip_test "no setpriv"; return; }
	[ -n "$PYSYS" ] || { skip_test "no system python3 for uid 65534"; return; }
	[ "$(id -u)" = 0 ] || { skip_test "needs root (setpriv to uid 65534)"; return; }
	# in a namespace of its own: the intruder must not touch other listeners
	netns "ip link set lo up" sh -c '
		setpriv --reuid=65534 --regid=65534 --clear-groups "$1" -c "$(cat "$2")" 12 >"$3" 2>&1 &
		ip=$!
		i=0; while [ $i -lt 200 ] && ! grep -qs ready "$3"; do sleep 0.02; i=$((i + 1)); done
		"$4" lo-echo -c 3000 >"$5" 2>&1; echo $? >"$6"
		kill $ip; wait $ip 2>/dev/null' 2>/dev/null sh "$PYSYS" "$T/intruder.py" "$T/intr" "$LOOPBOX" "$T/eout" "$T/erc"
	rc_is 0 "$(cat "$T/erc" 2>/dev/null)" "lo-echo self-test" "$T/eout"
	# the situation: the intruder (uid 65534) got in while the test ran
	has "$T/intr" '^connected ' "the intruder's log"
	end
}

# ---- row 8: a dual-stack client on ::ffff:127.0.0.1 ----

# issue 16 row 8 (this branch)
t_row8_mapped()
{
	begin "row 8: lo-serve -A UID admits its user's AF_INET6 client on ::ffff:127.0.0.1"
	[ -n "$PY" ] || { skip_test "python3 not installed"; return; }
	ipv6_ok || { skip_test "no IPv6 here (no dual-stack socket)"; return; }
	cat >"$T/mapped.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.settimeout(5)
s.connect(("::ffff:127.0.0.1", int(sys.argv[1])))
sys.stderr.write("from %s\n" % s.getsockname()[0])
s.sendall(b"x")
s.shutdown(socket.SHUT_WR)
b = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    b += d
sys.stdout.write(b.decode())
EOF
	serve_start -v -A "$(id -u)" -m pong || { end; return; }
	T "$PY" "$T/mapped.py" "$PORT" >"$T/out" 2>"$T/err"; rc_is 0 $? "AF_INET6 client" "$T/err"
	content "$T/out" pong
	# the situation: the client's socket was AF_INET6, on ::ffff:127.0.0.1
	has "$T/err" '^from ::ffff:127\.0\.0\.1$'
	lacks "$T/verr" 'refused'
	kill -TERM "$LPID"; wait "$SPID"
	# and -A is at work: a list without our uid refuses the same client
	serve_start -v -A 4242 -m pong || { end; return; }
	T "$PY" "$T/mapped.py" "$PORT" >"$T/out" 2>"$T/err"
	empty "$T/out" "reply to a user not admitted"
	has "$T/verr" "refused \(uid $(id -u)\)"
	kill -TERM "$LPID"; wait "$SPID"
	end
}

# ---- row 9: a listener whose backlog is full ----

cat >"$T/full.py" <<'EOF'
# full.py unix PATH READY | tcp PORTFILE READY: a listener (backlog 1) that
# never accepts, its queue filled by connections of its own; held 30 s
import os, socket, sys, time
kind, where, ready = sys.argv[1:4]
if kind == "unix":
    fam, addr = socket.AF_UNIX, where
else:
    fam, addr = socket.AF_INET, ("127.0.0.1", 0)
l = socket.socket(fam)
l.bind(addr)
l.listen(1)
addr = l.getsockname()
held = []
for i in range(8):
    s = socket.socket(fam)
    s.setblocking(False)
    try:
        s.connect(addr)
    except (BlockingIOError, InterruptedError):
        pass
    held.append(s)
if kind != "unix":
    open(where + ".tmp", "w").write("%d\n" % addr[1])
    os.rename(where + ".tmp", where)
time.sleep(0.3)                 # the SYNs beyond the queue are dropped by now
open(ready, "w").write("ready\n")
time.sleep(30)
EOF

# plain_blocks FAM ADDR: a plain blocking connect to it does not finish in 1 s
plain_blocks()
{
	T "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX if sys.argv[1] == "unix" else socket.AF_INET)
s.settimeout(1)
try:
    s.connect(sys.argv[2] if sys.argv[1] == "unix" else ("127.0.0.1", int(sys.argv[2])))
except socket.timeout:
    sys.exit(3)
except BlockingIOError:
    sys.exit(3)
' "$1" "$2" 2>/dev/null
	[ $? = 3 ]
}

# issue 16 row 9: fixed on main by the core work
t_row9_backlog()
{
	begin "row 9: -t 2 against a listener with a full backlog ends (exit 4) within 6 s: UNIX and TCP"
	[ -n "$PY" ] || { skip_test "python3 not installed"; return; }
	local sock=$T/full.sock
	rm -f "$sock" "$T/ready"
	T "$PY" "$T/full.py" unix "$sock" "$T/ready" 2>"$T/perr" & local pp=$!
	wait_file "$T/ready" $pp || { problem "python did not listen: $(oneline "$T/perr")"; end; return; }
	# the situation: the queue is full, a plain connect blocks
	plain_blocks unix "$sock" || problem "the UNIX backlog is not full: a plain connect went through"
	within 8000 "$LOOPBOX" lo-send -t 2 -U "$sock" -m x >/dev/null 2>"$T/err"
	rc_is 4 $? "lo-send -t 2 -U" "$T/err"
	[ "$DT" -lt 6000 ] || problem "lo-send -t 2 -U took $DT ms"
	within 8000 "$LOOPBOX" lo-send -w 2 -U "$sock" -m x >/dev/null 2>"$T/err"
	local rc=$?
	[ "$rc" = 4 ] || [ "$rc" = 1 ] || problem "lo-send -w 2 -U exit $rc, want 4 or 1: $(oneline "$T/err")"
	[ "$DT" -lt 6000 ] || problem "lo-send -w 2 -U took $DT ms"
	within 8000 "$LOOPBOX" lo-echo -t 2 -U "$sock" >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" = 4 ] || [ "$rc" = 1 ] || problem "lo-echo -t 2 -U exit $rc, want 4 or 1: $(oneline "$T/err")"
	[ "$DT" -lt 6000 ] || problem "lo-echo -t 2 -U took $DT ms"
	killtree $pp; wait $pp 2>/dev/null
	rm -f "$T/ready" "$T/fport"
	T "$PY" "$T/full.py" tcp "$T/fport" "$T/ready" 2>"$T/perr" & pp=$!
	wait_file "$T/ready" $pp || { problem "python did not listen (TCP): $(oneline "$T/perr")"; end; return; }
	local port
	port=$(cat "$T/fport")
	plain_blocks tcp "$port" || problem "the TCP accept queue is not full: a plain connect went through"
	within 8000 "$LOOPBOX" lo-send -t 2 -p "$port" -m x >/dev/null 2>"$T/err"
	rc_is 4 $? "lo-send -t 2 (TCP)" "$T/err"
	[ "$DT" -lt 6000 ] || problem "lo-send -t 2 (TCP) took $DT ms"
	killtree $pp; wait $pp 2>/dev/null
	end
}

# ---- row 10: -o FIFO with no reader ----

# issue 16 row 10: fixed on main by the core work
t_row10_fifo_out()
{
	begin "row 10: lo-recv -t 1 -o FIFO with no reader: listens (-P written), exit 4 within 4 s"
	rm -f "$T/fifo10" "$T/pf10"
	mkfifo "$T/fifo10"
	# the situation: nobody has the FIFO open (it was just made, and is never opened here)
	within 4000 "$LOOPBOX" lo-recv -p 0 -P "$T/pf10" -t 1 -o "$T/fifo10" >/dev/null 2>"$T/err"
	rc_is 4 $? "lo-recv -o FIFO" "$T/err"
	[ -s "$T/pf10" ] || problem "the port file was not written"
	[ "$DT" -lt 4000 ] || problem "took $DT ms"
	end
}

# ---- row 11: the broadcast address ----

# issue 16 row 11: fixed on main by the core work
t_row11_broadcast()
{
	begin "row 11: -a 127.255.255.255 is refused: exit 2, one line, within 2 s"
	within 2000 "$LOOPBOX" lo-recv -p 0 -a 127.255.255.255 >/dev/null 2>"$T/err"
	rc_is 2 $? "lo-recv -a 127.255.255.255" "$T/err"
	lines "$T/err" 1 "lo-recv"
	within 2000 "$LOOPBOX" lo-send -p 1 -a 127.255.255.255 -m x >/dev/null 2>"$T/err"
	rc_is 2 $? "lo-send -a 127.255.255.255" "$T/err"
	lines "$T/err" 1 "lo-send"
	# the contrast: the address below it is loopback and taken
	within 2000 "$LOOPBOX" lo-recv -p 0 -a 127.255.255.254 -t 0.1 >/dev/null 2>"$T/err"
	rc_is 4 $? "lo-recv -a 127.255.255.254 -t 0.1" "$T/err"
	end
}

# ONLY=WORD bash tests/t-promise.sh: the tests whose call has WORD
for t in "t_row1_unread" "t_row2_killed KILL" "t_row2_killed HUP" "t_row2_killed TERM" \
	"t_row3_prog" "t_row4_file" "t_row5_udp" "t_row6_netns" "t_row7_intruder" \
	"t_row8_mapped" "t_row9_backlog" "t_row10_fifo_out" "t_row11_broadcast"; do
	case $t in *"${ONLY:-}"*) $t ;; esac
done
