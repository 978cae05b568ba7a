# t-data.sh - byte-exactness: 64 MiB of random bytes through files, pipes
# and the splice path, NUL bytes, every byte value, empty input, several
# FILE operands in order with - among them.
# needs: lo-send lo-recv
source "$(dirname "$0")/lib.sh"

head -c 64M /dev/urandom >"$T/big"

# xfer NAME SEND-SHELL RECV-SHELL EXPECTED-FILE OUTPUT-FILE
# Runs lo-recv (through RECV-SHELL, which must write OUTPUT-FILE) and
# lo-send (SEND-SHELL); $PF is lo-recv's port file, $PORT the port.
# Both shells run bounded; their exit codes come back in RS and RR.
xfer()
{
	local name=$1 send=$2 recv=$3 want=$4 got=$5
	begin "$name"
	rm -f "$got" "$T/pf" "$T/rerr" "$T/serr"
	PF=$T/pf
	T bash -c "$recv" 2>"$T/rerr" & local rp=$!
	if ! wait_file "$PF" $rp; then
		problem "lo-recv did not listen: $(oneline "$T/rerr")"
	else
		PORT=$(cat "$PF")
		T bash -c "$send" 2>"$T/serr"; rc_is 0 $? "lo-send side" "$T/serr"
	fi
	wait $rp; rc_is 0 $? "lo-recv side" "$T/rerr"
	same "$want" "$got"
	end
}
export LOOPBOX T
L='"$LOOPBOX"'

xfer "64 MiB random, FILE operand -> -o FILE" \
	"$L lo-send -p \$(cat \$T/pf) \$T/big" \
	"$L lo-recv -p 0 -P \$T/pf -o \$T/got" "$T/big" "$T/got"
xfer "64 MiB random, stdin from a file -> stdout to a file" \
	"$L lo-send -p \$(cat \$T/pf) < \$T/big" \
	"$L lo-recv -p 0 -P \$T/pf > \$T/got" "$T/big" "$T/got"
xfer "64 MiB random, stdin from a pipe -> stdout to a pipe (splice)" \
	"cat \$T/big | $L lo-send -p \$(cat \$T/pf)" \
	"set -o pipefail; $L lo-recv -p 0 -P \$T/pf | cat > \$T/got" "$T/big" "$T/got"
xfer "64 MiB random into a slow pipe reader (the pipe fills up)" \
	"$L lo-send -p \$(cat \$T/pf) \$T/big" \
	"set -o pipefail; $L lo-recv -p 0 -P \$T/pf | (sleep 0.5; cat > \$T/got)" "$T/big" "$T/got"
xfer "64 MiB random, stdin '-' operand -> -o FILE" \
	"$L lo-send -p \$(cat \$T/pf) - < \$T/big" \
	"$L lo-recv -p 0 -P \$T/pf -o \$T/got" "$T/big" "$T/got"

head -c 1M /dev/zero >"$T/zeros"
xfer "1 MiB of NUL bytes" \
	"$L lo-send -p \$(cat \$T/pf) < \$T/zeros" \
	"$L lo-recv -p 0 -P \$T/pf > \$T/got" "$T/zeros" "$T/got"

for i in $(seq 0 255); do printf "\\$(printf %03o "$i")"; done >"$T/bytes"
xfer "every byte value 0-255" \
	"$L lo-send -p \$(cat \$T/pf) \$T/bytes" \
	"$L lo-recv -p 0 -P \$T/pf | cat > \$T/got" "$T/bytes" "$T/got"

printf 'a\0b\0\0c\n\0' >"$T/nuls"
xfer "NULs among text, through a pipe both ways" \
	"cat \$T/nuls | $L lo-send -p \$(cat \$T/pf)" \
	"$L lo-recv -p 0 -P \$T/pf | cat > \$T/got" "$T/nuls" "$T/got"

: >"$T/empty"
xfer "empty stdin: 0 bytes, both exit 0" \
	"$L lo-send -p \$(cat \$T/pf) < /dev/null" \
	"$L lo-recv -p 0 -P \$T/pf > \$T/got" "$T/empty" "$T/got"
xfer "an empty FILE operand: 0 bytes, both exit 0" \
	"$L lo-send -p \$(cat \$T/pf) \$T/empty" \
	"$L lo-recv -p 0 -P \$T/pf -o \$T/got" "$T/empty" "$T/got"
xfer "empty input into a pipe (splice at EOF)" \
	"$L lo-send -p \$(cat \$T/pf) < /dev/null" \
	"set -o pipefail; $L lo-recv -p 0 -P \$T/pf | cat > \$T/got" "$T/empty" "$T/got"

printf 'first\n' >"$T/f1"
printf 'second, no newline' >"$T/f2"
head -c 300000 /dev/urandom >"$T/f3"
printf 'from stdin\n' >"$T/fin"
cat "$T/f1" "$T/fin" "$T/f2" "$T/empty" "$T/f3" "$T/f1" >"$T/fwant"
xfer "several FILEs in order, - (stdin) among them" \
	"$L lo-send -p \$(cat \$T/pf) \$T/f1 - \$T/f2 \$T/empty \$T/f3 \$T/f1 < \$T/fin" \
	"$L lo-recv -p 0 -P \$T/pf -o \$T/got" "$T/fwant" "$T/got"

cat "$T/f1" "$T/f2" "$T/f3" >"$T/fwant2"
xfer "several FILEs from a pipe into a pipe" \
	"cat \$T/f2 | $L lo-send -p \$(cat \$T/pf) \$T/f1 - \$T/f3" \
	"$L lo-recv -p 0 -P \$T/pf | cat > \$T/got" "$T/fwant2" "$T/got"

t_counts()
{
	begin "-v counts 64 MiB exactly on both ends"
	recv_start -v -o /dev/null || { end; return; }
	lb lo-send -v -p "$PORT" "$T/big" >/dev/null 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	has "$T/serr" '^lo-send: sent 67108864 bytes, received 0 bytes'
	has "$T/rerr" '^lo-recv: sent 0 bytes, received 67108864 bytes'
	end
}

t_missing()
{
	begin "a missing FILE: lo-send exit 1 naming it, before connecting"
	recv_start -t 10 || { end; return; }
	lb lo-send -p "$PORT" "$T/f1" "$T/nope" >/dev/null 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	content "$T/serr" "lo-send: $T/nope: no such file or directory"$'\n'
	# lo-recv saw nothing and still takes the next client
	lb lo-send -p "$PORT" -m after >/dev/null 2>"$T/serr"; rc_is 0 $? "next lo-send" "$T/serr"
	recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
	content "$T/rout" after
	end
}

t_unreadable()
{
	begin "a FILE that fails mid-way (a directory): lo-send exit 1, lo-recv exit 1 (no clean end)"
	mkdir -p "$T/adir"
	recv_start || { end; return; }
	lb lo-send -p "$PORT" "$T/f1" "$T/adir" >/dev/null 2>"$T/serr"; rc_is 1 $? lo-send "$T/serr"
	has "$T/serr" "^lo-send: $T/adir: is a directory"
	lines "$T/serr" 1
	recv_wait; rc_is 1 "$RRC" lo-recv "$T/rerr"
	has "$T/rerr" 'reset'
	end
}

t_counts
t_missing
t_unreadable
