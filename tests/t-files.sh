# t-files.sh - issue 13: lo-recv -o FILE appears only complete (a new file
# beside it, renamed over it once every byte is stored; a failed or killed
# transfer leaves FILE as it was and nothing beside it), FIFOs and devices
# still written as they are, no file ever opened through a planted symlink
# (-o, -k -o and -P); and -v's live progress line on a terminal (a real
# pty, python3's pty module), absent when stderr is not one.
# needs: lo-send lo-recv
source "$(dirname "$0")/lib.sh"

PY=$(command -v python3 || true)
D=$T/d	# FILE's directory: only FILE may be left in it

# fresh: an empty $D, and $D/f holding "old", mode 600
fresh()
{
	rm -rf "$D"
	mkdir -p "$D"
	echo old >"$D/f"
	chmod 600 "$D/f"
}

# only_f: $D holds f and nothing else (no temporary file left behind)
only_f()
{
	local l
	l=$(ls -A "$D" | tr '\n' ' ')
	[ "$l" = "f " ] || problem "in the directory: '$l', want only f"
}

# tmpname: lo-recv's new file beside f (f.<16 hex>), if there is one
tmpname() { ls "$D"/f.???????????????? 2>/dev/null | head -1; }

# mid ARGS...: lo-recv -o $D/f ARGS, and a lo-send to it (SPID) whose stdin
# is a FIFO held open on fd 7 with 1 MiB written: the transfer stays
# mid-way until fd 7 closes. Returns once the new file beside f holds
# that MiB (the situation: mid-transfer, FILE not yet replaced).
mid()
{
	recv_start -o "$D/f" "$@" || return 1
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	lb lo-send -p "$PORT" <"$T/fifo" >/dev/null 2>"$T/serr" & SPID=$!
	exec 7>"$T/fifo"
	head -c 1048576 /dev/urandom >&7
	local i
	for i in $(seq 500); do
		[ -n "$(tmpname)" ] && [ "$(stat -c %s "$(tmpname)")" -ge 1048576 ] && break
		sleep 0.02
	done
	[ -n "$(tmpname)" ] || { problem "no new file beside f mid-transfer"; return 1; }
	[ "$(stat -c %s "$(tmpname)")" -ge 1048576 ] || { problem "the MiB did not arrive"; return 1; }
	content "$D/f" $'old\n' "f mid-transfer"
}

t_ok()
{
	begin "-o FILE: replaced whole on success, its mode kept, nothing left beside it"
	fresh
	head -c 3000000 /dev/urandom >"$T/in"
	recv_start -o "$D/f" || { end; return; }
	lb lo-send -p "$PORT" "$T/in" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	same "$D/f" "$T/in"
	[ "$(stat -c %a "$D/f")" = 600 ] || problem "mode $(stat -c %a "$D/f"), want 600 (FILE's)"
	only_f
	empty "$T/rout"
	end
}

t_new()
{
	begin "-o FILE that does not exist: created 0666 less the umask (027: 640)"
	rm -rf "$D"; mkdir -p "$D"
	local um
	um=$(umask)
	umask 027
	recv_start -o "$D/f"; local ok=$?
	umask "$um"
	[ $ok = 0 ] || { end; return; }
	lb lo-send -p "$PORT" -m new 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$D/f" new
	[ "$(stat -c %a "$D/f" 2>/dev/null)" = 640 ] || problem "mode $(stat -c %a "$D/f" 2>/dev/null), want 640"
	only_f
	end
}

t_reset()
{
	begin "-o FILE: a peer reset mid-transfer (lo-send SIGKILLed) leaves FILE as it was, nothing beside it"
	fresh
	mid || { exec 7>&-; end; return; }
	kill -KILL "$(kid "$SPID")"
	exec 7>&-
	wait "$SPID" 2>/dev/null
	recv_wait; rc_is 1 "$RRC" lo-recv "$T/rerr"
	has "$T/rerr" "reset"
	content "$D/f" $'old\n'
	only_f
	end
}

t_term()
{
	local sig=$1
	begin "-o FILE: lo-recv SIG$sig mid-transfer leaves FILE as it was, nothing beside it; lo-send exit 1"
	fresh
	mid || { exec 7>&-; end; return; }
	kill -"$sig" "$(kid "$RPID")"
	recv_wait
	[ "$RRC" -gt 128 ] || problem "lo-recv exit $RRC, want death by SIG$sig"
	exec 7>&-
	wait "$SPID"; rc_is 1 $? lo-send "$T/serr"
	content "$D/f" $'old\n'
	only_f
	end
}

t_idle()
{
	begin "-o FILE -t 0.5: a sender gone silent mid-transfer: exit 4, FILE as it was, nothing beside it"
	fresh
	mid -t 0.5 || { exec 7>&-; end; return; }
	recv_wait; rc_is 4 "$RRC" lo-recv "$T/rerr"
	exec 7>&-
	wait "$SPID"; rc_is 1 $? lo-send "$T/serr"
	content "$D/f" $'old\n'
	only_f
	end
}

t_full()
{
	begin "-o FILE on a full file system: exit 1, lo-send exit 1, FILE as it was, nothing beside it"
	[ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null || { skip_test "needs root and unshare -m (a small tmpfs)"; return; }
	head -c 300000 /dev/urandom >"$T/in"
	rm -rf "$D"; mkdir -p "$D"
	T unshare -m sh -c '
		mount -t tmpfs -o size=128k none "$1" || exit 99
		echo old >"$1/f"
		"$2" lo-recv -p 0 -P "$3" -o "$1/f" 2>"$4" & r=$!
		i=0; while [ ! -s "$3" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
		"$2" lo-send -p "$(cat "$3")" "$5" 2>"$6"; echo $? >"$7"
		wait $r; echo $? >"$8"
		cat "$1/f" >"$9"; ls -A "$1" >"$9.ls"' sh "$D" "$LOOPBOX" "$T/fport" "$T/rerr" "$T/in" \
		"$T/serr" "$T/src" "$T/rrc" "$T/fafter"
	[ -s "$T/rrc" ] || { problem "no tmpfs here"; end; return; }
	rc_is 1 "$(cat "$T/rrc")" lo-recv "$T/rerr"
	has "$T/rerr" "no space left"
	rc_is 1 "$(cat "$T/src")" lo-send "$T/serr"
	content "$T/fafter" $'old\n'
	content "$T/fafter.ls" $'f\n' "the tmpfs"
	end
}

t_devices()
{
	begin "-o /dev/null, -o FIFO, -o /dev/stdout (a file, >>): written as they are, nothing made beside them"
	recv_start -o /dev/null || { end; return; }
	lb lo-send -p "$PORT" -m to-null 2>"$T/serr"; rc_is 0 $? "lo-send (null)" "$T/serr"
	recv_wait; rc_is 0 "$RRC" "lo-recv -o /dev/null" "$T/rerr"
	[ -c /dev/null ] || problem "/dev/null is no longer a device"
	ls /dev/null.???????????????? >/dev/null 2>&1 && problem "a file beside /dev/null"
	# a FIFO read by cat
	rm -rf "$D"; mkdir -p "$D"; mkfifo "$D/f"
	T cat "$D/f" >"$T/cat" & local cp=$!
	recv_start -o "$D/f" || { end; return; }
	lb lo-send -p "$PORT" -m to-fifo 2>"$T/serr"; rc_is 0 $? "lo-send (FIFO)" "$T/serr"
	recv_wait; rc_is 0 "$RRC" "lo-recv -o FIFO" "$T/rerr"
	wait $cp
	content "$T/cat" to-fifo
	[ -p "$D/f" ] || problem "the FIFO was replaced"
	only_f
	# /dev/stdout where stdout is a regular file (opened to append): stdout
	# itself, no new file in /dev
	rm -f "$T/rport"
	printf 'before:' >"$T/so"
	lb lo-recv -p 0 -P "$T/rport" -o /dev/stdout >>"$T/so" 2>"$T/rerr" & RPID=$!
	wait_file "$T/rport" $RPID || { problem "lo-recv did not listen: $(oneline "$T/rerr")"; end; return; }
	lb lo-send -p "$(cat "$T/rport")" -m to-stdout 2>"$T/serr"; rc_is 0 $? "lo-send (stdout)" "$T/serr"
	recv_wait; rc_is 0 "$RRC" "lo-recv -o /dev/stdout" "$T/rerr"
	content "$T/so" before:to-stdout
	[ -L /dev/stdout ] || problem "/dev/stdout is no longer a symlink"
	ls /dev/stdout.???????????????? >/dev/null 2>&1 && problem "a file beside /dev/stdout"
	end
}

# ---- planted symlinks ----

# plant DIR NAME: symlinks in DIR to $T/victim: NAME.tmp.<pid> for the next
# 300 pids (the predictable names of old), NAME.tmp, NAME.new, NAME~, and
# a dangling NAME.gone to $T/victim2
plant()
{
	local last p
	last=$(cat /proc/sys/kernel/ns_last_pid 2>/dev/null || echo $$)
	for p in $(seq "$((last + 1))" "$((last + 300))"); do
		ln -s "$T/victim" "$1/$2.tmp.$p"
	done
	ln -s "$T/victim" "$1/$2.tmp"
	ln -s "$T/victim" "$1/$2.new"
	ln -s "$T/victim" "$1/$2~"
	ln -s "$T/victim2" "$1/$2.gone"
}

# unharmed: the victim as it was, the dangling link's target never made
unharmed()
{
	content "$T/victim" $'victim\n' victim
	[ "$(stat -c %a "$T/victim")" = 640 ] || problem "the victim's mode changed"
	[ ! -e "$T/victim2" ] || problem "a file was made through the dangling link"
}

t_plant_portfile()
{
	begin "-P FILE among planted symlinks (and FILE itself one): the victim untouched, the port file right"
	rm -rf "$T/x"; mkdir -p "$T/x"
	echo victim >"$T/victim"; chmod 640 "$T/victim"; rm -f "$T/victim2"
	plant "$T/x" pf
	ln -s "$T/victim" "$T/x/pf"
	lb lo-recv -p 0 -P "$T/x/pf" -m r >"$T/rout" 2>"$T/rerr" & RPID=$!
	for _ in $(seq 500); do
		[ -L "$T/x/pf" ] && kill -0 $RPID 2>/dev/null || break
		sleep 0.02
	done
	[ -f "$T/x/pf" ] && [ ! -L "$T/x/pf" ] || problem "pf is not a file of its own: $(ls -l "$T/x/pf")"
	grep -Eq '^[1-9][0-9]{0,4}$' "$T/x/pf" || problem "port file is '$(oneline "$T/x/pf")'"
	lb lo-send -p "$(cat "$T/x/pf")" -m hi >/dev/null 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	unharmed
	# nothing new in the directory: the links and pf
	[ "$(ls -A "$T/x" | wc -l)" = 305 ] || problem "$(ls -A "$T/x" | wc -l) entries, want 305 (304 links, pf)"
	end
}

t_plant_out()
{
	begin "-o FILE among planted symlinks: the victim untouched; FILE a symlink: the link replaced, not its target"
	echo victim >"$T/victim"; chmod 640 "$T/victim"; rm -f "$T/victim2"
	rm -rf "$D"; mkdir -p "$D"
	plant "$D" f
	ln -s "$T/victim" "$D/f"
	recv_start -o "$D/f" || { end; return; }
	lb lo-send -p "$PORT" -m data 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	[ -f "$D/f" ] && [ ! -L "$D/f" ] || problem "f is not a file of its own: $(ls -l "$D/f")"
	content "$D/f" data
	unharmed
	[ "$(ls -A "$D" | wc -l)" = 305 ] || problem "$(ls -A "$D" | wc -l) entries, want 305 (304 links, f)"
	# a dangling link at FILE: replaced too, its target never made
	rm -f "$D/f"; ln -s "$T/victim2" "$D/f"
	recv_start -o "$D/f" || { end; return; }
	lb lo-send -p "$PORT" -m data2 2>"$T/serr"; rc_is 0 $? "lo-send (dangling)" "$T/serr"
	recv_wait; rc_is 0 "$RRC" "lo-recv (dangling)" "$T/rerr"
	[ -f "$D/f" ] && [ ! -L "$D/f" ] || problem "f (dangling) is not a file of its own"
	content "$D/f" data2
	unharmed
	end
}

t_plant_keep()
{
	begin "-k -o FILE where FILE is a planted symlink: exit 1 (not followed), the victim untouched; a plain FILE appended"
	echo victim >"$T/victim"; chmod 640 "$T/victim"; rm -f "$T/victim2"
	rm -rf "$D"; mkdir -p "$D"
	ln -s "$T/victim" "$D/f"
	lb lo-recv -p 0 -k -c 1 -o "$D/f" >/dev/null 2>"$T/rerr"; rc_is 1 $? "lo-recv -k" "$T/rerr"
	has "$T/rerr" "^lo-recv: $D/f: too many levels of symbolic links"
	rm -f "$D/f"; ln -s "$T/victim2" "$D/f"
	lb lo-recv -p 0 -k -c 1 -o "$D/f" >/dev/null 2>"$T/rerr"; rc_is 1 $? "lo-recv -k (dangling)" "$T/rerr"
	unharmed
	rm -f "$D/f"
	recv_start -k -c 2 -o "$D/f" || { end; return; }
	lb lo-send -p "$PORT" -m one 2>"$T/serr"; rc_is 0 $? "lo-send 1" "$T/serr"
	lb lo-send -p "$PORT" -m two 2>"$T/serr"; rc_is 0 $? "lo-send 2" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$D/f" onetwo
	only_f
	end
}

# ---- -v's live progress line ----

cat >"$T/onpty.py" <<'EOF2'
# onpty.py OUT CMD...: CMD with a new pty as its stdin, stdout and stderr;
# all it writes there into OUT; exits as CMD did
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out = b""
while True:
    try:
        d = os.read(fd, 65536)
    except OSError:         # EIO: the last writer closed
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
open(sys.argv[1], "wb").write(out)
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
EOF2

# slow readers and writers: about 16 MB/s, so a transfer lasts seconds
cat >"$T/slowread.py" <<'EOF2'
import sys, time
while sys.stdin.buffer.read1(65536):
    time.sleep(0.004)
EOF2
cat >"$T/slowwrite.py" <<'EOF2'
import sys, time
for i in range(150):
    sys.stdout.buffer.write(b"x" * 65536)
    sys.stdout.flush()
    time.sleep(0.01)
EOF2

# the checks of a pty's capture, in python: live APPLET PCT FILE
cat >"$T/live.py" <<'EOF2'
# live.py APPLET PCT OUT: OUT (a pty's capture) shows APPLET's live line
# drawn at least twice, each redraw wiping the line first (\r ESC[K), the
# line wiped before the final report, and nothing of it after; PCT=1: with
# % and ETA, 0: without them
import re, sys
a, pct, s = sys.argv[1], sys.argv[2] == "1", open(sys.argv[3], "rb").read().decode()
line = a + r": [0-9]+\.[0-9] [KMGT]iB, [0-9]+\.[0-9] [KMGT]iB/s" + (r", [0-9]+%, ETA [0-9]+ s" if pct else "")
draws = re.findall(line + r"(?=\r\x1b\[K)", s)
bad = []
if len(draws) < 2:
    bad.append("%d live lines, want 2 or more" % len(draws))
if len(re.findall(r"\r\x1b\[K" + line, s)) < len(draws) - 1:
    bad.append("a redraw without wiping the line first")
if not pct and "%" in s:
    bad.append("a % where the total is not known")
if not re.search(r"\r\x1b\[K" + a + r": sent [0-9]+ bytes, received [0-9]+ bytes in [0-9.]+ s \([0-9.]+ MB/s\)\r\n$", s):
    bad.append("the report does not end it, on a wiped line")
if bad:
    print("; ".join(bad) + ": " + repr(s[-300:]))
EOF2

t_live_send()
{
	begin "lo-send -v on a terminal: a live line (MiB, rate, %, ETA) redrawn in place, wiped before the report"
	[ -n "$PY" ] || { skip_test "python3 not installed"; return; }
	head -c 32M /dev/urandom >"$T/big"
	rm -f "$T/rport"
	( lb lo-recv -p 0 -P "$T/rport" 2>"$T/rerr" | T "$PY" "$T/slowread.py" ) & local rp=$!
	wait_file "$T/rport" $rp || { problem "lo-recv did not listen: $(oneline "$T/rerr")"; end; return; }
	T "$PY" "$T/onpty.py" "$T/pty" "$LOOPBOX" lo-send -v -p "$(cat "$T/rport")" "$T/big"
	rc_is 0 $? "lo-send on a pty" "$T/pty"
	wait $rp
	"$PY" "$T/live.py" lo-send 1 "$T/pty" >"$T/why"
	[ -s "$T/why" ] && problem "$(cat "$T/why")"
	end
}

t_live_pipe()
{
	begin "lo-send -v, stderr a pipe, then a file: only the usual report, no live line"
	head -c 32M /dev/urandom >"$T/big"
	rm -f "$T/rport"
	( lb lo-recv -p 0 -P "$T/rport" 2>"$T/rerr" | T "${PY:-cat}" ${PY:+"$T/slowread.py"} >/dev/null ) & local rp=$!
	wait_file "$T/rport" $rp || { problem "lo-recv did not listen: $(oneline "$T/rerr")"; end; return; }
	lb lo-send -v -p "$(cat "$T/rport")" "$T/big" 2>&1 >/dev/null | cat >"$T/serr"
	rc_is 0 "${PIPESTATUS[0]}" lo-send "$T/serr"
	wait $rp
	lines "$T/serr" 2
	has "$T/serr" "^lo-send: connected to 127\.0\.0\.1:[0-9]+$"
	has "$T/serr" "^lo-send: sent 33554432 bytes, received 0 bytes in [0-9.]+ s \([0-9.]+ MB/s\)$"
	lacks "$T/serr" $'\r|\033|iB'
	# and with stderr a file
	lb lo-recv -p 0 -P "$T/rport2" -o /dev/null 2>"$T/rerr" & rp=$!
	wait_file "$T/rport2" $rp || { problem "lo-recv did not listen: $(oneline "$T/rerr")"; end; return; }
	lb lo-send -v -p "$(cat "$T/rport2")" "$T/big" >/dev/null 2>"$T/serr.file"
	rc_is 0 $? "lo-send, stderr a file" "$T/serr.file"
	wait $rp
	lines "$T/serr.file" 2
	lacks "$T/serr.file" $'\r|\033|iB'
	end
}

t_live_recv()
{
	begin "lo-recv -v on a terminal: a live line (MiB, rate; no % where the total is unknown), wiped before the report"
	[ -n "$PY" ] || { skip_test "python3 not installed"; return; }
	rm -f "$T/rport"
	T "$PY" "$T/onpty.py" "$T/pty" "$LOOPBOX" lo-recv -v -p 0 -P "$T/rport" -o /dev/null & local rp=$!
	wait_file "$T/rport" $rp || { problem "lo-recv did not listen"; end; return; }
	T "$PY" "$T/slowwrite.py" | lb lo-send -p "$(cat "$T/rport")" 2>"$T/serr"
	rc_is 0 "${PIPESTATUS[1]}" lo-send "$T/serr"
	wait $rp; rc_is 0 $? "lo-recv on a pty" "$T/pty"
	"$PY" "$T/live.py" lo-recv 0 "$T/pty" >"$T/why"
	[ -s "$T/why" ] && problem "$(cat "$T/why")"
	end
}

t_live_error()
{
	begin "lo-send -v on a terminal: an error mid-transfer (the receiver killed) comes on a wiped line, after live lines"
	[ -n "$PY" ] || { skip_test "python3 not installed"; return; }
	rm -f "$T/rport"
	lb lo-recv -p 0 -P "$T/rport" -o /dev/null 2>"$T/rerr" & local rp=$!
	wait_file "$T/rport" $rp || { problem "lo-recv did not listen: $(oneline "$T/rerr")"; end; return; }
	local lpid
	lpid=$(kid $rp)
	( sleep 1.5; kill -9 "$lpid" ) &
	T "$PY" "$T/onpty.py" "$T/pty" /bin/sh -c '"$1" "$2" 2>/dev/null | "$3" lo-send -v -p "$4"' sh \
		"$PY" "$T/slowwrite.py" "$LOOPBOX" "$(cat "$T/rport")"
	rc_is 1 $? "lo-send on a pty" "$T/pty"
	wait $rp
	"$PY" - "$T/pty" >"$T/why" <<'EOF2'
import re, sys
s = open(sys.argv[1], "rb").read().decode()
live = r"lo-send: [0-9]+\.[0-9] [KMGT]iB, [0-9]+\.[0-9] [KMGT]iB/s"
if not re.search(live, s):
    print("no live line: " + repr(s[-300:]))
elif not re.search(live + r"\r\x1b\[Klo-send: 127\.0\.0\.1:[0-9]+: [^\r]*reset[^\r]*\r\n$", s):
    print("the error is not on a wiped line of its own: " + repr(s[-300:]))
EOF2
	[ -s "$T/why" ] && problem "$(cat "$T/why")"
	end
}

t_ok
t_new
t_reset
t_term TERM
t_term INT
t_idle
t_full
t_devices
t_plant_portfile
t_plant_out
t_plant_keep
t_live_send
t_live_pipe
t_live_recv
t_live_error
