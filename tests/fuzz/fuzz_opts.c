/* fuzz_opts - lb_parse over a table with every kind of option, every
 * shared option, a long option, a conflict and three modes (the shapes
 * the applets' tables have), then lb_modes and lb_xendpoint as an applet
 * calls them.
 *
 * Input: byte 0 picks the mode lb_modes is asked about, and whether the
 * endpoint is a listener's; the rest is argv[1..], split at NUL bytes.
 * Checks: it returns or exits 0 (help) or 2 (usage), never anything else;
 * what it stored is in range; a conflict or a mode's exclusion never
 * passes; operands are NULL-terminated; no socket, no descriptor is left.
 */
#include "fuzz.h"
#include "../../core/opt.c"	/* its tables by letter, reset for each input */

#define OPTIONS(X) \
	X(0, LB_FLAG, help, 0, "usage: fuzz\n") \
	X('-', LB_FLAG, up, 0, " --up     a long option") \
	X('m', LB_STR, msg, LB_SELF, " -m MSG   a string (mode 1)") \
	X('o', LB_STR, out, 0, " -o FILE  another") \
	X('f', LB_STR, file, 0, " -f FILE  another") \
	X('A', LB_STR, uids, 0, " -A UIDS  another") \
	X('k', LB_FLAG, keep, LB_SERVER | LB_CLIENT, " -k       a flag (modes 2, 3)") \
	X('J', LB_FLAG, json, 0, " -J       another") \
	X('c', LB_COUNT, count, 0, " -c COUNT a count") \
	X('n', LB_COUNT, max, 0, " -n MAX   another") \
	X('s', LB_SIZE, size, 0, " -s SIZE  a size") \
	X('B', LB_SIZE, bulk, 0, " -B BYTES another") \
	X('e', LB_REST, exec, 0, " -e PROG  the rest") \
	X('l', LB_FLAG, listen, LB_SERVER, "")
LB_SPEC(spec, OPTIONS, .common = "pa6uUPtwvqh", .operands = 1, .excl = "eu\0");
static const char *const why[] = { "not in mode 1", "not in mode 2", "not in mode 3" };

#define MAXARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	unsigned mode = 1u << (d[0] % 3), listener = d[0] >> 2 & 1;
	char *buf = fz_str(d + 1, n - 1);
	char *argv[MAXARGS + 2];
	int argc = 0, low = fz_lowfd(), code;
	unsigned long socks = fz_sockets;

	argv[argc++] = (char *)"fuzz";
	for (char *p = buf, *e = buf + (n - 1); argc <= MAXARGS;) {
		argv[argc++] = p;
		p += strlen(p) + 1;
		if (p > e)
			break;
	}
	argv[argc] = NULL;
	char *orig[MAXARGS + 2];
	memcpy(orig, argv, sizeof(argv));

	fz_reset("fuzz");
	memset(row_of, 0, sizeof(row_of));
	memset(given, 0, sizeof(given));
	code = FZ_CALL(lb_parse(argv, &spec));
	FZ_ASSERT(code == -1 || code == EX_OK || code == EX_USAGE, "lb_parse exit %d", code);
	if (code == -1) {
		FZ_ASSERT(lb.port >= -1 && lb.port <= 65535, "port %d", lb.port);
		FZ_ASSERT((lb.port >= 0) == lb_given('p'), "port %d", lb.port);
		FZ_ASSERT(lb.idle_ms == -1 || (lb.idle_ms >= 1 && lb.idle_ms <= 86400000L),
			  "-t %ld ms", lb.idle_ms);
		FZ_ASSERT(lb.wait_ms >= 0 && lb.wait_ms <= 86400000L, "-w %ld ms", lb.wait_ms);
		FZ_ASSERT(lb.count <= UINT32_MAX && lb.max <= UINT32_MAX, "count");
		FZ_ASSERT(!lb_given('c') || lb.count, "-c 0");
		FZ_ASSERT(lb.size <= (1ULL << 40) && lb.bulk <= (1ULL << 40), "size");
		const char *strs[] = { lb.path, lb.portfile, lb.msg, lb.out, lb.file, lb.uids };
		for (unsigned i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
			FZ_ASSERT(!strs[i] || *strs[i], "empty string option %u", i);
		FZ_ASSERT(lb.addr && *lb.addr, "addr");
		FZ_ASSERT(!(lb.v6 && lb_given('a')), "-6 with -a");
		FZ_ASSERT(!(lb.path && (lb_given('a') || lb.v6 || lb.udp)), "-U with -a/-6/-u");
		FZ_ASSERT(!(lb.exec && lb.udp), "-e with -u");
		FZ_ASSERT(lb.nargs >= 0 && lb.nargs < argc, "nargs %d", lb.nargs);
		FZ_ASSERT(lb.args[lb.nargs] == NULL, "operands not NULL-terminated");
		for (int i = 0; i < lb.nargs; i++) {
			int found = 0;
			for (int j = 1; j < argc; j++)
				found |= lb.args[i] == orig[j];
			FZ_ASSERT(found && lb.args[i], "operand %d not from argv", i);
		}
		if (lb.exec) {
			FZ_ASSERT(lb.exec[0] && lb_given('e'), "-e without PROG");
			for (char **x = lb.exec; *x; x++)
				FZ_ASSERT(x - argv < argc, "-e args past argv");
		}
		/* the modes: -m only in mode 1, -k in 2 and 3, -l in 2; of the
		 * shared ones (opt.c), -p -a -6 -u -U in 2 and 3, -P in 2, -w in 3 */
		code = FZ_CALL(lb_modes(mode, why));
		int out = (lb.msg && mode != LB_SELF) || (lb.keep && mode == LB_SELF) || (lb.listen && mode != LB_SERVER) ||
			  (mode == LB_SELF && (lb.port >= 0 || lb_given('a') || lb.v6 || lb.udp || lb.path)) ||
			  (lb.portfile && mode != LB_SERVER) || (lb_given('w') && mode != LB_CLIENT);
		FZ_ASSERT(code == (out ? EX_USAGE : -1), "lb_modes(%u) exit %d", mode, code);
		/* the applet resolves next */
		if (code == -1) {
			static struct lb_addr sa;
			code = FZ_CALL(lb_xendpoint(&sa, (int)listener));
			FZ_ASSERT(code == -1 || code == EX_USAGE, "lb_xendpoint exit %d", code);
			if (code == -1 && !lb.path) {
				int fam = sa.u.sa.sa_family;
				FZ_ASSERT(fam == AF_INET || fam == AF_INET6, "family %d", fam);
				if (fam == AF_INET)
					FZ_ASSERT((ntohl(sa.u.in.sin_addr.s_addr) >> 24) == 127, "not 127/8");
				else
					FZ_ASSERT(IN6_IS_ADDR_LOOPBACK(&sa.u.in6.sin6_addr), "not ::1");
			}
		}
	}
	FZ_ASSERT(fz_sockets == socks, "a socket was made");
	FZ_ASSERT(fz_lowfd() == low, "a descriptor was left open");
	free(buf);
	return 0;
}
