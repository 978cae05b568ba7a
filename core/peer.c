/* peer.c - who is at the other end of a local connection.
 *
 * UNIX sockets say it themselves (SO_PEERCRED). For TCP over loopback the
 * peer's socket is in our own kernel, so its owner can be asked for by
 * the exact 4-tuple: NETLINK_SOCK_DIAG (one request, one answer), else a
 * scan of /proc/net/tcp or tcp6 where the diag modules are missing.
 *
 * A peer that already closed is not trusted: its socket may have become a
 * TIME_WAIT stub, which the kernel reports as owned by uid 0.
 */
#include "peer.h"
#include "nl.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <string.h>
#include <unistd.h>

enum { ST_TIME_WAIT = 6 };

void lb_peer_init(void)
{
	lb_nl_fd(LB_NL_DIAG);
}

/* The address bytes of A (4 or 16 of them: *LEN) */
static const void *ip(const struct lb_addr *a, size_t *len)
{
	if (a->u.sa.sa_family == AF_INET) {
		*len = 4;
		return &a->u.in.sin_addr;
	}
	*len = 16;
	return &a->u.in6.sin6_addr;
}

static int got;

static void on_peer(void *arg, struct lb_nlh *h)
{
	memcpy(arg, h + 1, sizeof(struct lb_diag_msg));
	got = h->type == LB_DIAG_BY_FAMILY && h->len >= sizeof(*h) + sizeof(struct lb_diag_msg);
}

/* The peer's socket of the connection from ME (our end) to PE, asked of
 * the kernel's socket table into *M: 0, 1 when there is no such socket,
 * -1 when the table cannot be asked. Ports share their place in
 * sockaddr_in and sockaddr_in6. */
static int diag(const struct lb_addr *me, const struct lb_addr *pe, struct lb_diag_msg *m)
{
	struct lb_diag_req q;
	size_t len;

	memset(&q, 0, sizeof(q));
	q.h.len = sizeof(q);
	q.h.type = LB_DIAG_BY_FAMILY;
	q.h.flags = LB_NLM_REQ;	/* one exact socket, no dump */
	q.family = (uint8_t)me->u.sa.sa_family;
	q.protocol = IPPROTO_TCP;
	q.states = ~0U;
	/* the peer's socket: its local end is our remote one */
	q.id.sport = pe->u.in.sin_port;
	q.id.dport = me->u.in.sin_port;
	const void *a = ip(pe, &len);
	memcpy(q.id.src, a, len);
	a = ip(me, &len);
	memcpy(q.id.dst, a, len);
	q.id.cookie[0] = q.id.cookie[1] = ~0U;	/* INET_DIAG_NOCOOKIE */
	got = 0;
	int e = lb_nl(LB_NL_DIAG, &q, on_peer, m);	/* answered within send() */
	if (e)	/* no such socket, or no diag */
		return e == ENOENT ? 1 : -1;
	/* asked as AF_INET, an AF_INET6 socket on ::ffff:127.x.y.z (a
	 * dual-stack one) answers: its address in the IPv4 form */
	if (m->family != q.family) {
		m->id.dst[0] = m->id.dst[3];
		m->id.dst[2] = m->id.dst[3] = 0;
	}
	return got && m->id.dport == q.id.dport && !memcmp(m->id.dst, q.id.dst, 16) ? 0 : -1;
}

/* "0100007F:1F90": the address words as the kernel prints them (%08X of
 * each network-order word read as a host integer), the port in hex. */
static void endstr(char *p, const struct lb_addr *a)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len;
	const unsigned char *b = ip(a, &len);
	uint32_t w;

	for (size_t i = 0; i < len; i += 4) {
		memcpy(&w, b + i, 4);
		for (int s = 28; s >= 0; s -= 4)
			*p++ = hex[(w >> s) & 15];
	}
	*p++ = ':';
	for (int s = 12; s >= 0; s -= 4)
		*p++ = hex[(ntohs(a->u.in.sin_port) >> s) & 15];
	*p = 0;
}

/* "sl local remote st tx:rx tr:when retrnsmt uid ..." */
static int proc_line(char *l, const char *want_l, const char *want_r, unsigned *uid)
{
	char *tok[8];
	int n = 0;
	uint64_t v;

	while (n < 8) {
		while (*l == ' ')
			l++;
		if (!*l)
			return -1;
		tok[n++] = l;
		while (*l && *l != ' ')
			l++;
		if (*l)
			*l++ = 0;
	}
	if (strcmp(tok[1], want_l) || strcmp(tok[2], want_r) || !strcmp(tok[3], "06") ||
	    lb_num(tok[7], &v, UINT32_MAX, 0))
		return -1;
	*uid = (unsigned)v;
	return 0;
}

static int by_proc(const struct lb_addr *me, const struct lb_addr *pe, unsigned *uid)
{
	char want_l[48], want_r[48], buf[4096];
	size_t have = 0;
	int r = -1, fd = lb_open(me->u.sa.sa_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	endstr(want_l, pe);
	endstr(want_r, me);
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *l = buf, *e;
		while ((e = lb_strchr(l, '\n'))) {
			*e = 0;
			if (!proc_line(l, want_l, want_r, uid)) {
				r = 0;
				goto out;
			}
			l = e + 1;
		}
		have -= (size_t)(l - buf);
		memmove(buf, l, have);
		if (have == sizeof(buf) - 1)	/* no line is that long: skip it */
			have = 0;
	}
out:
	close(fd);
	return r;
}

/* Both ends of connection FD: 0, or -1 */
static int ends(int fd, struct lb_addr *me, struct lb_addr *pe)
{
	memset(me, 0, sizeof(*me));
	memset(pe, 0, sizeof(*pe));
	me->len = pe->len = sizeof(me->u);
	return lb_getsockname(fd, &me->u.sa, &me->len) || lb_getpeername(fd, &pe->u.sa, &pe->len) ? -1 : 0;
}

int lb_peer_unread(int fd)
{
	struct lb_addr me, pe;
	struct lb_diag_msg m;
	int q, r;

	if (lb_ioctl(fd, TIOCOUTQ, &q) || ends(fd, &me, &pe))	/* SIOCOUTQ */
		return errno == ENOTCONN ? 0 : -1;	/* reset: shutdown() will say so */
	if (q || me.u.sa.sa_family == AF_UNIX)
		return q;
	r = diag(&me, &pe, &m);
	return r < 0 ? -1 : r ? 0 : (int)m.rqueue;
}

int lb_peer_uid(int fd, unsigned *uid)
{
	struct lb_addr me, pe;
	struct lb_diag_msg m;

	if (ends(fd, &me, &pe))
		return -1;
	if (me.u.sa.sa_family == AF_UNIX) {
		struct ucred c;
		socklen_t l = sizeof(c);
		if (lb_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &l))
			return -1;
		*uid = c.uid;
		return 0;
	}
	if (!diag(&me, &pe, &m) && m.state != ST_TIME_WAIT) {
		*uid = m.uid;
		return 0;
	}
	return by_proc(&me, &pe, uid);
}
