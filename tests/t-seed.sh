# t-seed.sh - the seed programs (shared/seed: server.cpp and client.cpp on
# 8080, sender.c and receiver.c on 9999), compiled as they stand, against
# lo-recv and lo-send in both directions.
#
# They use fixed ports, the seed servers set no SO_REUSEADDR (a TIME_WAIT
# left on 8080 or 9999 by one test would make the next one's bind fail),
# and the seed server binds INADDR_ANY: so each test runs in a network
# namespace of its own (lo up, nothing else) when unshare -n works. No
# clash with anything on the host, nothing reachable beyond it. Otherwise
# they run on the host, one at a time, skipping a port that is busy.
# needs:
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" = --one ]; then	# bash t-seed.sh --one TEST BINDIR ARGS...
	B=$3
else
	B=$T/bin
	mkdir -p "$B"
	SEED=${SEED:-}
	for d in "$TOP/../shared/seed" /work/shared/seed; do
		[ -z "$SEED" ] && [ -f "$d/server.cpp" ] && SEED=$d
	done
	if [ -z "$SEED" ]; then
		skip "seed programs" "shared/seed not found beside the repository"
		exit 0
	fi
	for f in server.cpp client.cpp sender.c receiver.c; do
		begin "seed $f compiles"
		cc=gcc
		case $f in *.cpp) cc=g++ ;; esac
		if ! have_cmd $cc; then
			skip_test "no $cc"
			continue
		fi
		timeout 120 $cc -w -o "$B/${f%.*}" "$SEED/$f" >"$T/cc.log" 2>&1 || problem "$(oneline "$T/cc.log")"
		end
	done
fi

# port_free PORT: on the host, skip the test when something holds PORT
# (listening, or a TIME_WAIT that the seed programs cannot bind over).
port_free()
{
	local hex
	hex=$(printf ':%04X ' "$1")
	if grep -q "^ *[0-9]*: [0-9A-F]*$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
		skip_test "port $1 busy on this host"
		return 1
	fi
}

t_client_to_recv()
{
	begin "seed client -> lo-recv -p 8080 -m 'Hello from server'${1:-}"
	have lo-recv || { skip_test "lo-recv not built"; return; }
	[ -x "$B/client" ] || { skip_test "no seed client"; return; }
	port_free 8080 || return
	rm -f "$T/pf"
	lb lo-recv -p 8080 -P "$T/pf" -m "Hello from server" >"$T/rout" 2>"$T/rerr" & RPID=$!
	wait_file "$T/pf" $RPID || problem "lo-recv did not listen: $(oneline "$T/rerr")"
	T "$B/client" >"$T/cout" 2>&1; rc_is 0 $? "seed client" "$T/cout"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	has "$T/cout" '^Hello from server$' "client's output"
	content "$T/rout" "Hello from client" "lo-recv's output"
	empty "$T/rerr"
	end
}

t_send_to_server()
{
	begin "lo-send -p 8080 -m 'Hello from client' -> seed server${1:-}"
	have lo-send || { skip_test "lo-send not built"; return; }
	[ -x "$B/server" ] || { skip_test "no seed server"; return; }
	port_free 8080 || return
	T "$B/server" >"$T/vout" 2>&1 & local sp=$!
	# no probe: it would take the server's only accept; lo-send retries
	lb lo-send -w 5 -p 8080 -m "Hello from client" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $sp; rc_is 0 $? "seed server" "$T/vout"
	content "$T/sout" "Hello from server" "lo-send's output"
	has "$T/vout" '^Hello from client$' "server's output"
	empty "$T/serr"
	end
}

t_sender_to_recv()
{
	begin "seed sender -> lo-recv -p 9999"
	have lo-recv || { skip_test "lo-recv not built"; return; }
	[ -x "$B/sender" ] || { skip_test "no seed sender"; return; }
	port_free 9999 || return
	rm -f "$T/pf9"
	lb lo-recv -p 9999 -P "$T/pf9" >"$T/rout" 2>"$T/rerr" & RPID=$!
	wait_file "$T/pf9" $RPID || problem "lo-recv did not listen: $(oneline "$T/rerr")"
	T "$B/sender" >"$T/cout" 2>&1; rc_is 0 $? "seed sender" "$T/cout"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" "hello, world!" "lo-recv's output"
	end
}

t_send_to_receiver()
{
	begin "lo-send -p 9999 -m 'hello, world!' -> seed receiver"
	have lo-send || { skip_test "lo-send not built"; return; }
	[ -x "$B/receiver" ] || { skip_test "no seed receiver"; return; }
	port_free 9999 || return
	T "$B/receiver" >"$T/vout" 2>&1 & local sp=$!
	lb lo-send -w 5 -p 9999 -m "hello, world!" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $sp; rc_is 0 $? "seed receiver" "$T/vout"
	content "$T/vout" $'received: hello, world!\n' "receiver's output"
	empty "$T/sout"
	end
}

t_send_too_much()
{
	begin "lo-send 100 kB to the seed receiver (it reads 1 kB): exit 1, not 0"
	have lo-send || { skip_test "lo-send not built"; return; }
	[ -x "$B/receiver" ] || { skip_test "no seed receiver"; return; }
	port_free 9999 || return
	head -c 100000 /dev/zero | tr '\0' x >"$T/much"
	T "$B/receiver" >"$T/vout" 2>&1 & local sp=$!
	lb lo-send -w 5 -p 9999 "$T/much" >"$T/sout" 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" '^lo-send: 127\.0\.0\.1:9999: .*(reset|pipe).*[0-9]+ bytes sent'
	lines "$T/serr" 1
	wait $sp; rc_is 0 $? "seed receiver" "$T/vout"
	end
}

if [ "${1:-}" = --one ]; then
	"$2" "${@:4}"
	exit
fi

# run TEST ARGS...: in a namespace of its own where possible.
if netns_lo_ok; then
	run() { unshare -n bash -c 'ip link set lo up && exec bash "$0" --one "$@"' "$0" "$1" "$B" "${@:2}"; }
else
	run() { "$@"; }
fi
run t_client_to_recv
run t_send_to_server
run t_sender_to_recv
run t_send_to_receiver
run t_send_too_much
# once more: nothing left behind (a stale listener) in the way
run t_send_to_server " (again)"
run t_client_to_recv " (again)"
