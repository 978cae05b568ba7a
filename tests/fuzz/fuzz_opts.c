/* fuzz_opts - lb_parse with each applet's option letters (the strings of
 * their lb_parse calls), then lb_resolve as that applet calls it.
 *
 * Input: byte 0 picks the applet (and, for lo-echo, whether it listens);
 * the rest is argv[1..], split at NUL bytes.
 * Checks: it returns or exits 0 (help) or 2 (usage), never anything else;
 * what it stored is in range and only for letters the applet accepts;
 * operands are NULL-terminated; no socket, no descriptor is left.
 */
#include "fuzz.h"

static const struct {
	const char *name, *opts, *longw;
	int listener;
} app[] = {
	{ "lo-send", "pa6Utwvqhm", NULL, 0 },
	{ "lo-recv", "pa6UPtvqhmokc", NULL, 1 },
	{ "lo-serve", "pa6uUPtvqhmfecnA", NULL, 1 },
	{ "lo-echo", "pa6uUPtwvqhlcsBJ", "up", -1 },	/* -l: listener */
};

#define MAXARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	unsigned a = d[0] % 4;
	char *buf = fz_str(d + 1, n - 1);
	char *argv[MAXARGS + 2];
	int argc = 0, low = fz_lowfd(), code;
	unsigned long socks = fz_sockets;

	argv[argc++] = (char *)app[a].name;
	for (char *p = buf, *e = buf + (n - 1); argc <= MAXARGS;) {
		argv[argc++] = p;
		p += strlen(p) + 1;
		if (p > e)
			break;
	}
	argv[argc] = NULL;
	char *orig[MAXARGS + 2];
	memcpy(orig, argv, sizeof(argv));

	fz_reset(app[a].name);
	code = FZ_CALL(lb_parse(argv, app[a].opts, app[a].longw, "usage\n"));
	FZ_ASSERT(code == -1 || code == EX_OK || code == EX_USAGE, "lb_parse exit %d", code);
	if (code == -1) {
		for (int b = 0; b < 64; b++)
			if (lb.seen >> b & 1)
				FZ_ASSERT(b < (int)strlen(LB_LETTERS) && strchr(app[a].opts, LB_LETTERS[b]),
					  "bit %d seen", b);
		FZ_ASSERT(lb.port >= -1 && lb.port <= 65535, "port %d", lb.port);
		FZ_ASSERT((lb.port >= 0) == !!(lb.seen & OPT('p')), "port %d", lb.port);
		FZ_ASSERT(lb.idle_ms == -1 || (lb.idle_ms >= 1 && lb.idle_ms <= 86400000L),
			  "-t %ld ms", lb.idle_ms);
		FZ_ASSERT(lb.wait_ms >= 0 && lb.wait_ms <= 86400000L, "-w %ld ms", lb.wait_ms);
		FZ_ASSERT(lb.count <= UINT32_MAX && lb.max <= UINT32_MAX, "count");
		FZ_ASSERT(!(lb.seen & OPT('c')) || lb.count, "-c 0");
		FZ_ASSERT(lb.size <= (1ULL << 40) && lb.bulk <= (1ULL << 40), "size");
		const char *strs[] = { lb.path, lb.portfile, lb.msg, lb.out, lb.file, lb.uids };
		for (unsigned i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			FZ_ASSERT(!strs[i] || *strs[i], "empty string option %u", i);
		FZ_ASSERT(lb.addr && *lb.addr, "addr");
		FZ_ASSERT(!((lb.seen & OPT('6')) && (lb.seen & OPT('a'))), "-6 with -a");
		FZ_ASSERT(!((lb.seen & OPT('U')) && (lb.seen & (OPT('a') | OPT('6') | OPT('u')))), "-U with -a/-6/-u");
		FZ_ASSERT(lb.nargs >= 0 && lb.nargs < argc, "nargs %d", lb.nargs);
		FZ_ASSERT(lb.args[lb.nargs] == NULL, "operands not NULL-terminated");
		for (int i = 0; i < lb.nargs; i++) {
			int found = 0;
			for (int j = 1; j < argc; j++)
				found |= lb.args[i] == orig[j];
			FZ_ASSERT(found && lb.args[i], "operand %d not from argv", i);
		}
		if (lb.exec) {
			FZ_ASSERT(lb.exec[0] && (lb.seen & OPT('e')), "-e without PROG");
			for (char **x = lb.exec; *x; x++)
				FZ_ASSERT(x - argv < argc, "-e args past argv");
		}
		/* the applet resolves next; lo-echo's self-test does not */
		int listener = app[a].listener;
		if (listener < 0)
			listener = !!(lb.seen & OPT('l'));
		if (a != 3 || (lb.seen & (OPT('l') | OPT('p') | OPT('U')))) {
			if (a == 3 && listener && lb.port < 0 && !lb.path)
				lb.port = 0;
			code = FZ_CALL(lb_resolve(listener));
			FZ_ASSERT(code == -1 || code == EX_USAGE, "lb_resolve exit %d", code);
			if (code == -1 && !lb.path) {
				int fam = lb.sa.u.sa.sa_family;
				FZ_ASSERT(fam == AF_INET || fam == AF_INET6, "family %d", fam);
				if (fam == AF_INET)
					FZ_ASSERT((ntohl(lb.sa.u.in.sin_addr.s_addr) >> 24) == 127, "not 127/8");
				else
					FZ_ASSERT(IN6_IS_ADDR_LOOPBACK(&lb.sa.u.in6.sin6_addr), "not ::1");
			}
		}
	}
	FZ_ASSERT(fz_sockets == socks, "a socket was made");
	FZ_ASSERT(fz_lowfd() == low, "a descriptor was left open");
	free(buf);
	return 0;
}
