# t-options.sh - lo-send and lo-recv command lines: usage errors (exit 2,
# one line "APPLET: what: why"), addresses that are not loopback (refused
# before any socket, checked inside unshare -n), and the loopback forms
# that must work.
# needs: lo-send lo-recv
source "$(dirname "$0")/lib.sh"

# usage2 APPLET ERE ARGS...: exit 2, nothing on stdout, one line on
# stderr starting with "APPLET: " and matching ERE.
usage2()
{
	local a=$1 re=$2
	shift 2
	begin "$a $*: usage error"
	lb "$a" "$@" >"$T/out" 2>"$T/err" </dev/null; rc_is 2 $? "$a" "$T/err"
	has "$T/err" "^$a: "
	has "$T/err" "$re"
	lines "$T/err" 1
	empty "$T/out"
	end
}

for a in lo-send lo-recv; do
	usage2 $a '-p abc: not a port' -p abc
	usage2 $a '-p 70000: not a port' -p 70000
	usage2 $a '-p 65536: not a port' -p 65536
	usage2 $a '-p -1: not a port' -p -1
	usage2 $a '-p 1x: not a port' -p 1x
	usage2 $a '-p : not a port' -p ''
	usage2 $a '-p 99999999999999999999999: not a port' -p 99999999999999999999999
	usage2 $a '-x: unknown option' -p 1 -x
	usage2 $a '--frob: unknown option' --frob -p 1
	usage2 $a '-p: needs an argument' -p
	usage2 $a '-t 0: not a time' -p 1 -t 0
	usage2 $a '-t abc: not a time' -p 1 -t abc
	usage2 $a '-t -1: not a time' -p 1 -t -1
	usage2 $a 'port is needed' -q
	usage2 $a '-a: empty argument' -a '' -p 1
	usage2 $a '-6: conflicts with -a' -6 -a ::1 -p 1
	usage2 $a '-U: conflicts' -U "$T/s" -a 127.0.0.1
	usage2 $a 'too long' -U "/$(printf '%0200d' 0)"
done
usage2 lo-send '-p 0: not a port' -p 0 -m x
usage2 lo-send '-m: conflicts with FILE' -p 1 -m x /dev/null
usage2 lo-send '-m: needs an argument' -p 1 -m
usage2 lo-send '-w abc: not a time' -p 1 -w abc
usage2 lo-send '-o: unknown option' -p 1 -o x
usage2 lo-send '-k: unknown option' -p 1 -k
usage2 lo-recv '-c 0: not a count' -p 0 -c 0
usage2 lo-recv '-c x: not a count' -p 0 -c x
usage2 lo-recv 'extra: unexpected operand' -p 0 extra
usage2 lo-recv '-w: unknown option' -p 0 -w 1
usage2 lo-recv '-o: needs an argument' -p 0 -o

for a in lo-send lo-recv; do
	for h in -h --help "-p 1 -h"; do
		begin "$a $h: usage on stdout, exit 0"
		lb $a $h >"$T/out" 2>"$T/err"; rc_is 0 $? "$a $h"
		has "$T/out" "^usage: $a "
		has "$T/out" '^ -p PORT'
		empty "$T/err"
		end
	done
done

# Not loopback: refused (exit 2) before any socket, naming the address.
# Inside a fresh network namespace (lo down, no routes), so that even a
# bug could send nothing out.
if netns_ok; then
	for addr in 10.0.0.1 192.0.2.1 0.0.0.0 128.0.0.1 126.255.255.255 255.255.255.255 \
		:: ::2 ::ffff:127.0.0.1 fe80::1 example.com localhost.localdomain 127.1 ' 127.0.0.1'; do
		begin "'$addr' is not a loopback address (lo-send and lo-recv exit 2)"
		netns true "$LOOPBOX" lo-send -a "$addr" -p 80 -m x >"$T/out" 2>"$T/err"
		rc_is 2 $? lo-send "$T/err"
		content "$T/err" "lo-send: $addr: not a loopback address"$'\n'
		netns true "$LOOPBOX" lo-recv -a "$addr" -p 0 >>"$T/out" 2>"$T/err"
		rc_is 2 $? lo-recv "$T/err"
		content "$T/err" "lo-recv: $addr: not a loopback address"$'\n'
		empty "$T/out"
		end
	done
else
	skip "non-loopback addresses" "unshare -n does not work here"
fi

# The loopback forms that must work, end to end.
# pair NAME RECVARGS SENDARGS: lo-recv RECVARGS -p 0, then lo-send
# SENDARGS -p PORT -m NAME; both exit 0 and the bytes arrive.
pair()
{
	begin "$1"
	recv_start $2 || { end; return; }
	lb lo-send $3 -p "$PORT" -m "$1" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" "$1"
	empty "$T/sout"
	end
}
pair "-a localhost on both ends" "-a localhost" "-a localhost"
pair "-a localhost to 127.0.0.1" "-a localhost" ""
pair "-a 127.1.2.3 (any of 127/8 binds)" "-a 127.1.2.3" "-a 127.1.2.3"
pair "-a 127.255.255.254" "-a 127.255.255.254" "-a 127.255.255.254"
t_v6only()
{
	begin "a listener on ::1 is not reachable on 127.0.0.1 (no v4 twin)"
	recv_start -6 -t 5 || { end; return; }
	lb lo-send -p "$PORT" -m x >/dev/null 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" 'refused'
	lb lo-send -6 -p "$PORT" -m v6 >/dev/null 2>"$T/serr"; rc_is 0 $? "lo-send -6" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" v6
	end
}

t_no_wildcard()
{
	begin "a listener on 127.0.0.2 is not reachable on 127.0.0.1 (no wildcard)"
	recv_start -a 127.0.0.2 -t 5 || { end; return; }
	lb lo-send -p "$PORT" -m x >/dev/null 2>"$T/serr"; rc_is 1 $? "lo-send to 127.0.0.1" "$T/serr"
	has "$T/serr" 'refused'
	lb lo-send -a 127.0.0.2 -p "$PORT" -m two >/dev/null 2>"$T/serr"; rc_is 0 $? "lo-send to 127.0.0.2" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" two
	end
}

t_glued()
{
	begin "combined flags and attached values: -qp PORT, -mMSG"
	recv_start -q || { end; return; }
	lb lo-send -qp "$PORT" -mglued >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" glued
	end
}

t_dashdash()
{
	begin "-- ends the options: a FILE named -m"
	printf 'dash-m file' >"$T/-m"
	recv_start || { end; return; }
	(cd "$T" && lb lo-send -p "$PORT" -- -m) >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" 'dash-m file'
	end
}

if ipv6_ok; then
	pair "-6 on both ends" "-6" "-6"
	pair "-a ::1 and -6" "-a ::1" "-6"
	pair "-a 0:0:0:0:0:0:0:1" "-a 0:0:0:0:0:0:0:1" "-a ::1"
	t_v6only
else
	skip "::1 round trips" "no IPv6 on this host"
fi
t_no_wildcard
t_glued
t_dashdash
