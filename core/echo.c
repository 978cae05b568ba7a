/* echo.c - lo-echo's two ends of an echo: the client that times and
 * verifies each check (the self-test's and -p's), and the -l server.
 * applets/lo_echo.c runs them: its options, the self-test's flow (its
 * own blocking server, the instrument, is there) and the report.
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
 * -l is the concurrent server on the shared event loop (core/loop.c), for
 * other clients.
 */
#include "echo.h"
#include "diag.h"
#include "loop.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct lb_echo lb_echo;
char lb_echo_buf[BIG];

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

/* F as lb_vfmt() has it. The strings are ours or lb_strerror's: every note
 * fits. */
static void fail(struct check *k, int code, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	*lb_vfmt(k->note, k->note + sizeof(k->note) - 1, f, ap) = 0;
	va_end(ap);
	k->res = FAIL;
	k->code = code;
	lb_write(2, lb.name, ": ", k->name, ": ", k->note, "\n", NULL);
}

/* K failed with ERR in OP: 1 when the doctor (core/diag.c) named why and
 * the check says so. (An answer that does not come is the doctor's only in
 * the self-test: its own server always answers.) */
static int doctor(struct check *k, int op, int err)
{
	int c = err && (k->fd > 0 || (err != EAGAIN && err != ETIMEDOUT))
		? lb_diag(&k->ep, op | (k->type == SOCK_DGRAM ? LB_UDP : 0), err == EAGAIN ? ETIMEDOUT : err)
		: 0;
	if (c) {
		char *d = lb_last->text;
		fail(k, lb_diag_code(c), "$: $", d, d + strlen(d) + 1);
	}
	return c;
}

/* ERR stopped it after DONE bytes (or datagrams): 0 is the server's EOF */
static void fail_err(struct check *k, int err, uint64_t done)
{
	const char *unit = k->type == SOCK_DGRAM ? "datagrams" : "bytes";

	if (doctor(k, LB_OP_SEND, err))
		;
	else if (err == EAGAIN || err == ETIMEDOUT)
		fail(k, EX_TIME, "no echo within # ms (after # $)", (uint64_t)lb_echo.wait_ms, done, unit);
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
int lb_echo_nodelay(int fd)
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
	timeouts(fd, lb_echo.wait_ms);	/* SO_SNDTIMEO bounds connect() too */
	if (k->fd > 0 && lb_connect(fd, &k->ep.u.sa, k->ep.len)) {
		if (doctor(k, LB_OP_CONNECT, errno == EINPROGRESS ? ETIMEDOUT : errno))
			;
		else if (errno == EINPROGRESS)
			fail(k, EX_TIME, "no answer to the connect within # ms", (uint64_t)lb_echo.wait_ms);
		else
			fail(k, EX_FAIL, "connect: $", lb_strerror(errno));
		return -1;
	}
	return lb_echo_nodelay(fd);
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
			if (!poll(&p, 1, lb_echo.wait_ms))
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
	size_t s = lb_echo.size;

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
 * bytes, for what is sent, what comes back, and stale()'s copy. */
void lb_echo_rtt(struct check *k, uint8_t *sb)
{
	size_t s = lb_echo.size, got = 0;
	uint8_t *rb = sb + s, *tmp = rb + s + 1;
	int fd = client_socket(k), udp = k->type == SOCK_DGRAM, miss = 0, err = 0;
	uint64_t i, t, old = 0, start = lb_now_ns();

	if (fd < 0)
		return;
	memset(hist, 0, sizeof(hist));
	for (i = 0; i < lb_echo.count && !k->res; i++) {
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
	if (!k->res && i < lb_echo.count)
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
 * count it received once we half-close. */
void lb_echo_bulk(struct check *k)
{
	uint8_t *sb = (uint8_t *)lb_echo_buf;	/* the instrument's is its own copy */
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

/* ---- the server (-l) ---- */

static uint64_t last_us;	/* when serving began, or the last connection ended */
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
		r = lb_recv(c->fd, lb_echo_buf, BIG, MSG_PEEK | MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0)
			goto done;
		w = lb_send(c->fd, lb_echo_buf, (size_t)r, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			goto done;
		if (w > 0)
			lb_recv(c->fd, lb_echo_buf, (size_t)w, MSG_DONTWAIT);
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
		return LB_PAUSE_MS;
	}
	e->fd = lb_echo_nodelay(fd);
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
int lb_echo_is(const struct lb_addr *a, const struct lb_addr *only)
{
	return !only || (a->len == only->len && !memcmp(&a->u, &only->u, a->len));
}

/* UDP: one datagram back to whoever sent it (if it is ONLY); no connected
 * socket, so any number of peers share the one socket. -1: none was
 * waiting. */
ssize_t lb_echo_dgram(int fd, int flags, const struct lb_addr *only)
{
	struct lb_addr p;
	p.len = sizeof(p.u);
	ssize_t r = lb_recvfrom(fd, lb_echo_buf, BIG, flags, &p.u.sa, &p.len);
	if (r >= 0 && lb_echo_is(&p, only))
		lb_sendto(fd, lb_echo_buf, (size_t)r, flags, &p.u.sa, p.len);
	return r;
}

static void on_udp(struct lb_conn *c, unsigned ev)
{
	if (!ev)
		idle();
	for (int budget = 64; ev && budget-- && c->fd >= 0;) {
		if (lb_echo_dgram(c->fd, MSG_DONTWAIT, NULL) < 0)
			return;
		lb_loop_served(c);
	}
}

int lb_echo_serve(int type)
{
	struct lb_addr here;

	lst.c.fn = type == SOCK_DGRAM ? on_udp : on_accept;
	lst.flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
	lst.take = take;
	/* no -p: the kernel picks, and we say which (-U: not looked at) */
	lb_xresolve(&here, lb.addr, lb.path, lb.port < 0 ? 0 : lb.port, 1);
	lst.c.fd = lb_xlisten(&here, type);
	if (lb.port < 0 && !lb.path && !lb.verbose)
		lb_say("listening on ", lb_addrstr(&here), NULL);
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
