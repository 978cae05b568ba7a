# t-udp.sh - lo-send -u and lo-recv -u: datagrams a line each, round trips
# over 127.0.0.1 and ::1, "nobody listens", -w, -c, -t, -v, -o, over-long
# lines, usage errors, and python3 and socat as the peer on either side.
# needs: lo-send lo-recv
source "$(dirname "$0")/lib.sh"

# udp_port: a UDP port on 127.0.0.1 nothing is bound to (the kernel's pick)
udp_port()
{
	local f=$T/ufree.$RANDOM
	lb lo-recv -u -q -p 0 -P "$f" -t 0.001 2>/dev/null
	[ -s "$f" ] || return 1
	cat "$f"
	rm -f "$f"
}

t_round_trip()	# ADDR-OPTION...: lines through lo-send -u to lo-recv -u
{
	begin "lo-send -u to lo-recv -u${*:+ $*}: lines (an empty one, a last without newline) byte-exact"
	recv_start -u -c 5 "$@" || { end; return; }
	printf 'one\n\nthree: 3|c\n \tfour\nlast' | lb lo-send -u -p "$PORT" "$@" >"$T/sout" 2>"$T/serr"
	rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'one\n\nthree: 3|c\n \tfour\nlast\n'
	empty "$T/sout"; empty "$T/serr"; empty "$T/rerr"
	end
}
t_round_trip
if ipv6_ok; then t_round_trip -6; else skip "round trip over ::1" "no ::1 here"; fi

t_message_files()
{
	begin "-m is one datagram as it stands (newline inside); FILEs: a datagram a line, never joined"
	recv_start -u -c 4 || { end; return; }
	lb lo-send -u -p "$PORT" -m $'a\nb' 2>"$T/serr"; rc_is 0 $? "lo-send -m" "$T/serr"
	printf 'f1\nno newline' >"$T/f1"; printf 'f2\n' >"$T/f2"
	lb lo-send -u -p "$PORT" "$T/f1" "$T/f2" 2>"$T/serr"; rc_is 0 $? "lo-send FILEs" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'a\nb\nf1\nno newline\nf2\n'
	end
}
t_message_files

t_nobody()
{
	begin "nobody listens: exit 1, one line 'lo-send: 127.0.0.1:PORT/udp: nobody listens'"
	P=$(udp_port) || problem "no free port"
	lb lo-send -u -p "$P" -m "requests:1|c" >"$T/sout" 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	content "$T/serr" "lo-send: 127.0.0.1:$P/udp: nobody listens"$'\n'
	echo "requests:1|c" | lb lo-send -u -p "$P" 2>"$T/serr"; rc_is 1 $? "lo-send (stdin)" "$T/serr"
	lines "$T/serr" 1
	if ipv6_ok; then
		lb lo-send -u -6 -p "$P" -m x 2>"$T/serr"; rc_is 1 $? "lo-send -6" "$T/serr"
		has "$T/serr" "^lo-send: \[::1\]:$P/udp: nobody listens$"
	fi
	empty "$T/sout"
	end
}
t_nobody

t_gone()
{
	begin "a receiver gone mid-stream: the next datagram is refused, exit 1"
	recv_start -u -c 1 || { end; return; }
	{ echo first; wait_gone "$RPID"; echo second; } | lb lo-send -u -p "$PORT" 2>"$T/serr"
	rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" "^lo-send: 127.0.0.1:$PORT/udp: nobody listens$"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'first\n'
	end
}
t_gone

t_wait()
{
	begin "-w: a refused first datagram is sent again until a receiver binds; exit 4 when the window ends"
	P=$(udp_port) || problem "no free port"
	lb lo-send -u -w 10 -p "$P" -m waited 2>"$T/serr" & spid=$!
	sleep 0.3
	recv_bg -u -p "$P" -c 1
	wait $spid; rc_is 0 $? "lo-send -w" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'waited\n'
	t0=$(now_ms)
	lb lo-send -u -w 0.3 -p "$P" -m x 2>"$T/serr"; rc_is 4 $? "lo-send -w 0.3, nobody" "$T/serr"
	[ $(( $(now_ms) - t0 )) -ge 250 ] || problem "gave up before the window ended"
	has "$T/serr" "^lo-send: 127.0.0.1:$P/udp: nobody listens \(the -w window ran out\)$"
	end
}
t_wait

t_long()
{
	begin "a line of 65,507 bytes goes; one of 65,508 is exit 1, named; -m over it exit 2"
	recv_start -u -c 1 -o "$T/big" || { end; return; }
	head -c 65507 /dev/zero | tr '\0' x >"$T/l65507"
	lb lo-send -u -p "$PORT" "$T/l65507" 2>"$T/serr"; rc_is 0 $? "lo-send 65507" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	same "$T/big" <(cat "$T/l65507"; echo)
	{ echo short; cat "$T/l65507"; echo y; echo never; } >"$T/l65508"
	recv_start -u -c 1 || { end; return; }
	lb lo-send -u -p "$PORT" "$T/l65508" 2>"$T/serr"; rc_is 1 $? "lo-send 65508" "$T/serr"
	content "$T/serr" "lo-send: $T/l65508: a line longer than a UDP datagram carries (65507 bytes)"$'\n'
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'short\n'
	P=$(udp_port) || problem "no free port"
	lb lo-send -u -p "$P" -m "$(cat "$T/l65507")y" 2>"$T/serr"; rc_is 2 $? "lo-send -m 65508" "$T/serr"
	has "$T/serr" "^lo-send: -m: message too long$"
	lb lo-send -u -p "$P" "$T/none" 2>"$T/serr"; rc_is 1 $? "lo-send missing FILE" "$T/serr"
	has "$T/serr" "^lo-send: $T/none: no such file"
	end
}
t_long

t_count()
{
	begin "lo-recv -u -c COUNT: exit 0 after COUNT datagrams; -v names each sender; -o FILE"
	recv_start -u -c 2 -v -o "$T/o" || { end; return; }
	printf 'x\ny\nz\n' | lb lo-send -u -p "$PORT" 2>"$T/serr"	# z: queued or refused
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/o" $'x\ny\n'
	empty "$T/rout"
	[ "$(grep -c "^lo-recv: datagram from 127\.0\.0\.1:[0-9]*$" "$T/rerr")" = 2 ] || problem "-v: $(oneline "$T/rerr")"
	has "$T/rerr" "^lo-recv: listening on 127\.0\.0\.1:$PORT$"
	end
}
t_count

t_idle()
{
	begin "lo-recv -u -t: exit 4 after SECS of silence, what came kept, one line"
	recv_start -u -t 0.5 || { end; return; }
	lb lo-send -u -p "$PORT" -m before 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 4 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'before\n'
	has "$T/rerr" "^lo-recv: 127\.0\.0\.1:$PORT: idle timeout: no datagram came$"
	lines "$T/rerr" 1
	end
}
t_idle

t_drops()
{
	begin "lo-recv -u: datagrams the kernel dropped (its queue full) are said, exit 1"
	recv_start -u -o "$T/o" || { end; return; }
	LPID=$(kid "$RPID")
	kill -STOP "$LPID"
	seq 200000 | lb lo-send -u -p "$PORT" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	kill -CONT "$LPID"
	recv_wait; rc_is 1 "$RRC" lo-recv "$T/rerr"
	has "$T/rerr" "^lo-recv: 127\.0\.0\.1:$PORT: [0-9]+ datagrams lost: the receive queue was full$"
	lines "$T/rerr" 1
	end
}
t_drops

t_full()
{
	begin "lo-recv -u: a failed output write is exit 1, named"
	recv_start -u -o /dev/full || { end; return; }
	lb lo-send -u -p "$PORT" -m lost 2>"$T/serr"
	recv_wait; rc_is 1 "$RRC" lo-recv "$T/rerr"
	has "$T/rerr" "^lo-recv: /dev/full: no space left on device$"
	end
}
t_full

t_inuse()
{
	begin "lo-recv -u: a port already bound is 'address already in use', exit 1"
	recv_start -u -t 5 || { end; return; }
	lb lo-recv -u -p "$PORT" -t 1 2>"$T/err2"; rc_is 1 $? "second lo-recv -u" "$T/err2"
	has "$T/err2" "^lo-recv: 127\.0\.0\.1:$PORT: address already in use$"
	lb lo-send -u -p "$PORT" -m still-mine 2>"$T/serr"
	kill "$(kid "$RPID")" 2>/dev/null; recv_wait
	content "$T/rout" $'still-mine\n'
	end
}
t_inuse

t_signal()
{
	begin "lo-recv -u: SIGTERM while it waits, and while its output is stalled, ends it"
	recv_start -u || { end; return; }
	kill -TERM "$(kid "$RPID")"
	recv_wait; rc_is 143 "$RRC" "lo-recv (waiting)" "$T/rerr"
	rm -f "$T/fifo"; mkfifo "$T/fifo"
	T sleep 30 <>"$T/fifo" & hold=$!	# a reader that never reads
	recv_start -u -o "$T/fifo" || { end; return; }
	head -c 60000 /dev/zero | tr '\0' x >"$T/l60k"
	for _ in 1 2 3 4 5 6; do echo >>"$T/l60k"; head -c 60000 /dev/zero | tr '\0' x >>"$T/l60k"; done
	lb lo-send -u -p "$PORT" "$T/l60k" 2>"$T/serr"
	sleep 0.2
	kill -TERM "$(kid "$RPID")"
	recv_wait; rc_is 143 "$RRC" "lo-recv (output stalled)" "$T/rerr"
	killtree "$hold"; wait "$hold" 2>/dev/null
	end
}
t_signal

t_usage()
{
	begin "usage errors with -u: exit 2, one line each"
	for args in "lo-send -u -z" "lo-send -u -t 1 -m x" "lo-recv -u -m x" "lo-recv -u -k" "lo-recv -u -U $T/s" "lo-send -u -U $T/s -m x"; do
		# shellcheck disable=SC2086
		lb $args -p 1 >/dev/null 2>"$T/err"; rc_is 2 $? "$args" "$T/err"
		lines "$T/err" 1
		has "$T/err" "conflicts with" "$args"
	done
	end
}
t_usage

# ---- python3 and socat as the peer ----

# py_recv N: python3 bound to a free UDP port P on 127.0.0.1 in the
# background (ppid), printing the repr of N datagrams into $T/py
py_recv()
{
	P=$(udp_port) || { problem "no free port"; return 1; }
	rm -f "$T/ready"
	T python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").write("ready")
s.settimeout(10)
for i in range(int(sys.argv[3])):
    print(repr(s.recv(70000)), flush=True)' "$P" "$T/ready" "$1" >"$T/py" 2>"$T/pyerr" & ppid=$!
	wait_file "$T/ready" "$ppid"
}

t_python_recv()
{
	begin "python3 receives lo-send -u's datagrams: one per line, without the newline"
	py_recv 4 || { end; return; }
	printf 'requests:1|c\n\n<13>hello\nend' | lb lo-send -u -p "$P" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $ppid; rc_is 0 $? python3 "$T/pyerr"
	content "$T/py" $'b\'requests:1|c\'\nb\'\'\nb\'<13>hello\'\nb\'end\'\n'
	end
}

t_python_send()
{
	begin "python3 sends datagrams to lo-recv -u: a newline added where there is none"
	recv_start -u -c 4 || { end; return; }
	T python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in (b"no newline", b"with\n", b"two\nlines", b""):
    s.sendto(d, ("127.0.0.1", int(sys.argv[1])))' "$PORT" 2>"$T/pyerr"; rc_is 0 $? python3 "$T/pyerr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'no newline\nwith\ntwo\nlines\n\n'
	end
}

t_socat()
{
	begin "socat receives lo-send -u -m (one datagram, as it stands); socat sends to lo-recv -u"
	P=$(udp_port) || problem "no free port"
	T socat -u UDP-RECVFROM:"$P",bind=127.0.0.1 - >"$T/so" 2>"$T/soerr" & sopid=$!
	for _ in $(seq 100); do grep -qi ":$(printf %04X "$P") " /proc/net/udp && break; sleep 0.02; done
	lb lo-send -u -p "$P" -m "hello, socat" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $sopid; rc_is 0 $? socat "$T/soerr"
	content "$T/so" "hello, socat"
	recv_start -u -c 1 || { end; return; }
	printf 'from socat' | T socat -u - UDP-SENDTO:127.0.0.1:"$PORT" 2>"$T/soerr"; rc_is 0 $? "socat send" "$T/soerr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'from socat\n'
	end
}

if have_cmd python3; then
	t_python_recv
	t_python_send
else
	skip "python3 peers" "no python3"
fi
if have_cmd socat; then t_socat; else skip "socat peers" "no socat"; fi

t_nul()
{
	begin "lo-send -u: lines with NUL bytes go out whole (python3 receives them byte-exact)"
	py_recv 3 || { end; return; }
	printf 'a\0b\n\0\n\0\0end\0' | lb lo-send -u -p "$P" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $ppid; rc_is 0 $? python3 "$T/pyerr"
	content "$T/py" $'b\'a\\x00b\'\nb\'\\x00\'\nb\'\\x00\\x00end\\x00\'\n'
	end
}

t_logger()
{
	begin "util-linux logger --udp into lo-recv -u -c 1: the syslog line arrives"
	have_cmd logger || { skip_test "no logger (util-linux)"; return; }
	logger --help 2>&1 | grep -q -- '--udp' || { skip_test "logger has no --udp"; return; }
	recv_start -u -c 1 || { end; return; }
	T logger --udp -n 127.0.0.1 -P "$PORT" -t loopbox-test "hello from logger" 2>"$T/lerr"
	rc_is 0 $? logger "$T/lerr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	lines "$T/rout" 1
	has "$T/rout" '^<[0-9]+>.* loopbox-test .*hello from logger$'
	end
}

t_nul
t_logger
