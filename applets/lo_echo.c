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
 * first send until the sink's count of what it received is back. -l is the concurrent server on the shared
 * event loop, for other clients.
 *
 * Messages: message i of SIZE bytes carries i (little-endian) in its first
 * min(SIZE, 4) bytes, then pat(i * SIZE + j) at byte j: a function of the
 * offset in the whole stream, so a lost, duplicated, reordered or corrupted
 * byte shows at its exact offset (TCP) and a datagram names its sequence
 * number (UDP). The defaults (1000 x 64 bytes) carry every byte value.
 *
 * Timing: one message in flight at a time (ping-pong), TCP_NODELAY, the
 * monotonic clock from send to the last byte back, in nanoseconds, into a
 * log-linear histogram (64 steps per octave: under 0.8% error, constant
 * memory for any COUNT); min and max are exact.
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
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
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

enum { PASS, FAIL, SKIP };
static const char verdict[][5] = { "PASS", "FAIL", "SKIP" };

struct check {
	const char *name;
	int type;		/* SOCK_STREAM, SOCK_DGRAM */
	int res, code;
	union {		/* x: the numeric fields in the report's order */
		struct {	/* v: min p50 p99 max */
			uint64_t n, bytes, ns, v[4], lost, late, dup;
		};
		uint64_t x[10];
	};
	char addr[120], note[320];
	int fd;			/* self-test: its client's socket, made before the fork */
	/* last, for short offsets to the rest: the echo server's address,
	 * and (self-test) its client's, the only one the server answers */
	struct lb_addr ep, me;
};

#define BIG (1u << 20)		/* bulk and server buffers */
static int wait_ms = ECHO_WAIT * 1000;	/* a client's wait for each echo */
static int nck = 1;		/* checks: 1 the client's, 3 or 4 the self-test's */
static uint64_t count, size;	/* per check: -c messages of -s bytes */
static char outbuf[8192];	/* stdout, written at once */
static size_t outlen;
static char ebuf[BIG];		/* the servers' and bulk()'s buffer */

static void *xmap(size_t n)
{
	void *p = lb_mmap(n);
	if (!p)
		lb_die_errno(EX_FAIL, "mmap");
	return p;
}


/* Text into [P, END): F's '#' takes a uint64_t, '$' a string, '@' a
 * string escaped for JSON; any other character stands for itself, but a
 * ',' right after a '{' or '[' is left out (JSON's separators). Returns the
 * end, unterminated. One formatter for the notes and the report. */
static char *vfmt(char *p, char *end, const char *f, va_list ap)
{
	char b[24];

	for (; *f; f++) {
		const char *s = b;
		if (*f == ',' && (p[-1] == '{' || p[-1] == '['))
			continue;
		if (*f == '#')
			lb_utoa(b, va_arg(ap, uint64_t));
		else if (*f == '$' || *f == '@')
			s = va_arg(ap, const char *);
		else
			b[0] = *f, b[1] = 0;
		for (char c; (c = *s) && p < end - 1; s++) {	/* (room for an escape) */
			if (*f == '@') {
				if (c == '"' || c == '\\')
					*p++ = '\\';
				if ((unsigned char)c < ' ')
					c = '?';
			}
			*p++ = c;
		}
	}
	return p;
}

static void put(const char *f, ...)	/* to stdout, written by report() */
{
	va_list ap;
	va_start(ap, f);
	outlen = (size_t)(vfmt(outbuf + outlen, outbuf + sizeof(outbuf), f, ap) - outbuf);
	va_end(ap);
}

/* ---- the pattern ---- */

static inline uint8_t pat(uint64_t k)
{
	return (uint8_t)(k * 167 + (k >> 8));
}

static void fill(uint8_t *b, uint64_t i, size_t s)
{
	for (size_t j = 0; j < s; j++)
		b[j] = j < 4 ? (uint8_t)(i >> (8 * j)) : pat(i * s + j);
}

/* ---- round-trip times: a log-linear histogram of nanoseconds ---- */

static uint32_t hist[128 + 57 * 64];	/* up to 2^64 ns: bss, not in the file */

static unsigned hidx(uint64_t v)
{
	if (v < 128)
		return (unsigned)v;
	int e = 63 - __builtin_clzll(v);
	return 128 + (unsigned)(e - 7) * 64 + (unsigned)((v >> (e - 6)) & 63);
}

static uint64_t pct(struct check *k, unsigned permille)
{
	uint64_t rank = (k->n * permille + 999) / 1000, sum = 0, v;
	unsigned i = 0;

	while (i < sizeof(hist) / 4 - 1 && (sum += hist[i]) < rank)
		i++;
	v = i;
	if (i >= 128)	/* the middle of the bucket: (64 + (i & 63) + 1/2) << e */
		v = (uint64_t)(129 + 2 * (i & 63)) << ((i >> 6) - 2);
	return v < k->v[0] ? k->v[0] : v > k->v[3] ? k->v[3] : v;
}

/* ---- failures: one line on stderr, even with -q; the check records it */

/* F as vfmt() has it. The strings are ours or lb_strerror's: every note
 * fits. */
static void fail(struct check *k, int code, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	*vfmt(k->note, k->note + sizeof(k->note) - 1, f, ap) = 0;
	va_end(ap);
	k->res = FAIL;
	k->code = code;
	lb_write(2, lb.name, ": ", k->name, ": ", k->note, "\n", NULL);
}

/* ERR stopped it after DONE bytes (or datagrams): 0 is the server's EOF */
/* K failed with ERR in OP: 1 when the doctor (core/diag.c) named why and
 * the check says so. (An answer that does not come is the doctor's only in
 * the self-test: its own server always answers.) */
static int doctor(struct check *k, int op, int err)
{
	int c = err && (nck > 1 || (err != EAGAIN && err != ETIMEDOUT))
		? lb_diag(&k->ep, op | (k->type == SOCK_DGRAM ? LB_UDP : 0), err == EAGAIN ? ETIMEDOUT : err)
		: 0;
	if (c) {
		char *d = lb_last->text;
		fail(k, lb_diag_code(c), "$: $", d, d + strlen(d) + 1);
	}
	return c;
}

static void fail_err(struct check *k, int err, uint64_t done)
{
	const char *unit = k->type == SOCK_DGRAM ? "datagrams" : "bytes";

	if (doctor(k, LB_OP_SEND, err))
		;
	else if (err == EAGAIN || err == ETIMEDOUT)
		fail(k, EX_TIME, "no echo within # ms (after # $)", (uint64_t)wait_ms, done, unit);
	else
		fail(k, EX_FAIL, "$ (after # $)", err ? lb_strerror(err) : "the server closed the connection",
		     done, unit);
}

/* Name the first differing byte of message SEQ by its offset in the stream
 * (for UDP: in the stream of datagrams), what was sent and what came back. */
static void mismatch(struct check *k, const uint8_t *want, const uint8_t *got, size_t s,
		     size_t r, uint64_t seq)
{
	size_t j = 0;

	while (j < s - 1 && want[j] == got[j])	/* (r <= s + 1 bytes are there) */
		j++;
	if (r != s)
		fail(k, EX_FAIL, "datagram #: # bytes came back", seq, (uint64_t)r);
	else
		fail(k, EX_FAIL, "echo differs at byte # (message #): sent #, got #", seq * s + j, seq,
		     (uint64_t)want[j], (uint64_t)got[j]);
}

/* ---- the client ---- */

static void timeouts(int fd, int ms)
{
	lb_timeo(fd, SO_RCVTIMEO, ms);
	lb_timeo(fd, SO_SNDTIMEO, ms);
}

/* TCP: every message goes out at once (a no-op on UDP and UNIX sockets) */
static int nodelay(int fd)
{
	int one = 1;
	lb_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* K's connected socket, -1 when the self-test's connect failed (noted) */
static int client_socket(struct check *k)
{
	int fd = k->fd;

	lb_stpcpy(k->addr, lb_addrstr(&k->ep));
	if (fd <= 0)
		fd = lb_xconnect(&k->ep, k->type);
	timeouts(fd, wait_ms);	/* SO_SNDTIMEO bounds connect() too */
	if (k->fd > 0 && lb_connect(fd, &k->ep.u.sa, k->ep.len)) {
		if (doctor(k, LB_OP_CONNECT, errno == EINPROGRESS ? ETIMEDOUT : errno))
			;
		else if (errno == EINPROGRESS)
			fail(k, EX_TIME, "no answer to the connect within # ms", (uint64_t)wait_ms);
		else
			fail(k, EX_FAIL, "connect: $", lb_strerror(errno));
		return -1;
	}
	return nodelay(fd);
}

/* One TCP round trip of S bytes: 0, or an errno (0 with *in < s: EOF).
 * A message that fits the send buffer goes in one send, then a blocking
 * receive (SO_RCVTIMEO bounds it); a larger one is sent and received at
 * once, or an echo server that answers while reading would deadlock us. */
static int exchange(int fd, const uint8_t *sb, uint8_t *rb, size_t s, size_t *in)
{
	size_t out = 0;
	ssize_t r;

	for (*in = 0; *in < s; *in += (size_t)r) {
		if (out < s) {
			r = lb_send(fd, sb + out, s - out, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r > 0)
				out += (size_t)r;
			else if (errno != EAGAIN)
				return errno;
		}
		if (out < s) {
			struct pollfd p = { fd, POLLIN | POLLOUT, 0 };
			if (!poll(&p, 1, wait_ms))
				return ETIMEDOUT;
			r = lb_recv(fd, rb + *in, s - *in, MSG_DONTWAIT);
			if (r < 0 && errno == EAGAIN) {
				r = 0;
				continue;
			}
		} else {
			r = lb_recv(fd, rb + *in, s - *in, MSG_WAITALL);
		}
		if (r <= 0)
			return r ? errno : 0;
	}
	return 0;
}

/* Is this datagram the echo of an earlier one, coming late or twice?
 * Its first 4 bytes name it: the latest message up to I with those low 32
 * bits of its number (a SIZE under 4 cannot tell). */
static int stale(uint8_t *tmp, const uint8_t *got, size_t r, uint64_t i)
{
	size_t s = size;

	if (s < 4 || r != s)	/* before reading the 4 bytes: they may not be */
		return 0;
	uint32_t low = got[0] | got[1] << 8 | got[2] << 16 | (uint32_t)got[3] << 24;
	uint64_t q = i - (uint32_t)((uint32_t)i - low);
	if (q >= i)
		return 0;
	fill(tmp, q, s);
	return !memcmp(tmp, got, s);
}

/* COUNT round trips of SIZE bytes, one at a time, with SB: 3 * SIZE + 1
 * bytes, for what is sent, what comes back, and stale()'s copy. (Not
 * inlined into its one caller: -150 B, the register pressure of one huge
 * function.) */
__attribute__((noinline)) static void rtt(struct check *k, uint8_t *sb)
{
	size_t s = size, got = 0;
	uint8_t *rb = sb + s, *tmp = rb + s + 1;
	int fd = client_socket(k), udp = k->type == SOCK_DGRAM, miss = 0, err = 0;
	uint64_t i, t, old = 0, start = lb_now_ns();

	if (fd < 0)
		return;
	memset(hist, 0, sizeof(hist));
	for (i = 0; i < count && !k->res; i++) {
		fill(sb, i, s);
		uint64_t t0 = lb_now_ns();
		if (udp) {
			ssize_t r = lb_send(fd, sb, s, 0);
			while (r >= 0 && (r = lb_recv(fd, rb, s + 1, 0)) >= 0 &&
			       ((size_t)r != s || memcmp(sb, rb, s)) && stale(tmp, rb, (size_t)r, i))
				old++;
			if (r < 0 && errno == EAGAIN && ++k->lost && ++miss < 3 && k->n)	/* (none yet: no retry) */
				continue;
			if (r < 0) {
				err = errno;
				break;
			}
			got = (size_t)r;
			miss = 0;
		} else if ((err = exchange(fd, sb, rb, s, &got)) || got < s) {
			break;
		}
		t = lb_now_ns() - t0;
		if (!k->n++ || t < k->v[0])
			k->v[0] = t;
		if (t > k->v[3])
			k->v[3] = t;
		hist[hidx(t)]++;
		if (got != s || memcmp(sb, rb, s))
			mismatch(k, sb, rb, s, got, i);
		else
			k->bytes += s;
	}
	k->ns = lb_now_ns() - start;
	k->v[1] = pct(k, 500);	/* (0 when n is: rank 0, clamped to min) */
	k->v[2] = pct(k, 990);
	if (!k->res && i < count)
		fail_err(k, err, udp ? i : i * s + got);
	if (!udp && !k->res) {
		/* the end: half-close; the server closes too, and says no more */
		timeouts(fd, 500);
		lb_shutdown(fd, SHUT_WR);
		ssize_t r = lb_recv(fd, rb, s, 0);
		if (r > 0 || (r < 0 && errno != EAGAIN))
			fail(k, EX_FAIL, "$", r > 0 ? "more bytes came back than were sent" : lb_strerror(errno));
	}
	k->late = old < k->lost ? old : k->lost;
	k->dup = old - k->late;
	if (!k->res && (k->lost || k->dup))
		fail(k, EX_FAIL, "datagrams lost: #, echoed twice: #", k->lost, k->dup);
	close(fd);
}

/* -B: BYTES one way into the self-test's sink, which answers with the
 * count it received once we half-close. (Not inlined: -31 B.) */
__attribute__((noinline)) static void bulk(struct check *k)
{
	uint8_t *sb = (uint8_t *)ebuf;	/* the instrument's is its own copy */
	uint64_t left = lb.bulk, out = 0, cnt = 0;
	int fd = client_socket(k);

	if (fd < 0)
		return;
	memset(sb, 0x5a, BIG);	/* any bytes: the sink discards them. (Written:
				 * untouched, they would be the one zero page.) */
	uint64_t t0 = lb_now_ns();
	while (out < left) {
		ssize_t w = lb_send(fd, sb, left - out < BIG ? left - out : BIG, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		out += (uint64_t)w;
	}
	int err = out < left ? errno : 0;
	lb_shutdown(fd, SHUT_WR);
	errno = 0;
	if (!err && lb_recv(fd, &cnt, 8, MSG_WAITALL) != 8)
		err = errno;
	k->ns = lb_now_ns() - t0;
	k->bytes = cnt;
	if (out < left || err)
		fail_err(k, err, out);
	else if (cnt != left)
		fail(k, EX_FAIL, "the sink received # bytes of #", cnt, left);
	else
		lb_stpcpy(k->note, "one way into a sink");
	close(fd);
}

/* ---- the report: one field list for the JSON and the table ---- */

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
		put(",\"count\":#,\"size\":#,\"wall_ms\":#,\"checks\":[", count, size,
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

/* ---- the server ---- */

static uint64_t last_us;	/* -l: when the last connection ended */
static unsigned nopen;

/* Echo what arrives. The bytes are peeked, sent, and only what was sent is
 * taken off the receive queue: a short write leaves the rest in the kernel
 * and we wait for room (EPOLLOUT), reading nothing meanwhile. So an idle
 * connection holds no buffer, a slow reader cannot make us hoard, and at
 * EOF everything before it has gone back: the close follows the last echo. */
static void on_echo(struct lb_conn *c, unsigned ev)
{
	ssize_t r, w;

	if (!ev)		/* -t ran out */
		goto done;
	if (ev & EPOLLOUT)
		lb_loop_mod(c, EPOLLIN);
	for (int budget = 16; budget--;) {
		r = lb_recv(c->fd, ebuf, BIG, MSG_PEEK | MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0)
			goto done;
		w = lb_send(c->fd, ebuf, (size_t)r, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			goto done;
		if (w > 0)
			lb_recv(c->fd, ebuf, (size_t)w, MSG_DONTWAIT);
		if (w < r) {
			lb_loop_mod(c, EPOLLOUT);
			return;
		}
		if (r < (ssize_t)BIG)
			return;
	}
	return;
done:
	lb_loop_close(c);
	lb_loop_free(c);
	nopen--;
	last_us = lb_now_us();
}

/* -t on a server: exit 4 once nothing has moved for SECS, connections
 * included (each has its own -t clock and is closed when it runs out). */
static void idle(void)
{
	if (!nopen && lb_now_us() - last_us >= (uint64_t)lb.idle_ms * 1000)
		lb_die(EX_TIME, "idle timeout", "nothing came for the -t time");
}

static struct lb_listener lst;	/* -l */

/* The listener's take (core/loop.c): FD, accepted from PEER, echoed to */
static int take(int fd, struct lb_addr *peer)
{
	struct lb_conn *e = lb_loop_new(sizeof(*e));

	if (!e) {	/* out of memory: wait, never spin */
		close(fd);
		lb_loop_pause(&lst.c, LB_PAUSE_MS);
		return 1;
	}
	e->fd = nodelay(fd);
	e->fn = on_echo;
	lb_loop_add(e, EPOLLIN, lb.idle_ms >= 0);	/* timed: by -t */
	nopen++;
	if (lb.verbose)
		lb_say("connection from ", lb_addrstr(peer), NULL);
	lb_loop_served(&lst.c);
	return 0;
}

/* The listener is timed (by -t): ev 0 is the server's idle check */
static void on_accept(struct lb_conn *c, unsigned ev)
{
	if (ev)
		lb_loop_accept(c, ev);
	else
		idle();
}

/* Is A the address ONLY (NULL: anyone)? */
static int is(const struct lb_addr *a, const struct lb_addr *only)
{
	return !only || (a->len == only->len && !memcmp(&a->u, &only->u, a->len));
}

/* UDP: one datagram back to whoever sent it (if it is ONLY); no connected
 * socket, so any number of peers share the one socket. -1: none was
 * waiting. */
static ssize_t echo_dgram(int fd, int flags, const struct lb_addr *only)
{
	struct lb_addr p;
	p.len = sizeof(p.u);
	ssize_t r = lb_recvfrom(fd, ebuf, BIG, flags, &p.u.sa, &p.len);
	if (r >= 0 && is(&p, only))
		lb_sendto(fd, ebuf, (size_t)r, flags, &p.u.sa, p.len);
	return r;
}

static void on_udp(struct lb_conn *c, unsigned ev)
{
	if (!ev)
		idle();
	for (int budget = 64; ev && budget-- && c->fd >= 0;) {
		if (echo_dgram(c->fd, MSG_DONTWAIT, NULL) < 0)
			return;
		lb_loop_served(c);
	}
}

/* Serve on the shared loop until SIGTERM/SIGINT, or -c is done (the
 * listener closed) and its connections with it. */
static int serve(void)
{
	lb_loop_init();
	last_us = lb_now_us();
	lb_fcntl(lst.c.fd, F_SETFL, O_NONBLOCK);
	lb_loop_add(&lst.c, EPOLLIN, lb.idle_ms >= 0);
	while (lst.c.fd >= 0 || nopen) {
		int sig = lb_loop_once();
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	return EX_OK;
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
			echo_dgram(p[2].fd, 0, &ck[2].me);
		pa.len = sizeof(pa.u);
		if ((c = lb_accept4(p[i].fd, &pa.u.sa, &pa.len, SOCK_CLOEXEC)) < 0)
			continue;
		if (!is(&pa, &ck[i].me)) {
			lb_say("note: ", lb_addrstr(&pa), " connected to the self-test: refused", NULL);
			lb_linger(c, 1);
			close(c);
			continue;
		}
		nodelay(c);
		if (i == 3)
			lb_setsockopt(c, SOL_SOCKET, SO_RCVLOWAT, &(int){ BIG }, sizeof(int));
		while (w >= 0 && (r = lb_recv(c, ebuf, BIG, i == 3 ? MSG_TRUNC : 0)) > 0) {
			n += (uint64_t)r;
			for (char *q = ebuf; i != 3 && r > 0; q += w, r -= w)
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
	if (size > LB_UDP_MAX) {
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
	if (mode == SERVER) {
		struct lb_addr here;
		lst.c.fn = type == SOCK_DGRAM ? on_udp : on_accept;
		lst.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
		lst.take = take;
		/* no -p: the kernel picks, and we say which (-U: not looked at) */
		lb_xresolve(&here, lb.addr, lb.path, lb.port < 0 ? 0 : lb.port, 1);
		lst.c.fd = lb_xlisten(&here, type);
		if (lb.port < 0 && !lb.path && !lb.verbose)
			lb_say("listening on ", lb_addrstr(&here), NULL);
		return serve();
	}

	count = lb.count ? lb.count : ECHO_COUNT;	/* -c 0 is refused */
	size = lb_given('s') ? lb.size : ECHO_SIZE;
	if (!size || size > (type == SOCK_DGRAM ? LB_UDP_MAX : 64u << 20))
		lb_die(EX_USAGE, "-s", "not a message size (1 to 64M; UDP: " STR(LB_UDP_MAX) ")");
	if (lb.idle_ms > 0)
		wait_ms = (int)lb.idle_ms;
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
			bulk(k);
			cpus(one);
		} else {
			rtt(k, buf);
		}
		if (!code)	/* the first failure's (k->code is 0 unless it failed) */
			code = k->code;
	}
	end_instrument();
	report(ck, nck, mode == SELF, code, t0);
	return code;
}
