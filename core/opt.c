/* opt.c - one option parser for every applet, driven by their tables.
 *
 * An applet's options are rows of one table (lb.h: struct lb_opt, built
 * from an X-macro list with LB_SPEC); the options most applets share are
 * the table below, and an applet names the letters it takes from it. A
 * letter means the same wherever it is taken (-c is always a count), but
 * what it does is the applet's: -t bounds the wait for a connection, for
 * the next byte, or (lo-echo) for each echo.
 */
#include "lb.h"

#include <string.h>
#include <unistd.h>

struct lb_opts lb_opts;

#define COMMON(X)								\
	X('p', LB_PORT, port, LB_SERVER | LB_CLIENT, " -p PORT  port, 1-65535 (listeners: 0 lets the kernel choose)") \
	X('a', LB_STR, addr, LB_SERVER | LB_CLIENT, " -a ADDR  loopback address: 127.0.0.0/8, ::1 or localhost (127.0.0.1)") \
	X('6', LB_FLAG, v6, LB_SERVER | LB_CLIENT, " -6       same as -a ::1")	\
	X('u', LB_FLAG, udp, LB_SERVER | LB_CLIENT, " -u       UDP instead of TCP") \
	X('U', LB_STR, path, LB_SERVER | LB_CLIENT, " -U PATH  UNIX stream socket at PATH (@NAME: abstract)") \
	X('P', LB_STR, portfile, LB_SERVER, " -P FILE  once listening, write the bound port to FILE") \
	X('t', LB_SECS, idle_ms, LB_ANY, " -t SECS  give up when nothing moves for SECS (decimals allowed)") \
	X('w', LB_SECS0, wait_ms, LB_CLIENT, " -w SECS  retry a refused connect for up to SECS") \
	X('v', LB_FLAG, verbose, LB_ANY, " -v       report connections, bytes and rates on stderr") \
	X('q', LB_FLAG, quiet, LB_ANY, " -q       no messages but errors") \
	X('h', LB_FLAG, help, LB_ANY, " -h       this help")
LB_SPEC(common, COMMON, .excl = "6a\0Ua6u\0");
_Static_assert(sizeof(struct lb_opts) < 256, "a field's offset must fit in a row");

/* The applet being parsed; by letter, its row (its own, or a shared one
 * it takes) and whether it was given. */
static const struct lb_spec *cur;
static const struct lb_opt *row_of[128];
static unsigned char given[128];

/* The rows of S whose letter is in ONLY (NULL: all) */
static void add(const struct lb_spec *s, const char *only)
{
	for (const struct lb_opt *r = s->rows; r < s->rows + s->nrows; r++)
		if (!only || lb_strchr(only, r->c))
			row_of[(int)r->c] = r;
}

int lb_given(int c)
{
	return given[c & 127];
}

/* The lines of S's rows in ONLY (NULL: all) */
static void lines(const struct lb_spec *s, const char *only)
{
	const char *t = s->text;

	for (int i = 0; i < s->nrows; i++, t += strlen(t) + 1)
		if (*t && (!only || lb_strchr(only, s->rows[i].c)))
			lb_write(1, t, "\n", NULL);
}

_Noreturn static void usage(void)
{
	lines(cur, NULL);
	lines(&common, cur->common);
	lb_exit(EX_OK);
}

_Noreturn static void bad(const char *opt, const char *val, const char *why)
{
	lb_write(2, lb.name, ": ", opt, val ? " " : "", val ? val : "", ": ", why, "\n", NULL);
	lb_exit(EX_USAGE);
}

/* Option ROW given with ARG (NULL for a flag): check it, store it. */
static void set(const struct lb_opt *row, const char *arg)
{
	char opt[3] = { '-', row->c, 0 };
	void *dst = (char *)&lb_opts + row->field;
	uint64_t v;
	long ms;

	switch (row->kind) {
	case LB_FLAG:		/* counted (-vv), saturating: 256 -k are not 0 */
		if (*(unsigned char *)dst < 255)
			++*(unsigned char *)dst;
		break;
	case LB_PORT:
		if (lb_num(arg, &v, 65535, 0))
			bad(opt, arg, "not a port (1-65535)");
		*(int *)dst = (int)v;
		break;
	case LB_STR:
		if (!*arg)
			bad(opt, NULL, "empty argument");
		*(const char **)dst = arg;
		break;
	case LB_SECS:
	case LB_SECS0:
		ms = lb_secs(arg);
		if (ms < 0 || (ms == 0 && row->kind == LB_SECS))
			bad(opt, arg, "not a time in seconds (0.001-86400)");
		*(long *)dst = ms;
		break;
	case LB_COUNT:
		if (lb_num(arg, &v, UINT32_MAX, 0) || !v)
			bad(opt, arg, "not a count (1-4294967295)");
		*(uint64_t *)dst = v;
		break;
	case LB_SIZE:
		if (lb_num(arg, &v, 1ULL << 40, 1))
			bad(opt, arg, "not a size (bytes; K, M, G allowed)");
		*(uint64_t *)dst = v;
		break;
	}
}

/* EXCL: "XYZ\0...": -X given with -Y or -Z is a usage error */
static void conflicts(const char *excl)
{
	for (; excl && *excl; excl += strlen(excl) + 1) {
		for (const char *o = excl + 1; *o; o++) {
			if (given[(int)*excl] && given[(int)*o]) {
				char x[3] = { '-', *excl, 0 }, why[] = "conflicts with -?";
				why[sizeof(why) - 2] = *o;
				bad(x, NULL, why);
			}
		}
	}
}

/* --NAME: the applet's long option, if its line begins " --NAME " */
static int long_opt(const char *name)
{
	const struct lb_opt *r = row_of['-'];
	const char *t = cur->text;
	size_t n = strlen(name);

	if (!r)
		return 0;
	for (const struct lb_opt *p = cur->rows; p < r; p++)
		t += strlen(t) + 1;
	if (strncmp(t + 3, name, n) || t[3 + n] != ' ')
		return 0;
	given['-'] = 1;
	set(r, NULL);
	return 1;
}

void lb_parse(char **argv, const struct lb_spec *spec)
{
	char **out = argv;
	int dashdash = 0;

	cur = spec;
	add(&common, spec->common);
	add(spec, NULL);
	lb_opts.port = -1;
	lb_opts.idle_ms = -1;
	lb_opts.addr = "127.0.0.1";
	for (char **ap = argv + 1; *ap; ap++) {
		char *a = *ap;
		const struct lb_opt *row;

		if (dashdash || a[0] != '-' || !a[1]) {
			*++out = a;		/* operand; "-" is stdin */
			continue;
		}
		if (a[1] == '-') {
			if (!a[2])
				dashdash = 1;
			else if (!strcmp(a + 2, "help"))
				usage();
			else if (!long_opt(a + 2))
				bad(a, NULL, "unknown option (see --help)");
			continue;
		}
		for (char *c = a + 1; *c; c++) {
			char o[3] = { '-', *c, 0 };

			/* (unsigned: char is unsigned on ARM, RISC-V and s390x) */
			if (*c == '-' || (unsigned char)*c > 127 || !(row = row_of[(unsigned char)*c]))
				bad(o, NULL, "unknown option (see --help)");
			if (*c == 'h')
				usage();
			given[(unsigned char)*c] = 1;
			if (row->kind == LB_REST) {
				if (c[1] || !ap[1])
					bad(o, NULL, "needs PROG [ARGS...] after it");
				*(char ***)((char *)&lb_opts + row->field) = ap + 1;
				goto done;
			}
			if (row->kind == LB_FLAG) {
				set(row, NULL);
				continue;
			}
			if (c[1])
				set(row, c + 1);
			else if (ap[1])
				set(row, *++ap);
			else
				bad(o, NULL, "needs an argument");
			break;
		}
	}
done:
	out[1] = NULL;
	lb_opts.args = argv + 1;
	lb_opts.nargs = (int)(out - argv);
	conflicts(common.excl);
	conflicts(spec->excl);
	if (lb.v6)
		lb_opts.addr = "::1";
	if (lb.nargs && !spec->operands)
		lb_die(EX_USAGE, lb.args[0], "unexpected operand (see --help)");
}

void lb_modes(unsigned mode, const char *const *why)
{
	for (int c = 1; c < 128; c++) {
		const struct lb_opt *r = row_of[c];
		if (given[c] && r->modes && !(r->modes & mode)) {
			char o[3] = { '-', (char)c, 0 };
			while (mode >>= 1)
				why++;
			lb_die(EX_USAGE, o, *why);
		}
	}
}
