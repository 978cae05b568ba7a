# t-peers.sh - lo-send and lo-recv against real peers: python3 sockets,
# socat and OpenBSD nc, both directions, where they are installed.
# needs: lo-send lo-recv
source "$(dirname "$0")/lib.sh"

head -c 4M /dev/urandom >"$T/data"
head -c 16M /dev/urandom >"$T/big"

# ---- python3 ----

cat >"$T/peer.py" <<'EOF'
import os, socket, sys, time

mode = sys.argv[1]

def listen(portfile):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    c, _ = s.accept()
    return c

def read_all(c):
    n = 0
    while True:
        d = c.recv(1 << 20)
        if not d:
            return n
        n += len(d)

if mode == "count":            # read to EOF, answer with the count, close
    c = listen(sys.argv[2])
    n = read_all(c)
    c.sendall(b"got %d bytes" % n)
    c.close()
elif mode == "echo":           # echo everything back, close at EOF
    c = listen(sys.argv[2])
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
elif mode == "hold":           # accept, never read, never close
    c = listen(sys.argv[2])
    time.sleep(30)
elif mode == "client":         # send a file, half-close, print the reply
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    with open(sys.argv[3], "rb") as f:
        c.sendall(f.read())
    c.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        out += d
    sys.stdout.buffer.write(out)
elif mode == "early":          # is a reply sent before we speak?
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    c.settimeout(0.3)
    try:
        d = c.recv(100)
        print("early reply: %r" % d)
    except socket.timeout:
        pass
    c.settimeout(10)
    c.sendall(b"question")
    c.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = c.recv(100)
        if not d:
            break
        out += d
    print("reply: %s" % out.decode())
elif mode == "close":          # connect and close at once, sending nothing
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    c.close()
EOF

# py_server MODE: python3 peer.py MODE in the background; sets PPID_ and PORT.
py_server()
{
	rm -f "$T/ppf"
	T python3 "$T/peer.py" "$1" "$T/ppf" >"$T/pout" 2>"$T/perr" & PPID_=$!
	wait_file "$T/ppf" $PPID_ || { problem "python server did not listen: $(oneline "$T/perr")"; return 1; }
	PORT=$(cat "$T/ppf")
}

t_py_count()
{
	begin "lo-send 4 MiB -> python server: all read, its reply printed"
	py_server count || { end; return; }
	lb lo-send -p "$PORT" "$T/data" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $PPID_; rc_is 0 $? python "$T/perr"
	content "$T/sout" "got 4194304 bytes"
	end
}

t_py_echo()
{
	begin "lo-send 16 MiB -> python echo server: the echo comes back byte-exact"
	py_server echo || { end; return; }
	lb lo-send -p "$PORT" "$T/big" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $PPID_; rc_is 0 $? python "$T/perr"
	same "$T/big" "$T/sout"
	end
}

t_py_hold()
{
	begin "lo-send -t 0.5 -> a python server that never answers: exit 4"
	py_server hold || { end; return; }
	lb lo-send -t 0.5 -p "$PORT" -m x >"$T/sout" 2>"$T/serr"; rc_is 4 $? lo-send "$T/serr"
	has "$T/serr" '^lo-send: idle timeout'
	lines "$T/serr" 1
	killtree $PPID_; wait $PPID_ 2>/dev/null
	end
}

t_py_client()
{
	begin "python client -> lo-recv -m REPLY: data stored, reply read"
	recv_start -m "the reply" -o "$T/got" || { end; return; }
	T python3 "$T/peer.py" client "$PORT" "$T/data" >"$T/pout" 2>"$T/perr"; rc_is 0 $? python "$T/perr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	same "$T/data" "$T/got"
	content "$T/pout" "the reply"
	end
}

t_py_early()
{
	begin "lo-recv -m REPLY waits until the client speaks (no reply on connect)"
	recv_start -m "the reply" || { end; return; }
	T python3 "$T/peer.py" early "$PORT" >"$T/pout" 2>"$T/perr"; rc_is 0 $? python "$T/perr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/pout" $'reply: the reply\n'
	content "$T/rout" question
	end
}

t_py_close()
{
	begin "a client that connects and closes, sending nothing: lo-recv exit 0, no output"
	recv_start || { end; return; }
	T python3 "$T/peer.py" close "$PORT" >"$T/pout" 2>"$T/perr"; rc_is 0 $? python "$T/perr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	empty "$T/rout"
	end
}

if have_cmd python3; then
	t_py_count
	t_py_echo
	t_py_hold
	t_py_client
	t_py_early
	t_py_close
else
	for t in count echo hold client early close; do skip "python3 peer: $t" "python3 not installed"; done
fi

# ---- socat ----

t_socat_to_recv()
{
	begin "socat -> lo-recv: 4 MiB byte-exact"
	recv_start -o "$T/got" || { end; return; }
	T socat -u "OPEN:$T/data" "TCP:127.0.0.1:$PORT" >"$T/cout" 2>"$T/cerr"; rc_is 0 $? socat "$T/cerr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	same "$T/data" "$T/got"
	end
}

t_socat_reply()
{
	begin "socat client <-> lo-recv -m REPLY: the reply comes back"
	recv_start -m "socat reply" || { end; return; }
	printf 'request' | T socat - "TCP:127.0.0.1:$PORT" >"$T/cout" 2>"$T/cerr"; rc_is 0 $? socat "$T/cerr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/cout" "socat reply"
	content "$T/rout" request
	end
}

t_send_to_socat()
{
	begin "lo-send -> socat listener: 4 MiB byte-exact"
	local p
	p=$(free_port) || { problem "no free port"; end; return; }
	T socat -u "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr" "CREATE:$T/got" 2>"$T/cerr" & local cp=$!
	lb lo-send -w 5 -p "$p" "$T/data" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $cp; rc_is 0 $? socat "$T/cerr"
	same "$T/data" "$T/got"
	end
}

t_send_to_socat_echo()
{
	begin "lo-send 16 MiB -> socat EXEC:cat echo: back byte-exact"
	local p
	p=$(free_port) || { problem "no free port"; end; return; }
	T socat "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr" EXEC:cat 2>"$T/cerr" & local cp=$!
	lb lo-send -w 5 -p "$p" "$T/big" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $cp; rc_is 0 $? socat "$T/cerr"
	same "$T/big" "$T/sout"
	end
}

if have_cmd socat; then
	t_socat_to_recv
	t_socat_reply
	t_send_to_socat
	t_send_to_socat_echo
else
	for t in "socat -> lo-recv" "socat <-> lo-recv -m" "lo-send -> socat" "lo-send -> socat echo"; do
		skip "$t" "socat not installed"
	done
fi

# ---- OpenBSD nc ----

t_nc_to_recv()
{
	begin "nc -N -> lo-recv -m REPLY: data stored, reply printed"
	recv_start -m "nc reply" -o "$T/got" || { end; return; }
	T nc -N 127.0.0.1 "$PORT" <"$T/data" >"$T/cout" 2>"$T/cerr"; rc_is 0 $? nc "$T/cerr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	same "$T/data" "$T/got"
	content "$T/cout" "nc reply"
	end
}

t_send_to_nc()
{
	begin "lo-send -> nc -l: data stored, nc's reply printed"
	local p
	p=$(free_port) || { problem "no free port"; end; return; }
	printf 'nc says hi' | T nc -N -l 127.0.0.1 "$p" >"$T/got" 2>"$T/cerr" & local cp=$!
	lb lo-send -w 5 -p "$p" "$T/data" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	wait $cp; rc_is 0 $? nc "$T/cerr"
	same "$T/data" "$T/got"
	content "$T/sout" "nc says hi"
	end
}

if have_cmd nc && nc -h 2>&1 | grep -q OpenBSD; then
	t_nc_to_recv
	t_send_to_nc
else
	skip "nc -N -> lo-recv" "OpenBSD nc not installed"
	skip "lo-send -> nc -l" "OpenBSD nc not installed"
fi
