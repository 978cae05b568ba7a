# t-faults.sh - what goes wrong, and that BOTH ends say so: an output
# that cannot be written, a peer that resets or is killed, lo down,
# 127.0.0.1 missing, IPv6 off. lo-send exits 0 only when lo-recv stored
# every byte.
# needs: lo-send lo-recv
source "$(dirname "$0")/lib.sh"

head -c 4M /dev/urandom >"$T/data"
head -c 16M /dev/urandom >"$T/big"

t_full()
{
	local how=$1
	begin "lo-recv $how /dev/full: lo-recv exit 1 and lo-send exit 1"
	if [ "$how" = ">" ]; then
		rm -f "$T/rport"
		lb lo-recv -p 0 -P "$T/rport" >/dev/full 2>"$T/rerr" & RPID=$!
		wait_file "$T/rport" $RPID || { problem "lo-recv did not listen: $(oneline "$T/rerr")"; end; return; }
		PORT=$(cat "$T/rport")
	else
		recv_start -o /dev/full || { end; return; }
	fi
	lb lo-send -p "$PORT" "$T/data" >/dev/null 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" "^lo-send: 127\.0\.0\.1:$PORT: .*(reset|pipe).*\([0-9]+ bytes sent"
	lines "$T/serr" 1
	recv_wait; rc_is 1 "$RRC" lo-recv "$T/rerr"
	has "$T/rerr" "^lo-recv: (stdout|/dev/full): no space"
	lines "$T/rerr" 1
	end
}

t_closed_pipe()
{
	local src=$1
	begin "lo-recv | a reader that closed ($src): lo-recv exit 1 and lo-send exit 1"
	rm -f "$T/rport" "$T/gone" "$T/ps"
	(
		lb lo-recv -p 0 -P "$T/rport" 2>"$T/rerr" | { exec <&-; echo gone >"$T/gone"; }
		echo "${PIPESTATUS[0]}" >"$T/ps"
	) & local pp=$!
	if wait_file "$T/rport" $pp && wait_file "$T/gone" $pp; then
		if [ "$src" = message ]; then
			lb lo-send -p "$(cat "$T/rport")" -m "nobody reads this" >/dev/null 2>"$T/serr"
		else
			lb lo-send -p "$(cat "$T/rport")" "$T/data" >/dev/null 2>"$T/serr"
		fi
		rc_is 1 $? lo-send "$T/serr"
		# (a reset that lands before lo-send's shutdown() reads "not connected")
		has "$T/serr" '(reset|pipe|not connected).*\([0-9]+ bytes sent'
		lines "$T/serr" 1
	else
		problem "lo-recv did not listen: $(oneline "$T/rerr")"
	fi
	T bash -c "while kill -0 $pp 2>/dev/null; do sleep 0.02; done"
	wait $pp
	rc_is 1 "$(cat "$T/ps" 2>/dev/null)" lo-recv "$T/rerr"
	has "$T/rerr" '^lo-recv: stdout: broken pipe'
	lines "$T/rerr" 1
	end
}

t_py_reset()
{
	begin "a peer that resets mid-transfer: lo-send exit 1, the byte count in its message"
	have_cmd python3 || { skip_test "python3 not installed"; return; }
	cat >"$T/reset.py" <<'EOF'
import os, socket, struct, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = s.accept()
n = 0
while n < 100000:
    n += len(c.recv(65536))
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
EOF
	rm -f "$T/ppf"
	T python3 "$T/reset.py" "$T/ppf" 2>"$T/perr" & local pp=$!
	wait_file "$T/ppf" $pp || { problem "python did not listen: $(oneline "$T/perr")"; end; return; }
	lb lo-send -p "$(cat "$T/ppf")" "$T/big" >/dev/null 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" '^lo-send: 127\.0\.0\.1:[0-9]+: .*(reset|pipe)[a-z ]* \([1-9][0-9]* bytes sent, 0 received\)$'
	lines "$T/serr" 1
	wait $pp; rc_is 0 $? python "$T/perr"
	end
}

# got_size BYTES: $T/got holds BYTES, or (lo-recv -o, mid-transfer) the
# new file beside it that replaces it only at the end does (10 s at most)
got_size()
{
	local i f
	for i in $(seq 500); do
		for f in "$T/got" "$T"/got.????????????????; do
			[ -f "$f" ] && [ "$(stat -c %s "$f")" -ge "$1" ] && return 0
		done
		sleep 0.02
	done
	return 1
}

# feed: lo-send's stdin is the FIFO $T/fifo, held open on fd 7, so the
# transfer is mid-way for as long as the test wants.
t_kill_recv()
{
	begin "kill -9 of lo-recv mid-transfer: lo-send exit 1"
	rm -f "$T"/got*
	recv_start -o "$T/got" || { end; return; }
	rm -f "$T/fifo"; mkfifo "$T/fifo"
	lb lo-send -p "$PORT" <"$T/fifo" >/dev/null 2>"$T/serr" & local sp=$!
	exec 7>"$T/fifo"
	head -c 1M "$T/data" >&7
	if got_size 1048576; then
		local pid
		pid=$(kid "$RPID") && kill -9 "$pid"
	else
		problem "the first MiB did not arrive"
	fi
	recv_wait; rc_is 137 "$RRC" "lo-recv (killed)"
	wait $sp; rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" '^lo-send: 127\.0\.0\.1:[0-9]+: .*reset.*\(1048576 bytes sent, 0 received\)'
	exec 7>&-
	end
}

t_kill_send()
{
	local out=$1
	begin "kill -9 of lo-send mid-transfer: lo-recv exit 1 (a reset, not an end) ($out)"
	# (a lo-recv -o killed by SIGKILL leaves its new file: got_size must
	# not find the one t_kill_recv left)
	rm -f "$T"/got*
	if [ "$out" = pipe ]; then
		rm -f "$T/rport" "$T/ps"
		( lb lo-recv -p 0 -P "$T/rport" 2>"$T/rerr" | cat >"$T/got"; echo "${PIPESTATUS[0]}" >"$T/ps" ) & RPID=$!
		wait_file "$T/rport" $RPID || { problem "lo-recv did not listen"; end; return; }
		PORT=$(cat "$T/rport")
	else
		recv_start -o "$T/got" || { end; return; }
	fi
	rm -f "$T/fifo"; mkfifo "$T/fifo"
	lb lo-send -p "$PORT" <"$T/fifo" >/dev/null 2>"$T/serr" & local sp=$!
	exec 7>"$T/fifo"
	head -c 1M "$T/data" >&7
	if got_size 1048576; then
		local pid
		pid=$(kid "$sp") && kill -9 "$pid"
	else
		problem "the first MiB did not arrive"
	fi
	wait $sp; rc_is 137 $? "lo-send (killed)"
	exec 7>&-
	T bash -c "while kill -0 $RPID 2>/dev/null; do sleep 0.02; done"
	wait $RPID; RRC=$?
	[ "$out" = pipe ] && RRC=$(cat "$T/ps" 2>/dev/null)
	rc_is 1 "$RRC" lo-recv "$T/rerr"
	has "$T/rerr" '^lo-recv: 127\.0\.0\.1:[0-9]+: .*reset.*\(0 bytes sent, 1048576 received\)'
	lines "$T/rerr" 1
	end
}

t_stalled_out()
{
	begin "lo-recv -t 1 whose output pipe stalls: gives up (exit 4), lo-send exit 1"
	rm -f "$T/rport" "$T/ps"
	( lb lo-recv -t 1 -p 0 -P "$T/rport" 2>"$T/rerr" | sleep 6; echo "${PIPESTATUS[0]}" >"$T/ps" ) & local pp=$!
	wait_file "$T/rport" $pp || { problem "lo-recv did not listen"; end; return; }
	local t0 dt
	t0=$(now_ms)
	lb lo-send -p "$(cat "$T/rport")" "$T/big" >/dev/null 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	dt=$(($(now_ms) - t0))
	[ "$dt" -lt 4000 ] || problem "lo-send took $dt ms: -t 1 did not fire"
	T bash -c "while kill -0 $pp 2>/dev/null; do sleep 0.02; done"
	wait $pp
	rc_is 4 "$(cat "$T/ps" 2>/dev/null)" lo-recv "$T/rerr"
	has "$T/rerr" 'idle timeout'
	end
}

# ---- the loopback itself unavailable (network namespaces) ----

t_lo_down()
{
	begin "lo down: lo-send and lo-recv exit 3, naming the cause and the fix"
	netns true "$LOOPBOX" lo-send -p 9 -m x >"$T/out" 2>"$T/serr"; rc_is 3 $? lo-send "$T/serr"
	netns true "$LOOPBOX" lo-recv -p 0 >>"$T/out" 2>"$T/rerr"; rc_is 3 $? lo-recv "$T/rerr"
	netns true "$LOOPBOX" lo-recv -p 8080 -t 5 >>"$T/out" 2>"$T/rerr2"; rc_is 3 $? "lo-recv -p 8080" "$T/rerr2"
	for f in serr rerr rerr2; do
		has "$T/$f" 'lo is down'
		has "$T/$f" 'ip link set lo up'
		lines "$T/$f" 1
	done
	empty "$T/out"
	end
}

t_lo_down6()
{
	begin "lo down, -6: lo-send and lo-recv exit 3, naming the cause"
	netns true "$LOOPBOX" lo-send -6 -p 9 -m x >/dev/null 2>"$T/serr"; rc_is 3 $? lo-send "$T/serr"
	netns true "$LOOPBOX" lo-recv -6 -p 0 >/dev/null 2>"$T/rerr"; rc_is 3 $? lo-recv "$T/rerr"
	has "$T/serr" 'lo is down'
	has "$T/rerr" 'lo is down'
	end
}

t_lo_down_unix()
{
	begin "lo down: UNIX sockets still work (-U)"
	local s=$T/down.sock
	cat >"$T/down.sh" <<'EOF'
"$1" lo-recv -U "$2" -m back >"$3.rout" 2>"$3.rerr" & r=$!
"$1" lo-send -w 5 -U "$2" -m there >"$3.sout" 2>"$3.serr"; s=$?
wait $r; echo "$s $?"
EOF
	netns true sh "$T/down.sh" "$LOOPBOX" "$s" "$T/dn" >"$T/codes" 2>&1
	content "$T/codes" $'0 0\n' "exit codes (send, recv)"
	content "$T/dn.rout" there
	content "$T/dn.sout" back
	end
}

t_no_127()
{
	begin "lo up without 127.0.0.1: exit 3, says it is not assigned and how to add it"
	local setup='ip link set lo up && ip addr del 127.0.0.1/8 dev lo'
	netns "$setup" "$LOOPBOX" lo-send -p 9 -m x >/dev/null 2>"$T/serr"; rc_is 3 $? lo-send "$T/serr"
	netns "$setup" "$LOOPBOX" lo-recv -p 0 >/dev/null 2>"$T/rerr"; rc_is 3 $? lo-recv "$T/rerr"
	for f in serr rerr; do
		has "$T/$f" 'not assigned'
		has "$T/$f" 'ip addr add 127\.0\.0\.1/8 dev lo'
		lines "$T/$f" 1
	done
	end
}

t_no_ipv6()
{
	begin "::1 with IPv6 disabled on lo: exit 3 naming ::1; 127.0.0.1 still works"
	local setup='ip link set lo up && echo 1 >/proc/sys/net/ipv6/conf/lo/disable_ipv6'
	if ! unshare -n sh -c "$setup" 2>/dev/null; then skip_test "cannot disable IPv6 in a namespace"; return; fi
	netns "$setup" "$LOOPBOX" lo-send -6 -p 9 -m x >/dev/null 2>"$T/serr"; rc_is 3 $? "lo-send -6" "$T/serr"
	netns "$setup" "$LOOPBOX" lo-recv -6 -p 0 >/dev/null 2>"$T/rerr"; rc_is 3 $? "lo-recv -6" "$T/rerr"
	for f in serr rerr; do
		has "$T/$f" '::1 is not available'
		has "$T/$f" 'disable_ipv6=0'
		lines "$T/$f" 1
	done
	netns "$setup" "$LOOPBOX" lo-recv -p 0 -t 0.1 >/dev/null 2>"$T/rerr"; rc_is 4 $? "lo-recv on 127.0.0.1" "$T/rerr"
	end
}

t_full ">"
t_full "-o"
t_closed_pipe message
t_closed_pipe "4 MiB"
t_py_reset
t_kill_recv
t_kill_send file
t_kill_send pipe
t_stalled_out
if netns_ok && have_cmd ip; then
	t_lo_down
	t_lo_down6
	t_lo_down_unix
	t_no_127
	t_no_ipv6
else
	for t in "lo down" "lo down -6" "lo down UNIX" "no 127.0.0.1" "no IPv6"; do
		skip "$t" "unshare -n or ip not available"
	done
fi
