/* lo-echo - the loopback self-test, an RFC 862 echo client, an echo server.
 *
 * The self-test (no -p, no -l) is loopbox's main job: it asks the doctor
 * (core/diag.c) about lo first (127.0.0.1 unusable: exit 3 with the fix;
 * ::1 unusable, a qdisc on lo, /etc/hosts without localhost: notes), then
 * forks its own echo server on ephemeral ports, runs the client against it
 * over TCP 127.0.0.1, TCP ::1 and UDP 127.0.0.1 (and with -B a bulk
 * transfer into a sink), and exits 0 only if every check passed. Each
 * check's connect and echoes have deadlines; one that fails is named by the
 * doctor (a filter dropping TCP, say) and the next checks still run.
 * --up first repairs what the doctor finds on lo (lb_up: up, MTU,
 * addresses, local routes and rule; nothing where all is well), then goes
 * on: `lo-echo --up` fixes, then proves.
 *
 * What the self-test measures: the round trips with its client and server
 * on one CPU (see selftest()), the server a blocking loop (instrument());
 * bulk: BYTES written in 1 MiB send()s into a sink on another CPU that
 * wakes for each MiB (SO_RCVLOWAT) and discards it with MSG_TRUNC, from the
 * first send until the sink's count of what it received is back.
 *
 * The client (how each check times and verifies its echoes) and the -l
 * server, on the shared event loop, are in core/echo.c.
 *
 * -J: one JSON object on stdout once the checks ran (exit 0, 1, 3 or 4;
 * usage and fatal errors print only their line on stderr). Schema:
 *
 *   ok        true when every check passed (exit 0)
 *   exit      the exit status
 *   mode      "self-test" or "client" (-p)
 *   ipv6      self-test: ::1 usable (false: the ::1 check is SKIP)
 *   count     messages per check (-c)
 *   size      bytes per message (-s)
 *   wall_ms   the whole run, milliseconds
 *   checks    array of objects, one per check:
 *     result    "PASS", "FAIL" or "SKIP"
 *     name      "tcp 127.0.0.1", "tcp ::1", "udp 127.0.0.1", "bulk 127.0.0.1";
 *               with -p, "tcp|udp|unix ADDR"
 *     addr      the server's address and port: "[::1]:40123"
 *     messages  round trips completed (0 for bulk)
 *     bytes     payload bytes echoed (bulk: delivered into the sink)
 *     seconds   time the check took, first send to last byte back (bulk:
 *               to the sink's count back)
 *     min_us, p50_us, p99_us, max_us
 *               round-trip time, microseconds (null for bulk and SKIP)
 *     mb_s      bytes / seconds, in 10^6 bytes per second (null if none)
 *     lost      UDP: datagrams whose echo did not come within -t
 *     late      UDP: echoes that came after their time ran out
 *     dup       UDP: echoes beyond one per datagram
 *     note      why it failed or was skipped, or what bulk measures
 *   diagnosis array of objects, one per cause the doctor found (notes
 *             included), in the order found:
 *     cause     a stable code: README, "Diagnosis" ("lo-down", "drop", ...)
 *     detail    what it found: "a packet filter drops loopback UDP"
 *     fix       what to do: "allow lo in it"
 */
#include "lb.h"
#include "diag.h"
#include "echo.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ECHO_COUNT 1000	/* messages per check */
#define ECHO_SIZE 64		/* bytes per message */
#define ECHO_WAIT 2		/* seconds a client waits for an echo (-t) */
#define STR_(x) #x
#define STR(x) STR_(x)

/* The modes: the self-test (no -p, no -l), the echo server (-l) and the
 * client (-p or -U). The common options (-t included: here the wait for
 * each echo) follow in the core's half of the help. */
enum { SELF = LB_SELF, SERVER = LB_SERVER, CLIENT = LB_CLIENT };	/* short */
#define OPTIONS(X) \
	X(0, LB_FLAG, help, 0, \
		"usage: lo-echo [OPTIONS]          self-test: TCP 127.0.0.1 and ::1, UDP\n" \
		"       lo-echo [OPTIONS] -p PORT  client of an echo server (or -U PATH)\n" \
		"       lo-echo -l [OPTIONS]       echo server (-u: UDP)\n") \
	X('-', LB_FLAG, up, 0, " --up      bring lo up first (needs CAP_NET_ADMIN)") \
	X('c', LB_COUNT, count, 0, " -c COUNT  messages per check (" STR(ECHO_COUNT) "); -l: clients (-u: datagrams)") \
	X('s', LB_SIZE, size, SELF | CLIENT, " -s SIZE   bytes per message (" STR(ECHO_SIZE) ")") \
	X('B', LB_SIZE, bulk, SELF, " -B BYTES  also bulk throughput (K, M, G)") \
	X('J', LB_FLAG, json, SELF | CLIENT, " -J        JSON, not the table") \
	X('l', LB_FLAG, listen, SERVER, "") \
	X(0, LB_FLAG, help, 0, "Exit 0 pass, 1 fail, 2 usage, 3 no loopback, 4 timeout (-t, " STR(ECHO_WAIT) " s)")
static const char *const mode_name[] = { "not with the self-test", "not with -l", "not with -p" };
LB_SPEC(spec, OPTIONS, .common = "pa6uUPtwvqh");

static const char verdict[][5] = { "PASS", "FAIL", "SKIP" };
static int nck = 1;		/* checks: 1 the client's, 3 or 4 the self-test's */
static char outbuf[8192];	/* stdout, written at once */
static size_t outlen;

static void *xmap(size_t n)
{
	void *p = lb_mmap(n);
	if (!p)
		lb_die_errno(EX_FAIL, "mmap");
	return p;
}

/* ---- the report: one field list for the JSON and the table ---- */

static void put(const char *f, ...)	/* to stdout, written by report() */
{
	va_list ap;
	va_start(ap, f);
	outlen = (size_t)(lb_vfmt(outbuf + outlen, outbuf + sizeof(outbuf), f, ap) - outbuf);
	va_end(ap);
}

/* The fields of a check, in the JSON's order; the table's numeric columns
 * are min_us..mb_s (COL..COL+4), printed "-" where the JSON has null. The
 * first three and the last are strings, the others come from x[]. */
static const char field[] =	/* the 15 names one after the other: no padding */
	"result\0name\0addr\0messages\0bytes\0seconds\0"
	"min_us\0p50_us\0p99_us\0max_us\0mb_s\0lost\0late\0dup\0note";
enum { COL = 6, NF = 15 };
static const char null[] = "null";

/* Field F of K as text, in B if it is a number */
static const char *val(struct check *k, int f, char *b)
{
	unsigned div = 1;
	uint64_t n;

	if (f < 3 || f == NF - 1)
		return f == 0 ? verdict[k->res] : f == 1 ? k->name : f == 2 ? k->addr : k->note;
	n = k->x[f - 3 - (f > COL + 4)];	/* mb_s has no slot: see below */
	if (f == 5)
		div = 1000000000;
	else if (f == COL + 4)	/* MB/s = bytes per us */
		div = (n = k->bytes) ? (unsigned)(k->ns / 1000) : 0;
	else if (f >= COL && f < COL + 4)	/* n: 0 for bulk and SKIP */
		div = k->n ? 1000 : 0;
	if (!div)
		return null;
	return lb_fixed(b, n, div, f == 5 ? 6 : f >= COL && f <= COL + 4);
}

static void o_pad(const char *s, int w)	/* right-aligned in w columns */
{
	for (int n = (int)strlen(s); n < w; n++)
		put(" ");
	put("$", s);
}

static void report(struct check *ck, int nck, int self, int code, uint64_t t0)
{
	int json = lb.json;
	char b[24];

	if (!json && lb.quiet)
		return;
	if (json) {
		put("{\"ok\":$,\"exit\":#,\"mode\":\"$\"", code ? "false" : "true", (uint64_t)code,
		  self ? "self-test" : "client");
		if (self)
			put(",\"ipv6\":$", ck[1].res == SKIP ? "false" : "true");
		put(",\"count\":#,\"size\":#,\"wall_ms\":#,\"checks\":[", lb_echo.count, lb_echo.size,
		  (lb_now_us() - t0) / 1000);
	} else {
		put("check               min us    p50 us    p99 us    max us      MB/s  result\n");
	}
	for (struct check *k = ck; k < ck + nck; k++) {
		if (json) {
			put(",{");
			const char *key = field;
			for (int f = 0; f < NF; f++, key += strlen(key) + 1)	/* "KEY":"string" or "KEY":number */
				put(f < 3 || f == NF - 1 ? ",\"$\":\"@\"" : ",\"$\":$", key, val(k, f, b));
			put("}");
			continue;
		}
		put("$", k->name);
		o_pad("", 14 - (int)strlen(k->name));
		for (int f = COL; f < COL + 5; f++) {
			const char *v = val(k, f, b);
			o_pad(v == null ? "-" : v, 10);
		}
		put(k->res != FAIL && *k->note ? "  $  ($)\n" : "  $\n", verdict[k->res], k->note);
	}
	if (json) {
		put("],\"diagnosis\":[");
		for (struct lb_found *f = lb_found; f < lb_found + lb_nfound; f++)
			put(",{\"cause\":\"$\",\"detail\":\"@\",\"fix\":\"@\"}", lb_diag_name(f->cause), f->text,
			    f->text + strlen(f->text) + 1);
		put("]}\n");
	}
	for (char *p = outbuf; outlen;) {
		ssize_t w = write(1, p, outlen);
		if (w <= 0)
			break;
		p += w, outlen -= (size_t)w;
	}
}

/* ---- the self-test ---- */

static pid_t instrument_pid;

static void end_instrument(void)
{
	if (instrument_pid > 0) {
		kill(instrument_pid, SIGKILL);
		/* waitpid(), but musl's is linked for lo-echo alone only */
		syscall(SYS_wait4, instrument_pid, NULL, 0, NULL);
		instrument_pid = 0;
	}
}

static struct check ck[4];	/* the self-test's; the client's is ck[0] */
static uint64_t all[16], one[16];	/* CPU masks: 1024 CPUs */

static void cpus(const uint64_t *mask)	/* both processes on MASK */
{
	syscall(SYS_sched_setaffinity, instrument_pid, 128, mask);
	syscall(SYS_sched_setaffinity, 0, 128, mask);
}

/* The listening sockets of the self-test's checks; -1: none (poll()
 * skips it) */
static struct pollfd lfd[4] = { { -1, POLLIN, 0 }, { -1, POLLIN, 0 }, { -1, POLLIN, 0 }, { -1, POLLIN, 0 } };

/* The self-test's own server: a measuring instrument, not -l. Its client
 * runs one check at a time, so it serves one connection at a time with
 * blocking calls: no event loop between the kernel and the round trip.
 * The sink (p[3]) wakes for 1 MiB at a time (SO_RCVLOWAT: 7.0-8.0 GB/s
 * against 4.6-5.5 waking for every segment), discards with MSG_TRUNC (no
 * copy) and answers the count at EOF. UDP (p[2]) comes last and is served until the end.
 * Anyone on the host may connect to a loopback port: it serves the self-
 * test's client alone (ck[i].me), and resets and names any other. */
_Noreturn static void instrument(struct pollfd *p, pid_t parent)
{
	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)	/* it died before the line above */
		_exit(1);
	for (int i = 0; i < 4; i++)
		if (ck[i].fd > 0)
			close(ck[i].fd);
	for (int i = 0;; i = (i + 1) % 4) {
		uint64_t n = 0;
		ssize_t r, w = 0;
		struct lb_addr pa;
		int c;

		if (!i)
			poll(p, 4, -1);
		if (!p[i].revents)
			continue;
		while (i == 2)
			lb_echo_dgram(p[2].fd, 0, &ck[2].me);
		pa.len = sizeof(pa.u);
		if ((c = lb_accept4(p[i].fd, &pa.u.sa, &pa.len, SOCK_CLOEXEC)) < 0)
			continue;
		if (!lb_echo_is(&pa, &ck[i].me)) {
			lb_say("note: ", lb_addrstr(&pa), " connected to the self-test: refused", NULL);
			lb_linger(c, 1);
			close(c);
			continue;
		}
		lb_echo_nodelay(c);
		if (i == 3)
			lb_setsockopt(c, SOL_SOCKET, SO_RCVLOWAT, &(int){ BIG }, sizeof(int));
		while (w >= 0 && (r = lb_recv(c, lb_echo_buf, BIG, i == 3 ? MSG_TRUNC : 0)) > 0) {
			n += (uint64_t)r;
			for (char *q = lb_echo_buf; i != 3 && r > 0; q += w, r -= w)
				if ((w = lb_send(c, q, (size_t)r, MSG_NOSIGNAL)) < 0)
					break;
		}
		if (i == 3 && !r)
			lb_send(c, &n, 8, MSG_NOSIGNAL);
		close(c);
	}
}

/* Diagnose lo, then start the server of each check: the number of checks */
static int selftest(void)
{
	static const char name[] = "tcp 127.0.0.1\0tcp ::1\0udp 127.0.0.1\0bulk 127.0.0.1";
	unsigned cpu = 0;
	int c;

	nck = 3 + !!lb.bulk;
	const char *n = name;
	for (struct check *k = ck; k < ck + 4; k++, n += strlen(n) + 1) {
		k->name = n;
		k->type = *n == 'u' ? SOCK_DGRAM : SOCK_STREAM;
		/* the address is in its name: "tcp ::1" */
		lb_xresolve(&k->ep, lb_strchr(n, ' ') + 1, NULL, 0, 1);
	}
	/* diagnose: 127.0.0.1 unusable ends it here (exit 3; -J: the report,
	 * its checks not run), ::1 unusable is a note */
	if ((c = lb_diag(&ck[0].ep, LB_OP_LO, 0))) {
		if (!lb.json)
			lb_diag_exit(&ck[0].ep, c, 0, 0);
		lb_stpcpy(ck[0].note, lb_last->text);
		ck[0].code = EX_NOLO;
		for (int i = 0; i < nck; i++)
			ck[i].res = i ? SKIP : FAIL;
		return nck;
	}
	if ((c = lb_diag(&ck[1].ep, LB_OP_LO, 0))) {
		ck[1].res = SKIP;
		lb_stpcpy(ck[1].note, "no ::1");
		lb_diag_note(c);
	}
	lb_diag_notes();
	if (lb_echo.size > LB_UDP_MAX) {
		ck[2].res = SKIP;
		lb_stpcpy(ck[2].note, "SIZE > " STR(LB_UDP_MAX));
	}
	for (int i = 0; i < nck; i++) {
		struct check *k = &ck[i];
		if (k->res)
			continue;
		lfd[i].fd = lb_xlisten(&k->ep, k->type);
		/* its client's socket, bound now, so that the server knows it */
		k->me = k->ep;
		k->me.u.in.sin_port = 0;
		k->fd = lb_socket(k->me.u.sa.sa_family, k->type | SOCK_CLOEXEC, 0);
		if (k->fd < 0 || lb_bind(k->fd, &k->me.u.sa, k->me.len) ||
		    lb_getsockname(k->fd, &k->me.u.sa, &k->me.len))
			lb_diag_die(&k->me, LB_OP_BIND | (k->type == SOCK_DGRAM ? LB_UDP : 0), errno);
	}
	/* The round trips run with client and server on one CPU: a wakeup on
	 * another costs an inter-processor interrupt, which is most of the
	 * round trip in a VM (p50 50 us across CPUs, 14 us on one, here). */
	syscall(SYS_sched_getaffinity, 0, sizeof(all), all);
	syscall(SYS_getcpu, &cpu, NULL, NULL);
	one[cpu / 64 % 16] = 1ull << cpu % 64;
	cpus(one);
	/* the server accepts one connection at a time, with a descriptor
	 * beyond the ones it inherits: out of them, say so here (exit 1),
	 * not as echoes that never came */
	int spare = lb_fcntl(2, F_DUPFD, 0);	/* dup(), which is not linked in otherwise */
	if (spare < 0)
		lb_die_errno(EX_FAIL, "self-test server");
	close(spare);
	/* fork(2) itself: musl's fork() brings 1.5 KB of atfork locking that
	 * a single-threaded program does not need (the child never raise()s) */
	pid_t parent = getpid();
#ifdef __s390__	/* s390's clone takes the new stack first, then the flags */
	instrument_pid = (pid_t)syscall(SYS_clone, 0, SIGCHLD, 0, 0, 0);
#else
	instrument_pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
	if (instrument_pid < 0)
		lb_die_errno(EX_FAIL, "fork");
	if (!instrument_pid)
		instrument(lfd, parent);
	lb_atexit(end_instrument);
	for (int i = 0; i < 4; i++)
		close(lfd[i].fd);
	return nck;
}
/* ---- lo-echo ---- */

int lo_echo_main(char **argv)
{
	uint64_t t0 = lb_now_us();
	int code = 0;

	lb_parse(argv, &spec);
	unsigned mode = lb.listen ? SERVER : lb.port >= 0 || lb.path ? CLIENT : SELF;
	int type = lb.udp ? SOCK_DGRAM : SOCK_STREAM;
	lb_modes(mode, mode_name);
	if (lb.up)
		lb_up();
	if (mode == SERVER)
		return lb_echo_serve(type);

	uint64_t size = lb_given('s') ? lb.size : ECHO_SIZE;
	if (!size || size > (type == SOCK_DGRAM ? LB_UDP_MAX : 64u << 20))
		lb_die(EX_USAGE, "-s", "not a message size (1 to 64M; UDP: " STR(LB_UDP_MAX) ")");
	lb_echo.size = size;
	lb_echo.count = lb.count ? lb.count : ECHO_COUNT;	/* -c 0 is refused */
	lb_echo.wait_ms = lb.idle_ms > 0 ? (int)lb.idle_ms : ECHO_WAIT * 1000;
	if (mode == SELF) {
		nck = selftest();
	} else {	/* the client: one check */
		static char name[128];
		lb_xendpoint(&ck->ep, 0);
		lb_stpcpy(lb_stpcpy(name, lb.path ? "unix " : type == SOCK_DGRAM ? "udp " : "tcp "), lb_addrstr(&ck->ep));
		ck->name = name;
		ck->type = type;
	}
	/* one buffer for every check, never unmapped: no munmap linked in */
	uint8_t *buf = xmap(3 * size + 1);
	for (int j = 0; j < 4; j++) {
		int i = j ^ j >> 1;	/* 0 1 3 2: UDP last, see instrument() */
		struct check *k = &ck[i];
		if (i >= nck)
			continue;
		if (k->res) {	/* (skipped, or 127.0.0.1 unusable: -J) */
		} else if (i == 3) {	/* bulk: sender and sink each on a CPU of its own */
			cpus(all);
			lb_echo_bulk(k);
			cpus(one);
		} else {
			lb_echo_rtt(k, buf);
		}
		if (!code)	/* the first failure's (k->code is 0 unless it failed) */
			code = k->code;
	}
	end_instrument();
	report(ck, nck, mode == SELF, code, t0);
	return code;
}
