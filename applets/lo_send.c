/* lo-send - connect, send a message, files or stdin, half-close, then copy
 * the reply to stdout until the peer closes.
 *
 * Exit 0 only if every byte went out and the peer then closed cleanly:
 * a reset at any point (lo-recv resets when it cannot store a byte) is
 * exit 1. Until it ends well the socket is set to reset on close, so a
 * lo-send that dies mid-way never looks like a clean end to its peer.
 *
 * -u: a datagram a line (or -m as one) on a connected UDP socket, whose
 * ICMP port unreachable says that nobody got it: exit 1, not 0.
 */
#include "lb.h"
#include "diag.h"
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define OPTIONS(X) \
	X(0, LB_FLAG, help, 0, \
		"usage: lo-send [OPTIONS] -p PORT [-m MESSAGE | FILE... | -z]\n\n" \
		"Connect to a loopback port and send MESSAGE (no newline added), the FILEs\n" \
		"in order, or stdin (- is stdin). Then half-close and copy what the peer\n" \
		"sends back to stdout until it closes. Exit 0 only if every byte was sent\n" \
		"and the peer closed cleanly; 1 if it reset or vanished.\n" \
		"With -u, send UDP datagrams: MESSAGE as one, or each line of the input\n" \
		"without its newline; exit 1 if nobody listens (-w: wait for a listener).\n") \
	X('m', LB_STR, msg, 0, " -m MSG   send MSG instead of files or stdin") \
	X('z', LB_FLAG, probe, 0, " -z       only connect, then close: is anyone listening? (-w: wait)")
LB_SPEC(spec, OPTIONS, .common = "pa6uUtwvqh", .operands = 1, .excl = "zmu\0ut\0");

#define STR_(x) #x
#define STR(x) STR_(x)

static struct lb_addr to;	/* static: keeps the frame small (-32 B) */
static uint64_t ndgrams;	/* -u: datagrams that went out */

/* -u: ERR stopped the datagrams. ECONNREFUSED is the ICMP port
 * unreachable that a datagram nobody received caused; the doctor may
 * know more (a filter, a listener on the other family). */
static _Noreturn void udp_die(int err)
{
	int c = lb_diag(&to, LB_OP_SEND | LB_UDP, err);
	int win = lb.wait_ms && !ndgrams;	/* the -w window ran out */

	if (err == ECONNREFUSED && !c) {
		char *w = (char *)lb_addrstr(&to);	/* (its own static buffer) */
		lb_stpcpy(w + strlen(w), "/udp");
		lb_die(win ? EX_TIME : EX_FAIL, w, win ? "nobody listens (the -w window ran out)" : "nobody listens");
	}
	lb_diag_exit(&to, c, err, 0);
}

/* -u: one datagram of B, N bytes, on the connected socket SOCK; then did
 * anyone get it? On loopback the ICMP port unreachable for a datagram
 * nobody receives is handled inside our own send() (the softirq runs as
 * the send returns): 0 misses in 140,000 sends, idle or with every CPU
 * busy, so a poll that does not wait sees its POLLERR. The yield first
 * lets ksoftirqd run, should the kernel have deferred it there. Under
 * -w a refused first datagram is sent again every 20 ms (nobody got it)
 * until the window ends. */
static void dgram(int sock, const char *b, size_t n)
{
	long tries = lb.wait_ms / 20;
	int err;

	do {
		struct pollfd pf = { sock, 0, 0 };
		socklen_t l = sizeof(err);
		err = lb_send(sock, b, n, 0) < 0 ? errno : 0;
		syscall(SYS_sched_yield);
		if (!err && poll(&pf, 1, 0) > 0)
			lb_getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &l);
	} while (err == EINTR || (err == ECONNREFUSED && !ndgrams && tries-- > 0 && !poll(NULL, 0, 20)));
	if (err)
		udp_die(err);
	ndgrams++;
}

/* -u: each line of FD (NAME) one datagram, without its newline; a last
 * line without one too. A line longer than a datagram carries is exit 1. */
static void lines(int sock, int fd, const char *name)
{
	static char b[LB_UDP_MAX + 1];	/* the longest line and its newline */
	char *p = b, *nl;
	size_t have = 0, n;
	ssize_t k = 1;

	for (;;) {
		for (nl = p; nl < p + have && *nl != '\n'; nl++)
			;
		n = (size_t)(nl - p);
		if (n == have && k && have < sizeof(b)) {	/* no newline: read on */
			memmove(b, p, have);
			p = b;
			k = read(fd, b + have, sizeof(b) - have);
			if (k < 0 && errno != EINTR)
				lb_die_errno(EX_FAIL, name);
			have += k > 0 ? (size_t)k : 0;
			k = k != 0;
			continue;
		}
		if (n > LB_UDP_MAX)
			lb_die(EX_FAIL, name, "a line longer than a UDP datagram carries (" STR(LB_UDP_MAX) " bytes)");
		if (!have)	/* the end */
			return;
		dgram(sock, p, n);
		n += n < have;	/* and its newline */
		p += n;
		have -= n;
	}
}

/* -u: the message, or the FDS' lines (N of them), as datagrams */
static int send_udp(int *fds, int n)
{
	int sock = lb_xconnect(&to, SOCK_DGRAM);

	if (lb.msg)
		dgram(sock, lb.msg, strlen(lb.msg));
	for (int i = 0; i < n; i++)
		lines(sock, fds[i], lb.nargs ? lb.args[i] : "stdin");
	return EX_OK;
}

int lo_send_main(char **argv)
{
	lb_parse(argv, &spec);
	if ((lb.msg || lb.probe) && lb.nargs)
		lb_die(EX_USAGE, lb.msg ? "-m" : "-z", "conflicts with FILE operands");
	lb_xendpoint(&to, 0);
	if (lb.udp && lb.msg && strlen(lb.msg) > LB_UDP_MAX)
		lb_die(EX_USAGE, "-m", lb_strerror(EMSGSIZE));
	if (lb.probe)	/* -z: the wait-for-a-port of scripts */
		return close(lb_xconnect(&to, SOCK_STREAM)), EX_OK;

	int n = lb.nargs ? lb.nargs : !lb.msg;
	int fds[n ? n : 1];
	for (int i = 0; i < lb.nargs; i++) {
		const char *f = lb.args[i];
		fds[i] = strcmp(f, "-") ? lb_open(f, O_RDONLY | O_CLOEXEC, 0) : 0;
		if (fds[i] < 0)
			lb_die_errno(EX_FAIL, f);
	}
	if (!lb.nargs)
		fds[0] = 0;
	if (lb.udp)
		return send_udp(fds, n);

	struct lb_pump p = {
		.sock = lb_xconnect(&to, SOCK_STREAM),
		.ep = &to,
		.msg = lb.msg,
		.msglen = lb.msg ? strlen(lb.msg) : 0,
		.files = fds,
		.nfiles = n,
		.names = lb.nargs ? lb.args : NULL,
		.shut = 1,
		.unread = lb_peer_unread,
		.out = 1,
		.outname = "stdout",
	};
	const char *where;
	lb_linger(p.sock, 1);
	int err = lb_pump(&p, &where);
	if (err)
		lb_pump_die(&p, err, where);
	lb_linger(p.sock, 0);
	close(p.sock);
	lb_report(&p);
	return EX_OK;
}
