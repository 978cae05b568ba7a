# t-multicall.sh - loopbox APPLET, links, --list, --install, --help,
# --version, unknown names, and an applet configured out at build time.
# needs:
source "$(dirname "$0")/lib.sh"

# Binaries built or copied here run the way the one under test does:
# under tests/cross/run through its emulator (LB_EXEC, LB_BINARY,
# LB_CROSS_COMPILE, LB_ELF_MACHINE), natively otherwise.
# elf_id FILE: "MACHINE CLASS DATA" from the ELF header, or nothing
elf_id()
{
	local h
	h=$(od -An -tu1 -N20 "$1" 2>/dev/null | tr -s ' \n' ' ') || return
	set -- $h
	[ $# = 20 ] && [ "$1 $2 $3 $4" = "127 69 76 70" ] || return
	if [ "$6" = 1 ]; then echo "$((${19} + ${20} * 256)) $5 $6"; else echo "$((${19} * 256 + ${20})) $5 $6"; fi
}
mk() { timeout 240 make -s -C "$T/src" BUILD=obj ${LB_CROSS_COMPILE:+CROSS_COMPILE="$LB_CROSS_COMPILE"} "$@"; }
# X CMD...: run a binary built here, bounded, the way the one under test runs
X() { T ${LB_EXEC:+"$LB_EXEC"} "$@"; }
want_em=${LB_ELF_MACHINE:-$(elf_id "$LOOPBOX")}

begin "--list names exactly the built applets"
lb --list >"$T/list" 2>"$T/err"; rc_is 0 $? --list
content "$T/list" "$(printf '%s\n' $APPLETS)"$'\n'
empty "$T/err"
end

begin "--version: one line on stdout, exit 0"
lb --version >"$T/out" 2>"$T/err"; rc_is 0 $? --version
has "$T/out" '^loopbox [0-9]'
lines "$T/out" 1
empty "$T/err"
end

for h in --help -h; do
	begin "$h: usage and every applet on stdout, exit 0"
	lb $h >"$T/out" 2>"$T/err"; rc_is 0 $? $h
	has "$T/out" 'usage: loopbox'
	for a in $APPLETS; do has "$T/out" " $a( |\$)"; done
	empty "$T/err"
	end
done

begin "bare loopbox: usage on stderr, exit 2"
lb >"$T/out" 2>"$T/err"; rc_is 2 $? loopbox
has "$T/err" 'usage: loopbox'
empty "$T/out"
end

begin "unknown applet: 'loopbox: NAME: applet not found', exit 127"
lb lo-nope -p 1 >"$T/out" 2>"$T/err"; rc_is 127 $? "loopbox lo-nope"
content "$T/err" "loopbox: lo-nope: applet not found
"
empty "$T/out"
end

begin "a link with an unknown name: exit 127"
ln -s "$LOOPBOX" "$T/frob"
T "$T/frob" >"$T/out" 2>"$T/err"; rc_is 127 $? frob
content "$T/err" "loopbox: frob: applet not found
"
end

for a in $APPLETS; do
	begin "loopbox $a --help: usage on stdout, exit 0"
	lb "$a" --help >"$T/out" 2>"$T/err"; rc_is 0 $? "$a --help"
	has "$T/out" "^usage: $a "
	empty "$T/err"
	end
done

# A copy of the binary in $T, so that hard links and --install stay on
# one file system wherever the tree is.
mkdir -p "$T/bin"
cp "$LOOPBOX" "$T/bin/loopbox"
LBCOPY=$T/bin/loopbox

if have lo-send && have lo-recv; then
	mkdir -p "$T/sym" "$T/hard"
	ln -s "$LBCOPY" "$T/sym/lo-send"
	ln -s "$LBCOPY" "$T/sym/lo-recv"
	ln "$LBCOPY" "$T/hard/lo-send"
	for kind in sym hard; do
		begin "dispatch through a $kind link named lo-send"
		recv_start || { end; continue; }
		T "$T/$kind/lo-send" -p "$PORT" -m "via $kind" >"$T/sout" 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
		recv_wait; rc_is 0 "$RRC" lo-recv "$T/rerr"
		content "$T/rout" "via $kind"
		end
	done

	begin "dispatch through a link named lo-recv"
	T "$T/sym/lo-recv" -p 0 -P "$T/pf" >"$T/rout" 2>"$T/rerr" & rp=$!
	if wait_file "$T/pf" $rp; then
		lb lo-send -p "$(cat "$T/pf")" -m linked 2>"$T/serr"; rc_is 0 $? lo-send "$T/serr"
	else
		problem "lo-recv link did not listen: $(oneline "$T/rerr")"
	fi
	wait $rp; rc_is 0 $? lo-recv "$T/rerr"
	content "$T/rout" linked
	end
else
	skip "dispatch through links" "lo-send or lo-recv not built"
fi

# The links --install makes are the binary it runs as (/proc/self/exe).
# Under tests/cross/run, LOOPBOX is a wrapper script that runs the real
# binary (LB_BINARY) under qemu (LB_EXEC): there the copy is of the real
# binary, and it and its links are run through qemu, never exec'd
# directly (the kernel would refuse the foreign ELF, and execvp would hand
# it to /bin/sh as a script).
if [ -n "${LB_BINARY:-}" ]; then
	mkdir -p "$T/real"
	cp "$LB_BINARY" "$T/real/loopbox"
	LBREAL=$T/real/loopbox
else
	LBREAL=$LBCOPY
fi
for s in "" -s; do
	begin "--install ${s:+$s }DIR: a working ${s:+symbolic }link per applet"
	d=$T/inst$s
	mkdir -p "$d"
	X "$LBREAL" --install $s "$d" >"$T/out" 2>"$T/err"; rc_is 0 $? "--install $s" "$T/err"
	got=$(cd "$d" && ls | sort | tr '\n' ' ')
	want=$(printf '%s\n' $APPLETS | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || problem "installed '$got', want '$want'"
	for a in $APPLETS; do
		if [ -n "$s" ]; then
			[ -L "$d/$a" ] && [ "$d/$a" -ef "$LBREAL" ] || problem "$a is not a symbolic link to the binary"
		else
			[ ! -L "$d/$a" ] && [ "$d/$a" -ef "$LBREAL" ] || problem "$a is not a hard link to the binary"
		fi
		X "$d/$a" --help >"$T/h" 2>&1 || problem "$d/$a --help failed"
		has "$T/h" "^usage: $a "
	done
	# again, over the links already there
	X "$LBREAL" --install $s "$d" 2>"$T/err"; rc_is 0 $? "second --install $s" "$T/err"
	end
done

begin "--install without DIR, or into a missing DIR: fails"
lb --install >/dev/null 2>"$T/err"; rc_is 2 $? "--install" "$T/err"
lines "$T/err" 1
lb --install "$T/no/such/dir" >/dev/null 2>"$T/err"; rc_is 1 $? "--install missing" "$T/err"
has "$T/err" '^loopbox: .*no/such/dir.*: '
lines "$T/err" 1
end

# An applet configured out: absent from --list, --help and the binary.
# Built for the target under test: under tests/cross/run with its compiler
# (LB_CROSS_COMPILE), run through its emulator (LB_EXEC), and its ELF
# machine checked against the binary under test's (LB_ELF_MACHINE). BUILD
# is given on the command line: the one tests/run exports (under
# tests/cross/run the directory of the qemu wrappers) is not this tree's.
begin "make CONFIG_LO_RECV=n leaves lo-recv out"
if ! have_cmd make; then
	skip_test "no make"
elif ! have lo-recv || ! have lo-send; then
	skip_test "lo-send or lo-recv not built here"
else
	mkdir -p "$T/src"
	cp -r "$TOP/core" "$TOP/applets" "$TOP/Makefile" "$TOP/Kbuild" "$T/src/"
	if ! mk CONFIG_LO_RECV=n >"$T/make.log" 2>&1; then
		problem "build failed: $(tail -c 300 "$T/make.log" | oneline /dev/stdin)"
	elif [ "$(elf_id "$T/src/loopbox")" != "$want_em" ]; then
		problem "built for ELF machine '$(elf_id "$T/src/loopbox")', not the tested binary's '$want_em'"
	else
		small=$T/src/loopbox
		X "$small" --list >"$T/list" 2>&1; rc_is 0 $? --list
		lacks "$T/list" '^lo-recv$' "--list"
		has "$T/list" '^lo-send$' "--list"
		X "$small" --help >"$T/h" 2>&1
		lacks "$T/h" 'lo-recv' "--help"
		X "$small" lo-recv -p 1 >/dev/null 2>"$T/err"; rc_is 127 $? "lo-recv in the small binary"
		has "$T/err" 'loopbox: lo-recv: applet not found'
		grep -aq 'usage: lo-recv' "$small" && problem "lo-recv's usage text is still in the binary"
		grep -aq 'usage: lo-send' "$small" || problem "lo-send's usage text is missing from the binary"
		# and the full build of the same tree has it
		if mk >"$T/make.log" 2>&1; then
			grep -aq 'usage: lo-recv' "$T/src/loopbox" || problem "the full build lacks lo-recv's usage text"
		else
			problem "full rebuild failed: $(tail -c 300 "$T/make.log" | oneline /dev/stdin)"
		fi
	fi
	end
fi
