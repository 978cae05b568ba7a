/* opt.c - one option parser for every applet.
 *
 * Each letter has one meaning and one type across loopbox (-c is always a
 * count, -t always an idle timeout), so a single table drives parsing,
 * range checks and the shared half of the help text. An applet passes the
 * letters it accepts; any other is a usage error.
 */
#include "lb.h"

#include <string.h>
#include <unistd.h>

enum { T_FLAG, T_STR, T_PORT, T_SECS, T_COUNT, T_SIZE, T_REST };

/* Types in LB_LETTERS order: p a 6 u U P t w v q h m o k c f e n A l s B J */
static const unsigned char type[] = {
	T_PORT, T_STR, T_FLAG, T_FLAG, T_STR, T_STR, T_SECS, T_SECS, T_FLAG,
	T_FLAG, T_FLAG, T_STR, T_STR, T_FLAG, T_COUNT, T_STR, T_REST, T_COUNT,
	T_STR, T_FLAG, T_SIZE, T_SIZE, T_FLAG,
};

#define OFF(f) offsetof(struct lb, f)
/* Where a string or number goes: byte offset into struct lb, 0 for none. */
static const unsigned char slot[] = {
	0, OFF(addr), 0, 0, OFF(path), OFF(portfile), OFF(idle_ms), OFF(wait_ms),
	0, 0, 0, OFF(msg), OFF(out), 0, OFF(count), OFF(file), 0, OFF(max),
	OFF(uids), 0, OFF(size), OFF(bulk), 0,
};

/* The shared half of every help text; a line is shown when its letter
 * (the character after " -") is one the applet accepts. */
static const char common[] =
	" -p PORT  port, 1-65535 (listeners: 0 lets the kernel choose)\n"
	" -a ADDR  loopback address: 127.0.0.0/8, ::1 or localhost (127.0.0.1)\n"
	" -6       same as -a ::1\n"
	" -u       UDP instead of TCP\n"
	" -U PATH  UNIX stream socket at PATH (@NAME: abstract)\n"
	" -P FILE  once listening, write the bound port to FILE\n"
	" -t SECS  give up when nothing moves for SECS (decimals allowed)\n"
	" -w SECS  retry a refused connect for up to SECS\n"
	" -v       report connections, bytes and rates on stderr\n"
	" -q       no messages but errors\n"
	" -h       this help\n";

int lb_optbit(int c)
{
	const char *p = lb_strchr(LB_LETTERS, c);
	return p && c ? (int)(p - LB_LETTERS) : 63;
}

static void usage(const char *text, const char *opts)
{
	lb_write(1, text, NULL);
	for (const char *l = common; *l;) {
		const char *e = lb_strchr(l, '\n') + 1;
		if (lb_strchr(opts, l[2]))
			if (write(1, l, e - l) < 0)
				break;
		l = e;
	}
	lb_exit(EX_OK);
}

_Noreturn static void bad(const char *opt, const char *val, const char *why)
{
	lb_write(2, lb.name, ": ", opt, val ? " " : "", val ? val : "", ": ", why, "\n", NULL);
	lb_exit(EX_USAGE);
}

static void set(int c, const char *arg)
{
	int bit = lb_optbit(c);
	char opt[3] = { '-', (char)c, 0 };
	void *dst = (char *)&lb + slot[bit];
	uint64_t v;
	long ms;

	switch (type[bit]) {
	case T_PORT:
		if (lb_num(arg, &v, 65535, 0))
			bad(opt, arg, "not a port (1-65535)");
		lb.port = (int)v;
		break;
	case T_STR:
		if (!*arg)
			bad(opt, NULL, "empty argument");
		*(const char **)dst = arg;
		break;
	case T_SECS:
		ms = lb_secs(arg);
		if (ms < 0 || (ms == 0 && c == 't'))
			bad(opt, arg, "not a time in seconds (0.001-86400)");
		*(long *)dst = ms;
		break;
	case T_COUNT:
		if (lb_num(arg, &v, UINT32_MAX, 0) || !v)
			bad(opt, arg, "not a count (1-4294967295)");
		*(uint64_t *)dst = v;
		break;
	case T_SIZE:
		if (lb_num(arg, &v, 1ULL << 40, 1))
			bad(opt, arg, "not a size (bytes; K, M, G allowed)");
		*(uint64_t *)dst = v;
		break;
	}
	if (c == 'v')
		lb.verbose++;
	lb.seen |= 1ULL << bit;
}

void lb_parse(char **argv, const char *opts, const char *longw, const char *text)
{
	char **out = argv;
	int dashdash = 0;

	lb.port = -1;
	lb.idle_ms = -1;
	lb.addr = "127.0.0.1";
	for (char **ap = argv + 1; *ap; ap++) {
		char *a = *ap;

		if (dashdash || a[0] != '-' || !a[1]) {
			*++out = a;		/* operand; "-" is stdin */
			continue;
		}
		if (a[1] == '-') {
			if (!a[2]) {
				dashdash = 1;
			} else if (!strcmp(a + 2, "help")) {
				usage(text, opts);
			} else if (longw && !strcmp(a + 2, longw)) {
				lb.longopt = longw;
			} else {
				bad(a, NULL, "unknown option (see --help)");
			}
			continue;
		}
		for (char *c = a + 1; *c; c++) {
			int bit = lb_optbit(*c);
			char opt[3] = { '-', *c, 0 };

			if (bit == 63 || !lb_strchr(opts, *c))
				bad(opt, NULL, "unknown option (see --help)");
			if (*c == 'h')
				usage(text, opts);
			if (type[bit] == T_REST) {
				if (c[1] || !ap[1])
					bad(opt, NULL, "needs PROG [ARGS...] after it");
				lb.exec = ap + 1;
				lb.seen |= 1ULL << bit;
				goto done;
			}
			if (type[bit] == T_FLAG) {
				set(*c, NULL);
				continue;
			}
			if (c[1]) {
				set(*c, c + 1);
			} else if (ap[1]) {
				set(*c, *++ap);
			} else {
				bad(opt, NULL, "needs an argument");
			}
			break;
		}
	}
done:
	out[1] = NULL;
	lb.args = argv + 1;
	lb.nargs = (int)(out - argv);
	if (lb.seen & OPT('6')) {
		if (lb.seen & OPT('a'))
			bad("-6", NULL, "conflicts with -a");
		lb.addr = "::1";
	}
	if ((lb.seen & OPT('U')) && (lb.seen & (OPT('a') | OPT('6') | OPT('u'))))
		bad("-U", NULL, "conflicts with -a, -6 and -u");
}
