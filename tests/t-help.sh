# t-help.sh - each applet's usage, pinned: --help prints exactly
# tests/help/APPLET.txt, and the usage and the parser agree, as both come
# from the applet's option table: every letter the usage lists is taken
# (never "unknown option"), each once, and a letter it does not list is
# refused.
# needs:
source "$(dirname "$0")/lib.sh"

for a in lo-send lo-recv lo-serve lo-echo; do
	have "$a" || { skip "$a --help" "not built"; continue; }
	begin "$a --help: exactly tests/help/$a.txt, exit 0, nothing on stderr"
	lb "$a" --help >"$T/out" 2>"$T/err"; rc_is 0 $? "$a --help" "$T/err"
	same "$T/out" "$TOP/tests/help/$a.txt"
	empty "$T/err"
	end

	begin "$a: the usage lists each option once, and the parser takes each one listed"
	letters=$(sed -n 's/^ -\([A-Za-z0-9]\)[ ].*/\1/p' "$T/out")
	[ -n "$letters" ] || problem "no option lines"
	dup=$(printf '%s\n' $letters | sort | uniq -d)
	[ -z "$dup" ] || problem "listed twice: $dup"
	for c in $letters; do
		[ "$c" = h ] && continue
		lb "$a" -"$c" </dev/null >/dev/null 2>"$T/e"
		lacks "$T/e" "unknown option" "-$c"
	done
	end

	begin "$a: a letter the usage does not list is refused (exit 2)"
	for c in x K y Z 9 j; do
		case " $letters " in *" $c "*) continue ;; esac
		lb "$a" -"$c" </dev/null >/dev/null 2>"$T/e"; rc_is 2 $? "$a -$c" "$T/e"
		has "$T/e" "^$a: -$c: unknown option" "-$c"
	done
	end
done
