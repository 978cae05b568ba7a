# t-send-recv.sh - lo-send against lo-recv: messages, replies, -o, -k/-c,
# -P, UNIX sockets, -w, -t, refused, in use, -v and -q.
# needs: lo-send lo-recv
source "$(dirname "$0")/lib.sh"

t_message()
{
	begin "-m MESSAGE arrives byte-exact, both exit 0, nothing else printed"
	recv_start || { end; return; }
	lb lo-send -p "$PORT" -m "hello, world!" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" "hello, world!"
	empty "$T/sout"; empty "$T/serr"; empty "$T/rerr"
	end
}

t_stdin()
{
	begin "stdin, with a newline, arrives byte-exact"
	recv_start || { end; return; }
	printf 'line one\nline two\n' | lb lo-send -p "$PORT" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" $'line one\nline two\n'
	end
}

t_reply()
{
	begin "-m REPLY on lo-recv comes back on lo-send's stdout"
	recv_start -m "Hello from server" || { end; return; }
	lb lo-send -p "$PORT" -m "Hello from client" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" "Hello from client"
	content "$T/sout" "Hello from server"
	end
}

t_reply_empty()
{
	begin "-m REPLY to a client that sends nothing (at its half-close)"
	recv_start -m pong || { end; return; }
	lb lo-send -p "$PORT" </dev/null >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	empty "$T/rout"
	content "$T/sout" pong
	end
}

t_reply_big()
{
	begin "a 100 kB -m REPLY while 8 MiB come in"
	head -c 8M /dev/urandom >"$T/in"
	head -c 100000 /dev/zero | tr '\0' r >"$T/reply"	# argv: 128 KiB at most
	recv_start -m "$(cat "$T/reply")" -o "$T/got" 2>/dev/null || { end; return; }
	lb lo-send -p "$PORT" "$T/in" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	same "$T/in" "$T/got"
	same "$T/reply" "$T/sout"
	end
}

t_out()
{
	begin "-o FILE: the bytes go to FILE (truncated first), not stdout"
	echo "old content that is longer" >"$T/o"
	recv_start -o "$T/o" || { end; return; }
	lb lo-send -p "$PORT" -m new 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/o" new
	empty "$T/rout"
	end
}

t_out_bad()
{
	begin "-o into a missing directory: exit 1, names the file"
	lb lo-recv -p 0 -o "$T/no/such/file" >/dev/null 2>"$T/err"; rc_is 1 $? lo-recv "$T/err"
	has "$T/err" "^lo-recv: $T/no/such/file: no such file"
	lines "$T/err" 1
	end
}

# -k -c 3: three connections, one after another, appended in order.
t_keep()
{
	local how=$1 i
	begin "-k -c 3$how: three connections appended in order, then exit 0"
	if [ -n "$how" ]; then
		recv_start -k -c 3 -o "$T/k" || { end; return; }
	else
		recv_start -k -c 3 || { end; return; }
	fi
	for i in 1 2 3; do
		printf 'connection %s\n' $i | lb lo-send -p "$PORT" 2>"$T/serr"; rc_is 0 $? "lo-send $i" "$T/serr"
	done
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	local got=$T/rout
	[ -n "$how" ] && got=$T/k
	content "$got" $'connection 1\nconnection 2\nconnection 3\n'
	end
}

t_count_alone()
{
	begin "-c 2 without -k also keeps accepting, stops after 2"
	recv_start -c 2 -m ok || { end; return; }
	lb lo-send -p "$PORT" -m a >"$T/s1" 2>"$T/serr"; rc_is 0 $? "lo-send 1" "$T/serr"
	lb lo-send -p "$PORT" -m b >"$T/s2" 2>"$T/serr"; rc_is 0 $? "lo-send 2" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" ab
	content "$T/s1" ok
	content "$T/s2" ok
	end
}

t_portfile()
{
	begin "-P FILE: the bound port and a newline, written atomically"
	mkdir -p "$T/pdir"
	lb lo-recv -p 0 -P "$T/pdir/port" >"$T/rout" 2>"$T/rerr" & RPID=$!
	if wait_file "$T/pdir/port" $RPID; then
		grep -Eq '^[1-9][0-9]{0,4}$' "$T/pdir/port" && [ "$(wc -l <"$T/pdir/port")" = 1 ] ||
			problem "port file is '$(oneline "$T/pdir/port")'"
		local n
		n=$(ls -A "$T/pdir" | wc -l)
		[ "$n" = 1 ] || problem "leftovers beside the port file: $(ls -A "$T/pdir" | tr '\n' ' ')"
		lb lo-send -p "$(cat "$T/pdir/port")" -m p 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
		listening "$(cat "$T/pdir/port")" && problem "still listening after the connection"
	else
		problem "no port file: $(oneline "$T/rerr")"
	fi
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" p
	end
}

t_portfile_fixed()
{
	begin "-P FILE with a fixed -p: the same port"
	local p
	p=$(free_port) || { problem "no free port"; end; return; }
	lb lo-recv -p "$p" -P "$T/fp" -m r >"$T/rout" 2>"$T/rerr" & RPID=$!
	wait_file "$T/fp" $RPID || problem "no port file: $(oneline "$T/rerr")"
	content "$T/fp" "$p"$'\n'
	lb lo-send -w 5 -p "$p" -m x >/dev/null 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	end
}

t_portfile_bad()
{
	begin "-P into a missing directory: exit 1, names the file"
	lb lo-recv -p 0 -P "$T/no/dir/port" >/dev/null 2>"$T/err"; rc_is 1 $? lo-recv "$T/err"
	has "$T/err" "^lo-recv: $T/no/dir/port"
	lines "$T/err" 1
	end
}

t_unix()
{
	begin "-U PATH: round trip with a reply; the socket file is removed on exit"
	local s=$T/u.sock
	recv_bg -U "$s" -m "unix reply"
	lb lo-send -w 5 -U "$s" -m "over unix" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" "over unix"
	content "$T/sout" "unix reply"
	[ -e "$s" ] && problem "$s left behind"
	end
}

t_unix_portfile()
{
	begin "-U PATH -P FILE: FILE is written once listening (no port: not garbage)"
	local s=$T/up.sock
	recv_bg -U "$s" -P "$T/upf"
	# (an empty file is fine: there is no port)
	for _ in $(seq 500); do [ -e "$T/upf" ] || ! kill -0 "$RPID" 2>/dev/null && break; sleep 0.02; done
	[ -e "$T/upf" ] || problem "no -P file: $(oneline "$T/rerr")"
	if [ -s "$T/upf" ]; then
		grep -Eq '^([0-9]{1,5})?$' "$T/upf" && [ "$(head -1 "$T/upf")" -le 65535 ] 2>/dev/null ||
			problem "-P file holds '$(oneline "$T/upf")'"
	fi
	lb lo-send -w 2 -U "$s" -m x >/dev/null 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	end
}

t_abstract()
{
	begin "-U @name: an abstract socket, no file anywhere"
	local name="@loopbox-test-$$-$RANDOM" before after
	before=$(ls -A "$T" | wc -l)
	recv_bg -U "$name" -m abs
	lb lo-send -w 5 -U "$name" -m "to abstract" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" "to abstract"
	content "$T/sout" abs
	[ -e "$name" ] || [ -e "$T/$name" ] && problem "a file named $name appeared"
	end
}

t_unix_stale()
{
	begin "-U: a stale socket file (its lo-recv was killed) is replaced"
	local s=$T/stale.sock pid
	recv_bg -U "$s"
	wait_unix "$s" || problem "lo-recv does not listen"
	pid=$(kid "$RPID") && kill -9 "$pid"
	wait "$RPID" 2>/dev/null
	[ -S "$s" ] || { problem "no stale socket file to start from"; end; return; }
	recv_bg -U "$s"
	lb lo-send -w 5 -U "$s" -m fresh 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" "second lo-recv" "$T/rerr"
	content "$T/rout" fresh
	[ -e "$s" ] && problem "$s left behind"
	end
}

t_unix_live()
{
	begin "-U: a socket file that answers is refused (exit 1, in use)"
	local s=$T/live.sock
	recv_bg -U "$s" -m first
	wait_unix "$s" || problem "the first lo-recv does not listen"
	lb lo-recv -U "$s" >"$T/out2" 2>"$T/err2"; rc_is 1 $? "second lo-recv" "$T/err2"
	has "$T/err2" 'in use'
	lines "$T/err2" 1
	end
	# finish the first one, whatever state it is in (not judged here)
	lb lo-send -w 1 -U "$s" -m x >/dev/null 2>&1
	recv_wait
}

t_unix_live_survives()
{
	begin "-U: a live lo-recv keeps its socket file and still serves after a second one was refused"
	local s=$T/live2.sock
	recv_bg -U "$s" -m first
	wait_unix "$s" || problem "the first lo-recv does not listen"
	lb lo-recv -U "$s" >/dev/null 2>"$T/err2"; rc_is 1 $? "second lo-recv" "$T/err2"
	[ -S "$s" ] || problem "the live socket file was removed"
	lb lo-send -w 2 -U "$s" -m "for the first" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	content "$T/sout" first "reply"
	recv_wait; rc_is 0 "$RRC" "first lo-recv" "$T/rerr"
	content "$T/rout" "for the first" "first lo-recv's output"
	end
}

t_unix_notsock()
{
	begin "-U PATH where a regular file is: exit 1, file untouched"
	echo keep >"$T/regular"
	lb lo-recv -U "$T/regular" >/dev/null 2>"$T/err"; rc_is 1 $? lo-recv "$T/err"
	has "$T/err" 'not a socket'
	content "$T/regular" $'keep\n'
	end
}

t_unix_term()
{
	begin "-U: SIGTERM removes the socket file"
	local s=$T/term.sock pid
	recv_bg -U "$s"
	wait_unix "$s" || problem "lo-recv does not listen"
	pid=$(kid "$RPID") && kill -TERM "$pid"
	wait "$RPID"
	[ -e "$s" ] && problem "$s left behind after SIGTERM"
	end
}

t_unix_missing()
{
	begin "lo-send -U to a missing socket: exit 1 without -w, 4 when -w runs out"
	lb lo-send -U "$T/nobody.sock" -m x >/dev/null 2>"$T/err"; rc_is 1 $? "lo-send" "$T/err"
	lines "$T/err" 1
	lb lo-send -w 0.2 -U "$T/nobody.sock" -m x >/dev/null 2>"$T/err"; rc_is 4 $? "lo-send -w 0.2" "$T/err"
	lines "$T/err" 1
	end
}

t_wait_ok()
{
	begin "-w 5: waits for a listener that starts 0.5 s later"
	local p
	p=$(free_port) || { problem "no free port"; end; return; }
	(sleep 0.5; exec "$LOOPBOX" lo-recv -t 10 -p "$p" >"$T/rout" 2>"$T/rerr") & RPID=$!
	lb lo-send -w 5 -p "$p" -m late >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" late
	end
}

t_wait_unix()
{
	begin "-w 5 on a UNIX path that appears 0.5 s later"
	(sleep 0.5; exec "$LOOPBOX" lo-recv -t 10 -U "$T/late.sock" >"$T/rout" 2>"$T/rerr") & RPID=$!
	lb lo-send -w 5 -U "$T/late.sock" -m late >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" late
	end
}

t_wait_out()
{
	begin "-w 0.5 with nobody listening: exit 4 after about 0.5 s"
	local p t0 dt
	p=$(free_port) || { problem "no free port"; end; return; }
	t0=$(now_ms)
	lb lo-send -w 0.5 -p "$p" -m x >/dev/null 2>"$T/err"; rc_is 4 $? lo-send "$T/err"
	dt=$(($(now_ms) - t0))
	[ "$dt" -ge 450 ] && [ "$dt" -lt 5000 ] || problem "took ${dt} ms"
	has "$T/err" "^lo-send: 127\.0\.0\.1:$p: .*refused"
	lines "$T/err" 1
	end
}

t_refused()
{
	begin "refused without -w: exit 1 at once, one line"
	local p t0 dt
	p=$(free_port) || { problem "no free port"; end; return; }
	t0=$(now_ms)
	lb lo-send -p "$p" -m x >"$T/out" 2>"$T/err"; rc_is 1 $? lo-send "$T/err"
	dt=$(($(now_ms) - t0))
	[ "$dt" -lt 2000 ] || problem "took ${dt} ms"
	content "$T/err" "lo-send: 127.0.0.1:$p: connection refused"$'\n'
	empty "$T/out"
	end
}

t_in_use()
{
	begin "port in use: exit 1, 'in use', the first listener unharmed"
	recv_start -m still || { end; return; }
	lb lo-recv -p "$PORT" >/dev/null 2>"$T/err2"; rc_is 1 $? "second lo-recv" "$T/err2"
	has "$T/err2" "^lo-recv: 127\.0\.0\.1:$PORT: .*in use"
	lines "$T/err2" 1
	lb lo-send -p "$PORT" -m x >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	content "$T/sout" still
	recv_wait; rc_is 0 "$RRC" "first lo-recv" "$T/rerr"
	end
}

t_idle_silent()
{
	begin "lo-recv -t 1: a client that connects and sends nothing (recv 4, send 1)"
	recv_start -t 1 || { end; return; }
	rm -f "$T/fifo"; mkfifo "$T/fifo"
	lb lo-send -p "$PORT" <"$T/fifo" >/dev/null 2>"$T/serr" & local sp=$!
	exec 7>"$T/fifo"	# lo-send's stdin: open, silent
	recv_wait; rc_is 4 "$RRC" lo-recv "$T/rerr"
	has "$T/rerr" '^lo-recv: idle timeout: nothing moved for 1\.000 s'
	lines "$T/rerr" 1
	wait $sp; rc_is 1 $? lo-send "$T/serr"
	exec 7>&-
	end
}

t_idle_none()
{
	begin "lo-recv -t 0.3 with no client: exit 4"
	local t0 dt
	t0=$(now_ms)
	lb lo-recv -p 0 -t 0.3 >"$T/out" 2>"$T/err"; rc_is 4 $? lo-recv "$T/err"
	dt=$(($(now_ms) - t0))
	[ "$dt" -ge 250 ] && [ "$dt" -lt 5000 ] || problem "took ${dt} ms"
	has "$T/err" '^lo-recv: .*idle timeout'
	lines "$T/err" 1
	empty "$T/out"
	end
}

t_verbose()
{
	begin "-v: connections and byte counts on stderr, both ends"
	recv_start -v -m 123 || { end; return; }
	lb lo-send -v -p "$PORT" -m 12345 >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	has "$T/serr" "^lo-send: connected to 127\.0\.0\.1:$PORT"
	has "$T/serr" '^lo-send: sent 5 bytes, received 3 bytes'
	has "$T/rerr" "^lo-recv: listening on 127\.0\.0\.1:$PORT"
	has "$T/rerr" '^lo-recv: connection from 127\.0\.0\.1:[0-9]+'
	has "$T/rerr" '^lo-recv: sent 3 bytes, received 5 bytes'
	content "$T/sout" 123
	content "$T/rout" 12345
	end
}

t_quiet()
{
	begin "-q: nothing on stderr on success; errors still shown"
	recv_start -q -v -m r || { end; return; }
	lb lo-send -q -v -p "$PORT" -m x >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	empty "$T/serr" "lo-send's stderr"
	empty "$T/rerr" "lo-recv's stderr"
	lb lo-send -q -p "$PORT" -m x >/dev/null 2>"$T/err"; rc_is 1 $? "lo-send -q to nobody"
	lines "$T/err" 1
	end
}

t_closed_stdin()
{
	begin "lo-send with stdin closed (<&-): both ends agree, nothing hangs"
	recv_start -t 2 || { end; return; }
	lb lo-send -p "$PORT" <&- >"$T/sout" 2>"$T/serr"; local sc=$?
	recv_wait
	[ "$sc" = 0 ] || [ "$sc" = 1 ] || problem "lo-send exit $sc: $(oneline "$T/serr")"
	[ "$RRC" = "$sc" ] || problem "lo-recv exit $RRC, lo-send exit $sc: $(oneline "$T/rerr") / $(oneline "$T/serr")"
	[ "$sc" = 1 ] && lacks "$T/serr" 'reset'	# not its own socket read as stdin
	empty "$T/rout"
	end
}

t_closed_stdout()
{
	begin "lo-recv with stdout closed (>&-): both ends agree, nothing hangs"
	rm -f "$T/rport"
	lb lo-recv -t 2 -p 0 -P "$T/rport" >&- 2>"$T/rerr" & RPID=$!
	wait_file "$T/rport" $RPID || { problem "lo-recv did not listen: $(oneline "$T/rerr")"; end; return; }
	lb lo-send -p "$(cat "$T/rport")" -m hello >"$T/sout" 2>"$T/serr"; local sc=$?
	recv_wait
	[ "$sc" = 0 ] || [ "$sc" = 1 ] || problem "lo-send exit $sc: $(oneline "$T/serr")"
	[ "$RRC" = "$sc" ] || problem "lo-recv exit $RRC, lo-send exit $sc: $(oneline "$T/rerr") / $(oneline "$T/serr")"
	end
}

t_message
t_stdin
t_closed_stdin
t_closed_stdout
t_reply
t_reply_empty
t_reply_big
t_out
t_out_bad
t_keep ""
t_keep " -o FILE"
t_count_alone
t_portfile
t_portfile_fixed
t_portfile_bad
t_unix
t_unix_portfile
t_abstract
t_unix_stale
t_unix_live
t_unix_live_survives
t_unix_notsock
t_unix_term
t_unix_missing
t_wait_ok
t_wait_unix
t_wait_out
t_refused
t_in_use
t_idle_silent
t_idle_none
t_verbose
t_quiet

# ---- -z: is anyone listening? (issue 13) ----

begin "lo-send -z: 0 against a listener, nothing sent"
if recv_start -o "$T/zout"; then
	lb lo-send -z -p "$PORT" 2>"$T/zerr"; rc_is 0 $? "lo-send -z" "$T/zerr"
	recv_wait; rc_is 0 "$RRC" lo-recv
	empty "$T/zout"
else
	problem "lo-recv did not start"
fi
end

begin "lo-send -z -w 1 with nothing listening: exit 4 within 2 s"
zp=$(free_port); t0=$(now_ms)
lb lo-send -z -w 1 -p "$zp" 2>"$T/zerr"; rc_is 4 $? "lo-send -z -w 1" "$T/zerr"
[ $(( $(now_ms) - t0 )) -lt 2000 ] || problem "took $(( $(now_ms) - t0 )) ms"
end

begin "lo-send -z -w 5: a listener that appears after 1 s is found (0)"
zp=$(free_port)
( sleep 1; lb lo-recv -p "$zp" -t 5 >/dev/null 2>&1 ) & bgp=$!
lb lo-send -z -w 5 -p "$zp" 2>"$T/zerr"; rc_is 0 $? "lo-send -z -w 5" "$T/zerr"
wait $bgp
end

begin "lo-send -z -U PATH: 0 against a UNIX listener, 1 without"
lb lo-recv -U "$T/z.sock" -t 5 >/dev/null 2>&1 & bgp=$!
wait_unix "$T/z.sock"
lb lo-send -z -U "$T/z.sock" 2>"$T/zerr"; rc_is 0 $? "lo-send -z -U" "$T/zerr"
wait $bgp
lb lo-send -z -U "$T/none.sock" 2>"$T/zerr"; rc_is 1 $? "lo-send -z -U (none)" "$T/zerr"
end

begin "lo-send -z with -m or FILEs: usage (exit 2)"
lb lo-send -z -m x -p 1 2>"$T/zerr"; rc_is 2 $? "-z -m" "$T/zerr"
has "$T/zerr" "^lo-send: -z: conflicts with -m"
lb lo-send -z -p 1 /dev/null 2>"$T/zerr"; rc_is 2 $? "-z FILE" "$T/zerr"
end

# self-connect (the doctor issue's row): a port inside a shrunk ephemeral
# range with nothing on it is never taken for a peer
if netns_lo_ok; then
	begin "a port in the ephemeral range with nothing on it: never exit 0 (self-connect refused)"
	netns 'ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range="40000 40001"' sh -c '
		cat /proc/sys/net/ipv4/ip_local_port_range; for i in 1 2 3 4 5 6 7 8; do
			"$0" lo-send -w 0.3 -p 40000 -m hello; echo "rc=$?"
			"$0" lo-send -z -p 40001; echo "rc=$?"
		done' "$LOOPBOX" >"$T/sc" 2>"$T/scerr"
	has "$T/sc" "^40000[[:space:]]+40001" "the range"
	lacks "$T/sc" "^rc=0" "an exit"
	lacks "$T/sc" "^hello" "stdout"
	has "$T/scerr" "connected to itself"
	end
else
	skip "self-connect refused" "no network namespace here"
fi
