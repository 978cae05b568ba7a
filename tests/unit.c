/* unit.c - C unit tests of the core (linked with every core object but
 * main.o; see the Makefile's $(BUILD)/unit rule). Each check prints one
 * line, "ok - NAME" or "FAIL - NAME (details)", which tests/run counts.
 *
 * Functions that exit (lb_parse, lb_resolve, lb_die) run in a forked
 * child whose exit code, stdout and stderr are checked. lb_resolve runs
 * there under a seccomp filter that kills the child if it calls socket():
 * "refused before any socket is made" is checked, not assumed.
 */
#include "lb.h"

#include <time.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int nfail;

static void check(int good, const char *fmt, ...)
{
	char name[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	/* the details, if any, follow a '\t' in the name */
	char *tab = strchr(name, '\t');
	if (tab)
		*tab++ = 0;
	if (good) {
		printf("ok - %s\n", name);
	} else {
		printf("FAIL - %s (%s)\n", name, tab ? tab : "failed");
		nfail++;
	}
	fflush(stdout);
}

/* ---- lb_num ---- */

static void t_num(const char *s, uint64_t max, int suf, int want_rc, uint64_t want)
{
	uint64_t v = 12345;
	int rc = lb_num(s, &v, max, suf);
	int good = rc == want_rc && (rc || v == want);
	check(good, "lb_num(\"%s\", max %llu%s) = %s%llu\tgot rc %d value %llu", s ? s : "(null)",
	      (unsigned long long)max, suf ? ", KMG" : "", want_rc ? "error" : "",
	      want_rc ? 0ULL : (unsigned long long)want, rc, (unsigned long long)v);
}

static void test_num(void)
{
	t_num("0", 65535, 0, 0, 0);
	t_num("1", 65535, 0, 0, 1);
	t_num("8080", 65535, 0, 0, 8080);
	t_num("65535", 65535, 0, 0, 65535);
	t_num("00080", 65535, 0, 0, 80);
	t_num("65536", 65535, 0, -1, 0);
	t_num("70000", 65535, 0, -1, 0);
	t_num("", 65535, 0, -1, 0);
	t_num(NULL, 65535, 0, -1, 0);
	t_num("abc", 65535, 0, -1, 0);
	t_num("1x", 65535, 0, -1, 0);
	t_num("x1", 65535, 0, -1, 0);
	t_num("-1", 65535, 0, -1, 0);
	t_num("+1", 65535, 0, -1, 0);
	t_num(" 1", 65535, 0, -1, 0);
	t_num("1 ", 65535, 0, -1, 0);
	t_num("0x10", 65535, 0, -1, 0);
	t_num("1.5", 65535, 0, -1, 0);
	t_num("99999999999999999999999", UINT64_MAX, 0, -1, 0);
	t_num("18446744073709551616", UINT64_MAX, 0, -1, 0);	/* 2^64 */
	t_num("4294967295", UINT32_MAX, 0, 0, 4294967295ULL);
	t_num("4294967296", UINT32_MAX, 0, -1, 0);
	t_num("1000000000000", UINT64_MAX, 0, 0, 1000000000000ULL);
	/* suffixes: binary K, M, G, either case, only with suffixes on */
	t_num("1K", 1ULL << 40, 1, 0, 1024);
	t_num("1k", 1ULL << 40, 1, 0, 1024);
	t_num("64M", 1ULL << 40, 1, 0, 64ULL << 20);
	t_num("2G", 1ULL << 40, 1, 0, 2ULL << 30);
	t_num("1024G", 1ULL << 40, 1, 0, 1ULL << 40);
	t_num("1025G", 1ULL << 40, 1, -1, 0);
	t_num("1K", 1023, 1, -1, 0);
	t_num("1K", 1ULL << 40, 0, -1, 0);
	t_num("K", 1ULL << 40, 1, -1, 0);
	t_num("1KB", 1ULL << 40, 1, -1, 0);
	t_num("1T", 1ULL << 40, 1, -1, 0);
	t_num("1 ", 1ULL << 40, 1, -1, 0);
	t_num("20000000000G", UINT64_MAX, 1, -1, 0);	/* the multiply overflows */
}

/* ---- lb_secs ---- */

static void t_secs(const char *s, long want)
{
	long got = lb_secs(s);
	check(got == want, "lb_secs(\"%s\") = %ld\tgot %ld", s, want, got);
}

static void test_secs(void)
{
	t_secs("1", 1000);
	t_secs("0", 0);
	t_secs("0.5", 500);
	t_secs("1.25", 1250);
	t_secs(".5", 500);
	t_secs("5.", 5000);
	t_secs("0.001", 1);
	t_secs("1.2345", 1234);	/* beyond ms: cut */
	t_secs("86400", 86400000);
	t_secs("", -1);
	t_secs(".", -1);
	t_secs("abc", -1);
	t_secs("1.2.3", -1);
	t_secs("1.x", -1);
	t_secs("-1", -1);
	t_secs("+1", -1);
	t_secs("1e3", -1);
	t_secs(" 1", -1);
	t_secs("86401", -1);
	t_secs("0000000000000000001.5", 1500);	/* leading zeros: any number */
	t_secs("99999999999999999999999", -1);
	t_secs("99999999999999999999999.5", -1);
}

/* ---- lb_utoa, lb_fixed, lb_strerror, lb_optbit ---- */

static void t_str(const char *got, const char *want, const char *what)
{
	check(!strcmp(got, want), "%s = \"%s\"\tgot \"%s\"", what, want, got);
}

static void test_fmt(void)
{
	char b[48];

	t_str(lb_utoa(b, 0), "0", "lb_utoa(0)");
	t_str(lb_utoa(b, 7), "7", "lb_utoa(7)");
	t_str(lb_utoa(b, 10), "10", "lb_utoa(10)");
	t_str(lb_utoa(b, 65535), "65535", "lb_utoa(65535)");
	t_str(lb_utoa(b, UINT64_MAX), "18446744073709551615", "lb_utoa(UINT64_MAX)");
	t_str(lb_fixed(b, 1234, 1000, 2), "1.23", "lb_fixed(1234, 1000, 2)");
	t_str(lb_fixed(b, 1235, 1000, 2), "1.24", "lb_fixed(1235, 1000, 2) rounds");
	t_str(lb_fixed(b, 5, 1000, 3), "0.005", "lb_fixed(5, 1000, 3) keeps zeros");
	t_str(lb_fixed(b, 0, 1, 1), "0.0", "lb_fixed(0, 1, 1)");
	t_str(lb_fixed(b, 1999, 1000, 0), "2", "lb_fixed(1999, 1000, 0)");
	t_str(lb_fixed(b, 999999, 1000, 2), "1000.00", "lb_fixed(999999, 1000, 2) carries");
	t_str(lb_fixed(b, 86400000, 1000, 3), "86400.000", "lb_fixed(86400000, 1000, 3)");
	t_str(lb_fixed(b, 1, 3, 3), "0.333", "lb_fixed(1, 3, 3)");

	/* loopbox's own texts: the same words under musl and glibc */
	t_str(lb_strerror(ECONNREFUSED), "connection refused", "lb_strerror(ECONNREFUSED)");
	t_str(lb_strerror(EADDRINUSE), "address already in use", "lb_strerror(EADDRINUSE) as SPEC quotes it");
	t_str(lb_strerror(ECONNRESET), "connection reset by peer", "lb_strerror(ECONNRESET)");
	t_str(lb_strerror(EPIPE), "broken pipe", "lb_strerror(EPIPE)");
	t_str(lb_strerror(ENOSPC), "no space left on device", "lb_strerror(ENOSPC)");
	t_str(lb_strerror(ENOENT), "no such file or directory", "lb_strerror(ENOENT)");
	t_str(lb_strerror(EPERM), "operation not permitted", "lb_strerror(EPERM) (the first)");
	t_str(lb_strerror(ESRCH), "no such process", "lb_strerror(ESRCH) (the last: table aligned)");
	t_str(lb_strerror(ENETUNREACH), "network is unreachable", "lb_strerror(ENETUNREACH)");
	t_str(lb_strerror(EADDRNOTAVAIL), "cannot assign requested address", "lb_strerror(EADDRNOTAVAIL)");
	t_str(lb_strerror(0x7fff), "error 32767", "lb_strerror(unknown)");
	static const int errs[] = { EPERM, ENOENT, EINTR, EIO, EBADF, EAGAIN, ENOMEM, EACCES,
		EEXIST, ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ENOSPC, EPIPE, ENAMETOOLONG,
		ENOTSOCK, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH,
		ECONNABORTED, ECONNRESET, ENOBUFS, ENOTCONN, ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH };
	int lower = 1;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const char *t = lb_strerror(errs[i]);
		if (!t[0] || t[0] < 'a' || t[0] > 'z' || !strncmp(t, "error ", 6))
			lower = 0;
	}
	check(lower, "lb_strerror: a lower-case text of its own for every socket and file error");

}

/* ---- forked children: exit code, stdout, stderr ---- */

struct res {
	int code;	/* exit code, or 128+signal */
	char out[2048], err[2048];
};

static void drain(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t k;
	while ((k = read(fd, buf + n, len - 1 - n)) > 0 && n + (size_t)k < len - 1)
		n += (size_t)k;
	if (k > 0)
		n += (size_t)k;
	buf[n] = 0;
}

/* Runs fn(arg) in a child with fresh lb state; a child whose fn returns
 * exits 100. stdout and stderr are captured (small outputs only). */
static void child(struct res *r, void (*fn)(void *), void *arg)
{
	int po[2], pe[2];
	if (pipe(po) || pipe(pe)) {
		perror("pipe");
		exit(2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (!pid) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		memset(&lb_opts, 0, sizeof(lb_opts));
		lb_opts.name = "unit";
		fn(arg);
		fflush(stdout);
		_exit(100);
	}
	close(po[1]);
	close(pe[1]);
	drain(po[0], r->out, sizeof(r->out));
	drain(pe[0], r->err, sizeof(r->err));
	close(po[0]);
	close(pe[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* No socket() from here on: a seccomp filter kills the process (SIGSYS)
 * if it tries. Built by hand: musl-gcc does not see the linux/ headers. */
struct bpf_insn { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct bpf_prog { unsigned short len; struct bpf_insn *filter; };

static int no_sockets(void)
{
#ifdef SYS_socket
	struct bpf_insn f[] = {
		{ 0x20, 0, 0, 0 },			/* ld [nr] */
		{ 0x15, 0, 1, SYS_socket },		/* jeq #socket */
		{ 0x06, 0, 0, 0x80000000U },		/* ret KILL_PROCESS */
		{ 0x06, 0, 0, 0x7fff0000U },		/* ret ALLOW */
	};
	struct bpf_prog p = { 4, f };
	if (prctl(38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0))
		return -1;
	return prctl(22 /* PR_SET_SECCOMP */, 2 /* FILTER */, &p, 0, 0);
#else
	return -1;
#endif
}

static void probe_seccomp(void *arg)
{
	(void)arg;
	if (no_sockets())
		_exit(3);
	socket(AF_INET, SOCK_STREAM, 0);
	_exit(4);
}

static int seccomp_works;

/* ---- lb_resolve ---- */

struct rcase {
	const char *addr, *path;
	int port, listener;
};

static void do_resolve(void *arg)
{
	struct rcase *c = arg;
	struct lb_addr a;
	if (seccomp_works && no_sockets())
		_exit(5);
	lb_xresolve(&a, c->addr ? c->addr : "127.0.0.1", c->path, c->port, c->listener);
	printf("%s", lb_addrstr(&a));
}

static void t_resolve(const char *addr, int port, int listener, int want_code, const char *want)
{
	struct rcase c = { addr, NULL, port, listener };
	struct res r;
	char msg[300];
	child(&r, do_resolve, &c);
	if (want_code == 100) {
		check(r.code == 100 && !strcmp(r.out, want), "lb_resolve(%s, port %d%s) = %s\texit %d, \"%s\" %s",
		      addr, port, listener ? ", listener" : "", want, r.code, r.out, r.err);
	} else {
		snprintf(msg, sizeof(msg), "unit: %s\n", want);
		check(r.code == want_code && !strcmp(r.err, msg),
		      "lb_resolve(%s, port %d%s) exits %d, no socket, \"%s\"\texit %d, stderr \"%s\"", addr,
		      port, listener ? ", listener" : "", want_code, want, r.code, r.err);
	}
}

static void t_resolve_unix(const char *path, int want_code, const char *want)
{
	struct rcase c = { NULL, path, -1, 1 };
	struct res r;
	child(&r, do_resolve, &c);
	int good = r.code == want_code && (want_code != 100 || !strcmp(r.out, want)) &&
		   (want_code == 100 || strstr(r.err, want));
	check(good, "lb_resolve(-U %.20s%s) %s %s\texit %d, \"%s\" \"%s\"", path,
	      strlen(path) > 20 ? "..." : "", want_code == 100 ? "=" : "fails:", want, r.code, r.out, r.err);
}

static void test_resolve(void)
{
	struct res r;
	child(&r, probe_seccomp, NULL);
	seccomp_works = r.code == 128 + SIGSYS;
	if (!seccomp_works)
		printf("skip - seccomp guard for lb_resolve (no seccomp here: %d)\n", r.code);

	t_resolve("127.0.0.1", 80, 0, 100, "127.0.0.1:80");
	t_resolve("localhost", 80, 0, 100, "127.0.0.1:80");
	t_resolve("127.1.2.3", 65535, 0, 100, "127.1.2.3:65535");
	t_resolve("127.255.255.254", 1, 0, 100, "127.255.255.254:1");
	t_resolve("::1", 80, 0, 100, "[::1]:80");
	t_resolve("0:0:0:0:0:0:0:1", 80, 0, 100, "[::1]:80");
	t_resolve("127.0.0.1", 0, 1, 100, "127.0.0.1:0");
	t_resolve("::1", 0, 1, 100, "[::1]:0");
	t_resolve("127.0.0.1", 0, 0, 2, "-p 0: not a port (1-65535)");
	t_resolve("127.0.0.1", -1, 0, 2, "-p: a port is needed (or -U PATH)");

	static const char *const bad[] = {
		"10.0.0.1", "192.0.2.1", "0.0.0.0", "128.0.0.1", "126.255.255.255",
		"255.255.255.255", "::", "::2", "::ffff:127.0.0.1", "fe80::1",
		"example.com", "localhost.", "127.0.0.1:80", "127.0.0.1 ", "127.1",
		"0x7f.0.0.1", "[::1]", "", NULL,
	};
	char want[128];
	for (int i = 0; bad[i]; i++) {
		snprintf(want, sizeof(want), "%s: not a loopback address", bad[i]);
		t_resolve(bad[i], 80, 0, 2, want);
		if (i < 3)
			t_resolve(bad[i], 80, 1, 2, want);
	}

	char p107[108], p108[109];
	memset(p107, 'x', 107);
	p107[0] = '/';
	p107[107] = 0;
	memset(p108, 'x', 108);
	p108[0] = '/';
	p108[108] = 0;
	t_resolve_unix("/tmp/lb.sock", 100, "/tmp/lb.sock");
	t_resolve_unix("@lb-abstract", 100, "@lb-abstract");
	t_resolve_unix(p107, 100, p107);
	t_resolve_unix(p108, 2, "path too long");
}

/* ---- lb_parse, with a table of every kind and every shared option ---- */

#define UNIT_OPTIONS(X) \
	X(0, LB_FLAG, help, 0, "usage: unit\n") \
	X('-', LB_FLAG, up, 0, " --up     a long option") \
	X('m', LB_STR, msg, 0, " -m MSG   a string") \
	X('o', LB_STR, out, 0, " -o FILE  another") \
	X('k', LB_FLAG, keep, 0, " -k       a flag") \
	X('c', LB_COUNT, count, 0, " -c COUNT a count") \
	X('n', LB_COUNT, max, 0, " -n MAX   another") \
	X('s', LB_SIZE, size, 0, " -s SIZE  a size") \
	X('B', LB_SIZE, bulk, 0, " -B BYTES another") \
	X('e', LB_REST, exec, 0, " -e PROG  the rest") \
	X('l', LB_FLAG, listen, 0, "")
LB_SPEC(unit_spec, UNIT_OPTIONS, .common = "pa6uUPtwvqh", .operands = 1,
	.excl = "eu\0");

static void do_parse(void *arg)
{
	char **argv = arg;
	lb_parse(argv, &unit_spec);
	printf("port=%d addr=%s path=%s pf=%s idle=%ld wait=%ld v=%d msg=%s out=%s count=%llu "
	       "max=%llu size=%llu bulk=%llu long=%s q=%d k=%d",
	       lb.port, lb.addr, lb.path ? lb.path : "-", lb.portfile ? lb.portfile : "-", lb.idle_ms,
	       lb.wait_ms, lb.verbose, lb.msg ? lb.msg : "-", lb.out ? lb.out : "-",
	       (unsigned long long)lb.count, (unsigned long long)lb.max, (unsigned long long)lb.size,
	       (unsigned long long)lb.bulk, lb.up ? "up" : "-", lb.quiet, lb.keep);
	printf(" args=");
	for (int i = 0; i < lb.nargs; i++)
		printf("%s%s", i ? "," : "", lb.args[i]);
	if (lb.exec) {
		printf(" exec=");
		for (char **e = lb.exec; *e; e++)
			printf("%s%s", e == lb.exec ? "" : ",", *e);
	}
}

/* t_parse("args...", code, "substring of the output" or of stderr) */
static void t_parse(const char *line, int want_code, const char *want)
{
	char buf[512], *argv[32];
	int n = 0;
	struct res r;

	snprintf(buf, sizeof(buf), "unit %s", line);
	for (char *t = strtok(buf, " "); t && n < 31; t = strtok(NULL, " "))
		argv[n++] = strcmp(t, "''") ? t : (char *)"";
	argv[n] = NULL;
	child(&r, do_parse, argv);
	const char *hay = want_code == 100 || want_code == 0 ? r.out : r.err;
	int good = r.code == want_code && strstr(hay, want);
	if (good && want_code == 2)	/* one line, "unit: ..." */
		good = !strncmp(r.err, "unit: ", 6) && strchr(r.err, '\n') == r.err + strlen(r.err) - 1;
	check(good, "lb_parse(%s) %s %s\texit %d, out \"%s\", err \"%s\"", line,
	      want_code == 100 ? "gives" : want_code == 2 ? "exits 2:" : "exits 0:", want, r.code, r.out, r.err);
}

static void test_parse(void)
{
	t_parse("-p 80", 100, "port=80 addr=127.0.0.1 path=- pf=- idle=-1 wait=0 v=0");
	t_parse("-p80", 100, "port=80 ");
	t_parse("-vqp 80", 100, "port=80 ");
	t_parse("-vv -p 1", 100, " v=2 ");
	t_parse("-q -p 1", 100, " q=1 ");
	t_parse("-p 0", 100, "port=0 ");
	t_parse("-6 -p 1", 100, "addr=::1 ");
	t_parse("-a 127.0.0.2 -p 1", 100, "addr=127.0.0.2 ");
	t_parse("-t 1.5 -w .25 -p 1", 100, "idle=1500 wait=250 ");
	t_parse("-w 0 -p 1", 100, "wait=0 ");
	t_parse("-c 3 -k -p 1", 100, "count=3 ");
	t_parse("-k -p 1", 100, " k=1 ");
	t_parse("-s 1K -B 64M -p 1", 100, "size=1024 bulk=67108864 ");
	t_parse("-n 10 -p 1", 100, "max=10 ");
	t_parse("-m hello -o out -P pf -p 1", 100, "pf=pf ");
	t_parse("-m hello -o out -p 1", 100, "msg=hello out=out ");
	t_parse("-p 1 a - b", 100, "args=a,-,b");
	t_parse("-p 1 -- -m -x", 100, "msg=- out=- count=0 max=0 size=0 bulk=0 long=- q=0 k=0 args=-m,-x");
	t_parse("--up", 100, "long=up ");
	t_parse("-p 1 -e sh -c -v", 100, " v=0 ");
	t_parse("-p 1 -e sh -c -v", 100, "exec=sh,-c,-v");
	t_parse("-U /tmp/s", 100, "path=/tmp/s ");

	t_parse("-h", 0, "usage: unit");
	t_parse("--help", 0, " -p PORT");
	t_parse("-p 1 -h", 0, " -w SECS");

	t_parse("-p abc", 2, "-p abc: not a port");
	t_parse("-p 70000", 2, "-p 70000: not a port");
	t_parse("-p 65536", 2, "-p 65536: not a port");
	t_parse("-p -1", 2, "-p -1: not a port");
	t_parse("-p 1x", 2, "-p 1x: not a port");
	t_parse("-p ''", 2, "not a port");
	t_parse("-p", 2, "-p: needs an argument");
	t_parse("-x", 2, "-x: unknown option");
	t_parse("-px", 2, "-p x: not a port");
	t_parse("--frobnicate", 2, "--frobnicate: unknown option");
	t_parse("-t 0", 2, "-t 0: not a time");
	t_parse("-t abc", 2, "-t abc: not a time");
	t_parse("-w -1", 2, "-w -1: not a time");
	t_parse("-w 86401", 2, "-w 86401: not a time");
	t_parse("-c 0", 2, "-c 0: not a count");
	t_parse("-c 4294967296", 2, "-c 4294967296: not a count");
	t_parse("-s 1X", 2, "-s 1X: not a size");
	t_parse("-a ''", 2, "-a: empty argument");
	t_parse("-6 -a ::1", 2, "-6: conflicts with -a");
	t_parse("-U /tmp/s -a 127.0.0.1", 2, "-U: conflicts");
	t_parse("-U /tmp/s -6", 2, "-U: conflicts with -6");
	t_parse("-U /tmp/s -u", 2, "-U: conflicts with -u");
	t_parse("-e", 2, "-e: needs PROG");
	t_parse("-u -e cat", 2, "-e: conflicts with -u");
	t_parse("-l", 100, "port=-1 ");
	t_parse("--up -p 1 -h", 0, " --up     a long option");
	t_parse("--u", 2, "--u: unknown option");
	t_parse("--upx", 2, "--upx: unknown option");
	t_parse("-h", 0, "usage: unit\n\n --up     a long option\n -m MSG   a string\n");
}

/* lb_now_ns (the vDSO's clock, found by hand) agrees with the kernel's
 * clock_gettime system call, and never goes back */
static void test_clock(void)
{
	struct timespec ts;
	int ok = 1;
	uint64_t last = 0;

	for (int i = 0; i < 1000 && ok; i++) {
		uint64_t a = lb_now_ns();
		clock_gettime(CLOCK_MONOTONIC, &ts);	/* libc's own */
		uint64_t k = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		uint64_t b = lb_now_ns();
		ok = a >= last && a <= k + 1000 && k <= b + 1000 && b - a < 50000000;
		last = b;
	}
	check(ok, "lb_now_ns: monotonic, and within the kernel's clock_gettime");
	check(lb_now_us() / 1000 == lb_now_ns() / 1000000 || lb_now_us() / 1000 + 1 >= lb_now_ns() / 1000000,
	      "lb_now_us is lb_now_ns in us");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_clock();
	test_num();
	test_secs();
	test_fmt();
	test_resolve();
	test_parse();
	return nfail ? 1 : 0;
}
