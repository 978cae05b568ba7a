/* net.c - loopback endpoints: parse, listen, connect, accept, diagnose.
 *
 * Only loopback is ever touched: an address is checked before any socket
 * exists, and listeners bind the exact address given, never a wildcard.
 * No resolver: "localhost" is the only name, so no NSS and no getaddrinfo
 * (which also keeps the static glibc build quiet and the binary small).
 */
#include "lb.h"
#include "diag.h"
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>	/* rename() only: no stdio streams are used */
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The socket file we made and its lock (PATH.lock), removed on exit */
static char unix_owned[sizeof(((struct sockaddr_un *)0)->sun_path) + 5];

/* inet_pton, for what lb_xresolve needs (musl's is 833 B): a dotted quad
 * without leading zeros, or IPv6 text, at most one "::", a dotted-quad
 * tail allowed. 0, or -1 for anything else. */
static int quad(const char *s, uint8_t *out)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, nd = 0;
		for (; *s >= '0' && *s <= '9' && nd < 4; s++, nd++)
			v = v * 10 + (unsigned)(*s - '0');
		if (!nd || nd > 3 || v > 255 || (nd > 1 && s[-(int)nd] == '0'))
			return -1;
		out[i] = (uint8_t)v;
		if (*s++ != (i < 3 ? '.' : 0))
			return -1;
	}
	return 0;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
}

static int pton6(const char *s, uint8_t *out)
{
	uint8_t g[16];
	int n = 0, gap = -1;

	if (*s == ':' && *++s != ':')	/* a leading colon only as "::" */
		return -1;
	for (;;) {
		if (*s == ':') {	/* the empty group of "::" */
			if (gap >= 0)
				return -1;
			gap = n;
			if (!*++s)
				break;
		}
		const char *h = s;
		unsigned v = 0;
		for (int d; s - h < 4 && (d = hexval(*s)) >= 0; s++)
			v = v << 4 | (unsigned)d;
		if (*s == '.') {	/* the last 32 bits as a dotted quad */
			if (n > 12 || quad(h, g + n))
				return -1;
			n += 4;
			break;
		}
		if (s == h || n == 16)
			return -1;
		g[n++] = (uint8_t)(v >> 8);
		g[n++] = (uint8_t)v;
		if (!*s)
			break;
		if (*s++ != ':')
			return -1;
	}
	if (gap < 0 ? n != 16 : n == 16)	/* "::" stands for one group or more */
		return -1;
	if (gap < 0)
		gap = n;
	memset(out, 0, 16);
	memcpy(out, g, (size_t)gap);
	memcpy(out + 16 - (n - gap), g + gap, (size_t)(n - gap));
	return 0;
}

void lb_xresolve(struct lb_addr *a, const char *addr, const char *path, int port, int listener)
{
	const char *s = addr;

	memset(a, 0, sizeof(*a));
	if (path) {
		size_t n = strlen(path);
		if (n >= sizeof(a->u.un.sun_path))
			lb_die(EX_USAGE, path, "path too long");
		a->u.un.sun_family = AF_UNIX;
		memcpy(a->u.un.sun_path, path, n);
		if (path[0] == '@')	/* abstract: a NUL, then the name */
			a->u.un.sun_path[0] = 0;
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
		return;
	}
	if (port < 0)
		lb_die(EX_USAGE, "-p", "a port is needed (or -U PATH)");
	if (port == 0 && !listener)
		lb_die(EX_USAGE, "-p 0", "not a port (1-65535)");
	if (!strcmp(s, "localhost"))
		s = "127.0.0.1";
	if (!quad(s, (uint8_t *)&a->u.in.sin_addr)) {
		uint32_t ip = ntohl(a->u.in.sin_addr.s_addr);
		if (ip == 0x7fffffff)	/* 127.255.255.255 */
			lb_die(EX_USAGE, addr, "the broadcast address, not an endpoint");
		if (ip >> 24 != 127)
			goto notlo;
		a->u.in.sin_family = AF_INET;
		a->len = sizeof(a->u.in);
	} else if (!pton6(s, a->u.in6.sin6_addr.s6_addr)) {
		if (!IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr))
			goto notlo;
		a->u.in6.sin6_family = AF_INET6;
		a->len = sizeof(a->u.in6);
	} else {
		goto notlo;
	}
	a->u.in.sin_port = htons(port);	/* where sockaddr_in6 has it too */
	return;
notlo:
	lb_die(EX_USAGE, addr, "not a loopback address");
}

void lb_xendpoint(struct lb_addr *a, int listener)
{
	lb_xresolve(a, lb.addr, lb.path, lb.port, listener);
}

const char *lb_addrstr(const struct lb_addr *a)
{
	static char buf[sizeof(a->u.un.sun_path) + 8];
	int fam = a->u.sa.sa_family;

	if (fam == AF_UNIX) {
		size_t n = a->len - offsetof(struct sockaddr_un, sun_path);
		if (n > sizeof(a->u.un.sun_path))
			n = 0;
		memcpy(buf, a->u.un.sun_path, n);
		buf[n] = 0;
		if (n && !buf[0])
			buf[0] = '@';
		if (!n)
			lb_stpcpy(buf, "unix");
		return buf;
	}
	/* by hand: musl's inet_ntop pulls in snprintf, ~10 KB of printf */
	char *p = buf;
	if (fam == AF_INET) {
		const unsigned char *b = (const unsigned char *)&a->u.in.sin_addr;
		for (int i = 0; i < 4; i++) {
			lb_utoa(p, b[i]);
			p += strlen(p);
			*p++ = i < 3 ? '.' : ':';
		}
	} else {
		const unsigned char *b = a->u.in6.sin6_addr.s6_addr;
		*p++ = '[';
		if (IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr)) {
			lb_stpcpy(p, "::1");
			p += 3;
		} else {
			for (int i = 0; i < 16; i += 2) {	/* uncompressed */
				for (int j = 0; j < 4; j++)
					*p++ = "0123456789abcdef"[(b[i + j / 2] >> (j & 1 ? 0 : 4)) & 15];
				*p++ = ':';
			}
			p--;
		}
		*p++ = ']';
		*p++ = ':';
	}
	lb_utoa(p, ntohs(a->u.in.sin_port));
	return buf;
}

/* ERR stopped socket call OP (LB_OP_...) on endpoint A of TYPE: the
 * doctor names why, and the exit code */
static _Noreturn void addr_die(int err, const struct lb_addr *a, int op, int type)
{
	lb_diag_die(a, op | ((type & 15) == SOCK_DGRAM ? LB_UDP : 0), err);
}

static int xsocket(const struct lb_addr *a, int type)
{
	int fd = lb_socket(a->u.sa.sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		addr_die(errno, a, LB_OP_SOCKET, type);
	return fd;
}

static void unix_unlink(void)
{
	char *e = unix_owned + strlen(unix_owned);

	if (unix_owned[0]) {
		unlink(unix_owned);
		lb_stpcpy(e, ".lock");
		unlink(unix_owned);
		*e = 0;
	}
}

/* A listener at PATH holds PATH.lock locked for its life: the socket
 * dump that tells a live socket from a stale one sees only its own
 * network namespace, a lock on the file every namespace shares. */
static void unix_lock(const char *path)
{
	char lk[sizeof(unix_owned)];
	int fd;

	lb_stpcpy(lb_stpcpy(lk, path), ".lock");
	fd = lb_open(lk, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		lb_die_errno(EX_FAIL, lk);
	if (syscall(SYS_flock, fd, LOCK_EX | LOCK_NB))
		lb_die(EX_FAIL, path, "address already in use (a server listens there)");
	/* held until exit: the descriptor stays open */
}

/* Is a listening UNIX socket bound to the file ST? Asked of the kernel
 * (sock_diag, by the file's inode) rather than by connecting, which a live
 * one-shot server such as lo-recv would take as its one client. 1 yes,
 * 0 no, -1 the kernel cannot say (no unix_diag). */
static const struct lb_statx *want;
static int ulive;

static void on_unix(void *arg, struct lb_nlh *m)
{
	/* a 16-byte unix_diag_msg, then UNIX_DIAG_VFS: the inode, the dev_t
	 * as the kernel has it (major << 20 | minor) */
	uint32_t *v = lb_nl_attr(m, 16, 1);

	(void)arg;
	ulive |= v && v[0] == (uint32_t)want->ino && v[1] == (want->dev_major << 20 | want->dev_minor);
}

static int unix_listening(const struct lb_statx *st)
{
	struct {
		struct lb_nlh h;
		uint8_t family, protocol;
		uint16_t pad;
		uint32_t states, ino, show, cookie[2];
	} q = { { sizeof(q), LB_DIAG_BY_FAMILY, LB_NLM_REQ | LB_NLM_DUMP, 0, 0 },
		AF_UNIX, 0, 0, 1 << LB_TCP_LISTEN, 0, 2 /* UDIAG_SHOW_VFS */, { 0, 0 } };

	want = st;
	ulive = 0;
	return lb_nl(LB_NL_DIAG, &q, on_unix, NULL) ? -1 : ulive;
}

/* A socket file nobody listens on is stale and goes; a live one is in use. */
static void unix_stale(const struct lb_addr *a, int type)
{
	struct lb_statx st;
	const char *path = a->u.un.sun_path;	/* NUL-terminated (lb_xresolve) */
	int live;

	if (!path[0] || lb_statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, &st))
		return;
	if (!S_ISSOCK(st.mode))
		lb_die(EX_FAIL, path, "exists and is not a socket");
	live = unix_listening(&st);
	if (live < 0) {		/* the kernel cannot say: knock */
		int fd = xsocket(a, type);
		live = !lb_connect(fd, &a->u.sa, a->len) || errno != ECONNREFUSED;
		close(fd);
	}
	if (live)
		lb_die(EX_FAIL, path, "address already in use (a server listens there)");
	unlink(path);
}

/* the port of A and a newline; for a UNIX socket, which has no port, an
 * empty file still says "listening" */
static void write_portfile(const struct lb_addr *a)
{
	char tmp[4096], num[24], *p = lb_utoa(num, ntohs(a->u.in.sin_port));
	size_t n = strlen(p);
	int fd = lb_tmpfile(lb.portfile, tmp, sizeof(tmp));

	p[n++] = '\n';
	if (a->u.sa.sa_family == AF_UNIX)
		n = 0;
	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) || rename(tmp, lb.portfile)) {
		int e = errno;
		if (fd >= 0)
			unlink(tmp);
		errno = e;
		lb_die_errno(EX_FAIL, lb.portfile);
	}
}

int lb_xlisten(struct lb_addr *a, int type)
{
	int one = 1, fd = xsocket(a, type);
	int fam = a->u.sa.sa_family;

	if (fam == AF_UNIX) {
		if (a->u.un.sun_path[0])	/* not abstract */
			unix_lock(a->u.un.sun_path);
		unix_stale(a, type);
	} else {
		/* TCP: past a TIME_WAIT. Never UDP, where it lets a second
		 * socket bind the same port and take its datagrams. */
		if (type == SOCK_STREAM)
			lb_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fam == AF_INET6)	/* ::1 only, never a v4 twin */
			lb_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	int c;
	if (lb_bind(fd, &a->u.sa, a->len))
		addr_die(errno, a, LB_OP_BIND, type);
	/* A fresh namespace lets 127.0.0.1 be bound while lo is down, and
	 * nobody could reach the listener: say so now, not never. */
	if (fam != AF_UNIX && (c = lb_diag(a, LB_OP_LO, 0)))
		lb_diag_exit(a, c, 0, 0);
	if (fam == AF_UNIX && a->u.un.sun_path[0]) {	/* not abstract */
		lb_stpcpy(unix_owned, a->u.un.sun_path);
		lb_atexit(unix_unlink);	/* a signal that kills while we wait runs it too */
	}
	/* deep: lo-serve -n keeps the waiting clients here (the kernel caps it
	 * at somaxconn; musl's SOMAXCONN says 128) */
	if (type == SOCK_STREAM && lb_listen(fd, 4096))
		addr_die(errno, a, LB_OP_BIND, type);
	if (fam != AF_UNIX) {
		socklen_t len = a->len;
		lb_getsockname(fd, &a->u.sa, &len);
	}
	if (lb.portfile)
		write_portfile(a);
	if (lb.verbose)
		lb_say("listening on ", lb_addrstr(a), NULL);
	return fd;
}

/* A pause between retries; a signal may end it early (the callers loop). */
static void sleep_ms(long ms)
{
	poll(NULL, 0, (int)ms);
}


int lb_xconnect(const struct lb_addr *a, int type)
{
	/* refused or absent: retried for the -w window; a backlog that stays
	 * full (UNIX): for -t, else for -w; a SYN nobody answers: named after
	 * 2 s, where a full accept queue is waited for, for -t, else for -w
	 * (lb_dial) */
	long bound = lb.idle_ms > 0 ? lb.idle_ms : lb.wait_ms;
	uint64_t now = lb_now_us(), end = now + (uint64_t)lb.wait_ms * 1000, stuck = now + (uint64_t)bound * 1000;
	const char *what = lb_addrstr(a);
	int self = 0;	/* once connected to itself, it says so at the end */

	for (;;) {
		int fd = xsocket(a, type | (a->u.sa.sa_family == AF_UNIX ? 0 : SOCK_NONBLOCK)), err;
		lb_timeo(fd, SO_SNDTIMEO, bound);	/* bounds connect() too: TCP says EINPROGRESS, UNIX EAGAIN */
		/* (a port in the ephemeral range with nothing on it: the kernel
		 * may pick it for our own end and connect us to ourselves;
		 * LB_ESELF is retried like a refusal) */
		err = lb_dial(fd, a, bound);
		if (!err) {
			lb_timeo(fd, SO_SNDTIMEO, 0);
			if (lb.verbose)
				lb_say("connected to ", what, NULL);
			return fd;
		}
		close(fd);
		self |= err == LB_ESELF;
		if (err == ETIMEDOUT && bound) {	/* no answer in time: exit 4, named */
			int c = lb_diag(a, LB_OP_CONNECT | ((type & 15) == SOCK_DGRAM ? LB_UDP : 0), err);
			lb_diag_exit(a, c, err, lb_diag_code(c) == EX_NOLO ? 0 : EX_TIME);
		}
		now = lb_now_us();
		if (err == EAGAIN && bound && now >= stuck)
			lb_die(EX_TIME, what, "no connection in time: the listener's backlog is full");
		/* refused, or (UNIX) not there yet / backlog full: worth a retry */
		if (err != ECONNREFUSED && err != ENOENT && err != EAGAIN && err != EINTR && err != LB_ESELF)
			addr_die(err, a, LB_OP_CONNECT, type);
		if (now >= end && err != EAGAIN) {
			if (lb.wait_ms && !self)
				lb_die(EX_TIME, what, err == ENOENT ? "no such socket (the -w window ran out)"
								    : "connection refused (the -w window ran out)");
			addr_die(self ? LB_ESELF : err, a, LB_OP_CONNECT, type);
		}
		sleep_ms(20);
	}
}

int lb_xaccept(int lfd, const struct lb_addr *a, struct lb_addr *peer)
{
	/* while it waits, a signal ends it through the exit hooks */
	struct pollfd pf[2] = { { lfd, POLLIN, 0 }, { lb_sigblock(0), POLLIN, 0 } };

	for (;;) {
		int r = poll(pf, 2, (int)lb.idle_ms);
		if (r == 0)
			lb_die(EX_TIME, lb_addrstr(a), "idle timeout: no connection came");
		if (r < 0 && errno != EINTR)
			lb_die_errno(EX_FAIL, "poll");
		if (r < 0)
			continue;
		if (pf[1].revents)
			lb_sigdie(lb_signext());
		peer->len = sizeof(peer->u);
		int fd = lb_accept4(lfd, &peer->u.sa, &peer->len, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EMFILE || errno == ENFILE)
			sleep_ms(LB_PAUSE_MS);	/* wait for a descriptor; never spin */
		else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
			lb_die_errno(EX_FAIL, "accept");
	}
}

void lb_linger(int fd, int abort)
{
	struct linger l = { abort, 0 };
	lb_setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}
