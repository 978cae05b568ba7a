# t-doctor.sh - the loopback doctor (issue 11): each breakage is made for
# real in a fresh network namespace (unshare -n; nft, ip route, ip rule,
# sysctl, tc, ip link set lo mtu, a seccomp wrapper, a bind mount over
# /etc/hosts), checked to be there, and then each test asserts the cause
# named, the fix given, the exit code, and that the run ended in time.
# needs: lo-send lo-recv lo-serve lo-echo
source "$(dirname "$0")/lib.sh"

export T LOOPBOX

# doc SETUP CHECK CMD...: in a fresh namespace with lo up, run the bash
# SETUP (it may start listeners: they end with the namespace's -t), check
# the fault with CHECK, then CMD (eval'd by bash, $L is loopbox) with its
# stdout in $T/out and stderr in $T/err; "EXIT MS" in $T/res.
doc()
{
	rm -f "$T/out" "$T/err" "$T/res" "$T/ready"
	T unshare -n bash -c '
		L=$LOOPBOX
		ip link set lo up || exit 98
		eval "$1" >"$T/setup.log" 2>&1 || { echo "setup failed: $(head -c 200 "$T/setup.log")" >"$T/res"; exit; }
		eval "$2" >/dev/null 2>&1 || { echo "fault not there: $2" >"$T/res"; exit; }
		t0=$(date +%s%N)
		eval "$3" >"$T/out" 2>"$T/err"; rc=$?
		echo "$rc $(( ($(date +%s%N) - t0) / 1000000 ))" >"$T/res"
		kill $(jobs -p) 2>/dev/null; wait' sh "$1" "$2" "$3"
}

# verdict EXIT MAXMS ERE...: the exit code, the time bound, and each ERE
# in stderr
verdict()
{
	local rc ms re
	read -r rc ms <"$T/res" 2>/dev/null
	case "$rc" in
	[0-9]*) ;;
	*) problem "$(oneline "$T/res")"; return ;;
	esac
	[ "$rc" = "$1" ] || problem "exit $rc, want $1: $(oneline "$T/err")"
	[ "$ms" -le "$2" ] || problem "took $ms ms, bound $2 ms"
	shift 2
	for re; do has "$T/err" "$re" stderr; done
}

# wait for the file $T/ready (a listener started by a SETUP)
READY='for i in $(seq 200); do [ -s "$T/ready" ] && break; sleep 0.05; done; [ -s "$T/ready" ]'
NFT='nft add table inet t && nft add chain inet t in "{ type filter hook input priority 0; }" && nft add chain inet t out "{ type filter hook output priority 0; }"'
FIX_FILTER='allow lo in it$'

t_tcp_drop()
{
	begin "a filter drops loopback TCP: lo-echo exit 3 in seconds, naming TCP and the filter"
	doc "$NFT && nft add rule inet t in meta l4proto tcp drop" 'nft list ruleset | grep -q "tcp drop"' \
		'$L lo-echo -c 10'
	verdict 3 6000 '^lo-echo: tcp 127\.0\.0\.1: a packet filter drops loopback TCP: '"$FIX_FILTER"
	has "$T/out" '^tcp 127\.0\.0\.1 .* FAIL$'
	end

	begin "a filter drops loopback TCP: lo-send -w 5 to a listener is exit 3 in seconds, not two minutes"
	doc "$NFT && nft add rule inet t in meta l4proto tcp drop && { \$L lo-recv -p 7000 -t 15 -P \$T/ready & } && $READY" \
		'nft list ruleset | grep -q "tcp drop"' '$L lo-send -w 5 -p 7000 -m hello'
	verdict 3 5000 '^lo-send: 127\.0\.0\.1:7000: a packet filter drops loopback TCP: '"$FIX_FILTER"
	lines "$T/err" 1
	end
}

t_tcp_reject()
{
	begin "a filter rejects loopback TCP with a reset: exit 3 at once, 'refused though a listener is there'"
	doc "$NFT && nft add rule inet t in tcp flags syn reject with tcp reset" 'nft list ruleset | grep -q "reject with tcp reset"' \
		'$L lo-echo -c 10'
	verdict 3 3000 '^lo-echo: tcp 127\.0\.0\.1: a packet filter rejects loopback TCP \(refused, though a listener is there\): '"$FIX_FILTER"
	end

	begin "a filter rejects loopback TCP with a reset: lo-send to a listener is exit 3"
	doc "$NFT && nft add rule inet t in tcp flags syn reject with tcp reset && { \$L lo-recv -p 7000 -t 15 -P \$T/ready & } && $READY" \
		'nft list ruleset | grep -q "reject with tcp reset"' '$L lo-send -p 7000 -m hello'
	verdict 3 3000 '^lo-send: 127\.0\.0\.1:7000: a packet filter rejects loopback TCP'
	end
}

t_udp()
{
	begin "loopback UDP dropped: lo-echo exit 3 naming UDP (and -J: a filter-drop diagnosis)"
	doc "$NFT && nft add rule inet t in meta l4proto udp drop" 'nft list ruleset | grep -q "udp drop"' \
		'$L lo-echo -c 10 -J'
	verdict 3 10000 '^lo-echo: udp 127\.0\.0\.1: a packet filter drops loopback UDP: '
	has "$T/out" '"diagnosis":\[\{"cause":"drop","detail":"a packet filter drops loopback UDP","fix":"allow lo in it"\}\]'
	has "$T/out" '"exit":3'
	has "$T/out" '"name":"tcp 127\.0\.0\.1"[^}]*"result"|"result":"PASS","name":"tcp 127\.0\.0\.1"'
	end

	begin "loopback UDP dropped on output (EPERM on send): exit 3, a filter rejects it"
	doc "$NFT && nft add rule inet t out meta l4proto udp drop" 'nft list ruleset | grep -q "udp drop"' \
		'$L lo-echo -c 10'
	verdict 3 5000 '^lo-echo: udp 127\.0\.0\.1: a packet filter rejects loopback UDP \(operation not permitted\): '
	end

	begin "lo-echo --up where a filter drops TCP: names the filter (exit 3), and leaves the ruleset as it was"
	doc "$NFT && nft add rule inet t in meta l4proto tcp drop && nft list ruleset >\$T/rules.before" \
		'nft list ruleset | grep -q "tcp drop"' '$L lo-echo --up -c 10; echo "echo $?" >&2; nft list ruleset | cmp -s - $T/rules.before && echo same >&2'
	verdict 0 8000 '^lo-echo: tcp 127\.0\.0\.1: a packet filter drops loopback TCP: allow lo in it$' '^echo 3$' '^same$'
	lacks "$T/err" 'lo: done'
	end

	begin "a filter drops everything on lo: the self-test still ends with a verdict within seconds"
	doc "$NFT && nft add chain inet t in '{ policy drop; }'" 'nft list ruleset | grep -q "policy drop"' \
		'$L lo-echo -J'
	verdict 3 8000 '^lo-echo: tcp 127\.0\.0\.1: a packet filter drops loopback TCP' '^lo-echo: udp 127\.0\.0\.1: a packet filter drops loopback UDP'
	has "$T/out" '"ok":false,"exit":3'
	has "$T/out" '"diagnosis":\[\{"cause":"drop","detail":"a packet filter drops loopback TCP","fix":"allow lo in it"\},\{"cause":"drop","detail":"a packet filter drops loopback UDP"'
	end
}

t_routes()
{
	local del='ip route del table local 127.0.0.0/8 dev lo && ip route del table local 127.0.0.1 dev lo'
	local gone='! ip route show table local | grep -q "^local 127"'
	begin "the local routes for 127.0.0.0/8 deleted (address still on lo): exit 3, the route named with its fix"
	doc "$del" "$gone && ip addr show dev lo | grep -q 'inet 127.0.0.1/8'" '$L lo-send -p 9 -m x'
	verdict 3 3000 '^lo-send: 127\.0\.0\.1:9: no local route for 127\.0\.0\.0/8: run lo-echo --up, or ip route add local 127\.0\.0\.0/8 dev lo table local$'
	end

	begin "the local routes deleted: lo-echo --up adds them back and says so, once"
	doc "$del" "$gone" '$L lo-echo --up -c 10 && $L lo-echo --up -c 10 && ip route show table local >&2'
	verdict 0 5000 '^lo-echo: lo: done: ip route add local 127\.0\.0\.0/8 dev lo table local$' '^local 127\.0\.0\.0/8 dev lo'
	[ "$(grep -c '^lo-echo:' "$T/err")" = 1 ] || problem "not one line of lo-echo: $(oneline "$T/err")"
	end

	begin "the local route for ::1 deleted: lo-send -6 exit 3, named"
	ipv6_ok || { skip_test "no ::1 here"; return; }
	doc 'ip -6 route del table local ::1 dev lo' '! ip -6 route show table local | grep -q "^local ::1"' '$L lo-send -6 -p 9 -m x'
	verdict 3 3000 '^lo-send: \[::1\]:9: no local route for ::1: run lo-echo --up, or ip route add local ::1 dev lo table local$'
	end

	begin "::1 deleted from lo: lo-echo --up adds ::1 itself (no other address) and the ::1 check passes"
	doc 'ip -6 addr del ::1/128 dev lo' '! ip -6 addr show dev lo | grep -q "inet6 ::1/128"' \
		'$L lo-echo --up -c 10; echo "up $?" >&2; ip -6 addr show dev lo >&2'
	verdict 0 5000 '^up 0$' 'inet6 ::1/128 scope host' '^lo-echo: lo: done: ip addr add ::1 dev lo'
	lacks "$T/err" 'inet6 ::0\.1' "--up's address"
	end
}

t_rule()
{
	begin "the 'lookup local' rule deleted: exit 3 naming it; --up puts it back"
	doc 'ip rule del pref 0 lookup local' '! ip rule | grep -q "lookup local"' \
		'$L lo-send -p 9 -m x; echo "send $?" >&2; $L lo-echo --up -c 10; ip rule >&2'
	verdict 0 5000 '^lo-send: 127\.0\.0\.1:9: no rule "lookup local": run lo-echo --up, or ip rule add pref 0 lookup local$' \
		'^send 3$' '^lo-echo: lo: done: ip rule add pref 0 lookup local$' '^0:.*lookup local'
	end
}

t_mtu()
{
	begin "lo's MTU 60: the address is gone with it; exit 3 naming the MTU; --up repairs MTU and addresses"
	doc 'ip link set lo mtu 60' '! ip addr show dev lo | grep -q "inet 127"' \
		'$L lo-send -p 9 -m x; echo "send $?" >&2; $L lo-echo --up -c 10'
	verdict 0 5000 "^lo-send: 127\.0\.0\.1:9: lo's MTU 60 is too small \(IPv4 needs 68, IPv6 1280\): run lo-echo --up, or ip link set lo mtu 65536$" \
		'^send 3$' '^lo-echo: lo: done: ip link set lo mtu 65536$' '^lo-echo: lo: done: ip addr add 127\.0\.0\.1/8 dev lo$'
	has "$T/out" '^tcp 127\.0\.0\.1 .* PASS$'
	end

	begin "lo's MTU 1200: ::1 is gone (a note, its check skipped), 127.0.0.1 passes"
	ipv6_ok || { skip_test "no ::1 here"; return; }
	doc 'ip link set lo mtu 1200' '! ip -6 addr show dev lo | grep -q "::1"' '$L lo-echo -c 10; echo "echo $?" >&2; $L lo-send -6 -p 9 -m x'
	verdict 3 5000 "^lo-echo: note: lo's MTU 1200 is too small" '^echo 0$' "^lo-send: \[::1\]:9: lo's MTU 1200"
	has "$T/out" '^tcp ::1 .* SKIP'
	end
}

# two connections hold both ports of a two-port ephemeral range
HOLD='sysctl -qw net.ipv4.ip_local_port_range="40000 40001" && { python3 -c "
import socket, sys, time
s = socket.socket(); s.bind((\"127.0.0.1\", 7001)); s.listen(5)
c = [socket.create_connection((\"127.0.0.1\", 7001)) for i in range(2)]
open(sys.argv[1], \"w\").write(\"x\"); time.sleep(15)" "$T/ready" & } && '"$READY"

t_ports()
{
	have_cmd python3 || { skip "no free local port" "python3 not installed"; return; }
	begin "ephemeral ports used up (a range of two): lo-send exit 1 naming the range and its size"
	doc "$HOLD" 'sysctl -n net.ipv4.ip_local_port_range | grep -q "40000.*40001"' '$L lo-send -p 7001 -m x'
	verdict 1 3000 '^lo-send: 127\.0\.0\.1:7001: no free local port \(ephemeral range 40000-40001, 2 ports\): widen net\.ipv4\.ip_local_port_range$'
	end

	begin "ephemeral ports used up: lo-echo exit 1, no free port (not 'address already in use')"
	doc "$HOLD" 'sysctl -n net.ipv4.ip_local_port_range | grep -q "40000.*40001"' '$L lo-echo -c 10'
	verdict 1 3000 '^lo-echo: 127\.0\.0\.1: no free local port \(ephemeral range 40000-40001, 2 ports\)'
	end
}

t_self()
{
	begin "lo-send -w 1 -p 40000 inside the ephemeral range, nothing listening: no self-connect, exit 1"
	doc 'sysctl -qw net.ipv4.ip_local_port_range="40000 40001"' 'sysctl -n net.ipv4.ip_local_port_range | grep -q "^40000"' \
		'$L lo-send -w 1 -p 40000 -m hello'
	verdict 1 4000 '^lo-send: 127\.0\.0\.1:40000: connected to itself \(nothing listens; port 40000 is ephemeral 40000-40001, 2 ports\): use another port$'
	empty "$T/out" stdout
	end
}

t_family()
{
	ipv6_ok || { skip "listening on the other family" "no ::1 here"; return; }
	begin "a listener on [::1]:5000 only, lo-send -p 5000: exit 1, 'but [::1]:5000 listens: use -6'"
	doc '{ $L lo-recv -6 -p 5000 -t 15 -P $T/ready & } && '"$READY" 'true' '$L lo-send -p 5000 -m x'
	verdict 1 3000 '^lo-send: 127\.0\.0\.1:5000: connection refused, but \[::1\]:5000 listens: use -6$'
	end

	begin "a listener on 127.0.0.1:5000 only, lo-send -6 -p 5000: 'use -a 127.0.0.1'"
	doc '{ $L lo-recv -p 5000 -t 15 -P $T/ready & } && '"$READY" 'true' '$L lo-send -6 -p 5000 -m x'
	verdict 1 3000 '^lo-send: \[::1\]:5000: connection refused, but 127\.0\.0\.1:5000 listens: use -a 127\.0\.0\.1$'
	end
}

t_timewait()
{
	have_cmd python3 || { skip "TIME_WAIT" "python3 not installed"; return; }
	begin "the seed receiver (no SO_REUSEADDR) closed first: lo-recv -p 9999 names the TIME_WAIT, its time, why"
	doc 'python3 -c "
import socket, time
s = socket.socket(); s.bind((\"127.0.0.1\", 9999)); s.listen(1)
c = socket.create_connection((\"127.0.0.1\", 9999)); a, _ = s.accept(); a.close(); time.sleep(0.2); c.close(); s.close()"' \
		'ss -tan state time-wait | grep -q ":9999 "' '$L lo-recv -p 9999 -t 1'
	verdict 1 3000 '^lo-recv: 127\.0\.0\.1:9999: in use only by 1 TIME_WAIT sockets for [0-9]+ s \(made without SO_REUSEADDR, no listener can take the port\): wait, or use another port$'
	end
}

# a listener with a backlog of 0 whose one place is taken; it accepts
# after $1 s (never: 99) and answers
FULL='{ python3 -c "
import socket, sys, time
s = socket.socket(); s.bind((\"127.0.0.1\", 7002)); s.listen(0)
c = socket.socket(); c.connect((\"127.0.0.1\", 7002))
open(sys.argv[1], \"w\").write(\"x\"); time.sleep(float(sys.argv[2]))
for i in range(2):
    a, _ = s.accept()
a.recv(100); a.sendall(b\"served\"); a.close(); time.sleep(1)" "$T/ready" '

t_queue()
{
	have_cmd python3 || { skip "queue full" "python3 not installed"; return; }
	begin "a listener whose accept queue is full: named within seconds, exit 4 at the -t bound"
	doc "$FULL 99 & } && $READY" 'ss -ltn | grep -q "^LISTEN *1 *0 .*:7002 "' '$L lo-send -t 4 -p 7002 -m x'
	verdict 4 8000 "^lo-send: 127\.0\.0\.1:7002: the listener's queue is full \(1\) \(still waiting\)$" \
		"^lo-send: 127\.0\.0\.1:7002: the listener's queue is full \(1\): make it accept$"
	end

	begin "a slow listener (queue full for 3 s) is still served: lo-send exit 0"
	doc "$FULL 3 & } && $READY" 'ss -ltn | grep -q "^LISTEN *1 *0 .*:7002 "' '$L lo-send -p 7002 -m x'
	verdict 0 15000 'still waiting'
	content "$T/out" served
	end
}

t_qdisc()
{
	begin "a queueing discipline on lo: lo-echo passes with a note naming it (and -J: qdisc)"
	doc 'tc qdisc add dev lo root tbf rate 100mbit burst 64kb latency 50ms' 'tc qdisc show dev lo | grep -q tbf' \
		'$L lo-echo -c 10 -J'
	verdict 0 5000 '^lo-echo: note: a qdisc \(tbf\) on lo delays or drops traffic: tc qdisc del dev lo root$'
	has "$T/out" '"cause":"qdisc","detail":"a qdisc \(tbf\) on lo'
	end

	begin "netem loss 100% on lo: lo-send -t 3 exit 4 naming the qdisc"
	if ! unshare -n tc qdisc add dev lo root netem loss 100% 2>/dev/null; then skip_test "no netem"; return; fi
	doc 'tc qdisc add dev lo root netem loss 100%' 'tc qdisc show dev lo | grep -q netem' '$L lo-send -t 3 -p 7003 -m x'
	verdict 4 5000 'a qdisc \(netem\) on lo delays or drops traffic: tc qdisc del dev lo root$'
	end
}

t_sandbox()
{
	have_cmd gcc || have_cmd cc || { skip "sandbox" "no C compiler for the seccomp wrapper"; return; }
	${CC_HOST:-cc} -O2 -o "$T/seccomp" "$TOP/tests/seccomp.c" 2>"$T/ccerr" || { skip "sandbox" "seccomp wrapper: $(oneline "$T/ccerr")"; return; }
	begin "seccomp: socket(AF_INET) EPERM: exit 3, a sandbox (seccomp) named"
	doc 'true' '! $T/seccomp socket 1 2 -- python3 -c "import socket; socket.socket()"' '$T/seccomp socket 1 2 -- $L lo-send -p 9 -m x'
	verdict 3 3000 '^lo-send: 127\.0\.0\.1:9: a sandbox \(seccomp\) forbids the socket \(operation not permitted\): allow it there$'
	end

	begin "seccomp: connect EACCES: exit 3, a sandbox named; lo-echo too"
	doc 'true' 'true' '$T/seccomp connect 13 -- $L lo-send -p 9 -m x; echo "send $?" >&2; $T/seccomp connect 13 -- $L lo-echo -c 5'
	verdict 3 5000 '^lo-send: 127\.0\.0\.1:9: a sandbox \(seccomp\) forbids the socket \(permission denied\)' '^send 3$' \
		'^lo-echo: tcp 127\.0\.0\.1: a sandbox \(seccomp\)'
	end

	begin "IPv6 not in the kernel (socket(AF_INET6) EAFNOSUPPORT): the self-test notes it and skips ::1, exit 0"
	doc 'true' 'true' '$T/seccomp socket 97 10 -- $L lo-echo -c 10'
	verdict 0 5000 '^lo-echo: note: ::1 is not available: '
	has "$T/out" '^tcp ::1 .* SKIP'
	has "$T/out" '^tcp 127\.0\.0\.1 .* PASS$'
	end

	begin "lo-serve -A 0 where no peer owner can be known (no sock_diag, no /proc): exit 1 at startup, says what to do"
	rm -f "$T/res"
	T unshare -m bash -c 'mount -t tmpfs none /proc && ! [ -e /proc/net/tcp ] || exit 9
		"$1" socket 97 16 -- "$2" lo-serve -A 0 -p 0 -m hi >"$3/out" 2>"$3/err"; echo "$? 0" >"$3/res"' \
		sh "$T/seccomp" "$LOOPBOX" "$T"
	verdict 1 3000 "^lo-serve: -A: no TCP peer's owner can be known \(no inet_diag, no /proc\): modprobe inet_diag tcp_diag, or mount /proc$"
	end
}

t_hosts()
{
	begin "/etc/hosts without localhost: a note (exit 0); -J: the hosts cause"
	printf '127.0.0.1 box\n::1 box6\n' >"$T/hosts"
	rm -f "$T/res"
	T unshare -m bash -c 'mount --bind "$2" /etc/hosts && ! grep -q localhost /etc/hosts || exit 9
		"$1" lo-echo -c 10 -J >"$3/out" 2>"$3/err"; echo "$? 0" >"$3/res"' sh "$LOOPBOX" "$T/hosts" "$T"
	verdict 0 5000 '^lo-echo: note: /etc/hosts lacks localhost: add: 127\.0\.0\.1 localhost$'
	has "$T/out" '"cause":"hosts"'
	end
}

t_noproc()
{
	begin "no /proc: the doctor still names lo down, a missing route, a drop (-J lo-down too)"
	rm -f "$T/res"
	T unshare -mn bash -c 'mount -t tmpfs none /proc || exit 9
		"$1" lo-echo -J >"$2/out" 2>"$2/err"; echo "lo $?" >>"$2/err"
		ip link set lo up && ip route del table local 127.0.0.0/8 dev lo && ip route del table local 127.0.0.1 dev lo
		"$1" lo-send -p 9 -m x 2>>"$2/err"; echo "route $?" >>"$2/err"
		"$1" lo-echo --up -c 5 >/dev/null 2>>"$2/err"; echo "up $?" >>"$2/err"
		echo "0 0" >"$2/res"' sh "$LOOPBOX" "$T"
	verdict 0 8000 '^lo 3$' \
		'^lo-send: 127\.0\.0\.1:9: no local route for 127\.0\.0\.0/8' '^route 3$' '^up 0$'
	has "$T/out" '"diagnosis":\[\{"cause":"lo-down","detail":"loopback interface lo is down","fix":"run lo-echo --up, or ip link set lo up"\}\]'
	end
}

if [ -n "${LB_QEMU:-}" ]; then
	# qemu-user has no NETLINK_SOCK_DIAG and passes prctl(PR_GET_SECCOMP)
	# through its own filter state: the doctor is tested natively
	skip "the loopback doctor" "under qemu-user: no sock_diag"
elif ! netns_lo_ok || ! have_cmd nft; then
	skip "the loopback doctor" "unshare -n, ip or nft not available"
else
	t_tcp_drop
	t_tcp_reject
	t_udp
	t_routes
	t_rule
	t_mtu
	t_ports
	t_self
	t_family
	t_timewait
	t_queue
	t_qdisc
	t_sandbox
	t_hosts
	t_noproc
fi
