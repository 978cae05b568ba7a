/* net.c - loopback endpoints: parse, listen, connect, accept, diagnose.
 *
 * Only loopback is ever touched: an address is checked before any socket
 * exists, and listeners bind the exact address given, never a wildcard.
 * No resolver: "localhost" is the only name, so no NSS and no getaddrinfo
 * (which also keeps the static glibc build quiet and the binary small).
 */
#include "lb.h"

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

/* 0: fine; 1: lo down; 2: the IPv4 address missing; 3: no IPv6 or no ::1.
 * Asks the kernel directly: lo's flags, then whether the exact address
 * can be bound (it cannot where it is not assigned). */
int lb_lo_state(const struct lb_addr *at, int family)
{
	struct ifreq ifr;
	struct lb_addr a;
	int st = 0, fd = lb_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	lb_stpcpy(ifr.ifr_name, "lo");
	if (fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP))
		st = 1;
	if (fd >= 0)
		close(fd);
	if (st || family == AF_UNIX)
		return st;
	if (at && at->u.sa.sa_family == family) {
		a = *at;
	} else {	/* ask about the default one */
		memset(&a, 0, sizeof(a));
		a.u.sa.sa_family = family;
		if (family == AF_INET)
			a.u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else
			a.u.in6.sin6_addr = in6addr_loopback;
	}
	a.u.in.sin_port = 0;
	/* Only the kernel's own "no such address" (or, for ::1, "no IPv6")
	 * is a verdict; out of descriptors or memory says nothing about lo. */
	fd = lb_socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return family == AF_INET6 && errno == EAFNOSUPPORT ? 3 : 0;
	if (bind(fd, &a.u.sa, family == AF_INET ? sizeof(a.u.in) : sizeof(a.u.in6)) && errno == EADDRNOTAVAIL)
		st = family == AF_INET6 ? 3 : 2;
	close(fd);
	return st;
}

static const char *const lo_why[] = {
	NULL,
	"loopback interface lo is down: run lo-echo --up, or ip link set lo up",
	"address not assigned to lo: run lo-echo --up, or ip addr add 127.0.0.1/8 dev lo",
	"::1 is not available (IPv6 off, or ::1 not on lo): use 127.0.0.1, or sysctl -w net.ipv6.conf.lo.disable_ipv6=0",
};

/* (what is not always A: lo-echo asks before it has an endpoint) */
static _Noreturn void net_die(int err, const char *what, const struct lb_addr *a, int family)
{
	if (err == ENETUNREACH || err == EADDRNOTAVAIL || err == EAFNOSUPPORT) {
		int st = lb_lo_state(a, family);
		lb_die(EX_NOLO, what, st ? lo_why[st] : lb_strerror(err));
	}
	lb_die(EX_FAIL, what, lb_strerror(err));
}

_Noreturn void lb_net_die(int err, const char *what, int family)
{
	net_die(err, what, NULL, family);
}

/* ERR stopped a socket call on endpoint A */
static _Noreturn void addr_die(int err, const struct lb_addr *a)
{
	net_die(err, lb_addrstr(a), a, a->u.sa.sa_family);
}

static int xsocket(const struct lb_addr *a, int type)
{
	int fd = lb_socket(a->u.sa.sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		addr_die(errno, a);
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

/* What statx(2) says of a file, as far as loopbox asks: musl's lstat goes
 * through fstatat and its /proc fallback (800 B), and musl 1.2.3 has no
 * statx(). The layout is the kernel's, the same on every architecture. */
struct lb_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad;
	uint64_t ino, size, blocks, attributes_mask, times[8];
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};

/* Is a listening UNIX socket bound to the file ST? Asked of the kernel
 * (sock_diag, by the file's inode) rather than by connecting, which a live
 * one-shot server such as lo-recv would take as its one client. 1 yes,
 * 0 no, -1 the kernel cannot say (no unix_diag). The netlink structures
 * are spelled out: musl ships no <linux/...> headers. */
static int unix_listening(const struct lb_statx *st)
{
	struct {
		uint32_t len;
		uint16_t type, flags;
		uint32_t seq, pid;
		uint8_t family, protocol;
		uint16_t pad;
		uint32_t states, ino, show, cookie[2];
	} q = { sizeof(q), 20 /* SOCK_DIAG_BY_FAMILY */, 0x301 /* REQUEST|DUMP */, 1, 0,
		AF_UNIX, 0, 0, 1 << 10 /* TCP_LISTEN */, 0, 2 /* UDIAG_SHOW_VFS */, { 0, 0 } };
	static char buf[8192];
	int fd = lb_socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, 4 /* NETLINK_SOCK_DIAG */);
	int found = -1;
	/* the kernel reports its own dev_t (major << 20 | minor) */
	uint32_t kdev = st->dev_major << 20 | st->dev_minor;

	if (fd < 0)
		return -1;
	if (send(fd, &q, sizeof(q), 0) == (ssize_t)sizeof(q)) {
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			for (char *m = buf; m + 16 <= buf + n;) {
				uint32_t mlen = *(uint32_t *)m;
				uint16_t type = *(uint16_t *)(m + 4);
				if (type == 3 /* DONE */ || type == 2 /* ERROR */) {
					found = type == 3 ? found < 0 ? 0 : found : -1;
					goto out;
				}
				if (mlen < 16 || m + mlen > buf + n)
					goto out;
				/* 16 header bytes, a 16-byte unix_diag_msg, then attributes */
				for (char *a = m + 32; a + 4 <= m + mlen;) {
					uint16_t alen = *(uint16_t *)a, atype = *(uint16_t *)(a + 2);
					if (alen < 4)
						break;
					if (atype == 1 /* UNIX_DIAG_VFS */ && alen >= 12 &&
					    *(uint32_t *)(a + 4) == (uint32_t)st->ino &&
					    *(uint32_t *)(a + 8) == kdev)
						found = 1;
					a += (alen + 3) & ~3u;
				}
				if (found < 0)
					found = 0;
				m += (mlen + 3) & ~3u;
			}
		}
	}
out:
	close(fd);
	return found;
}

/* A socket file nobody listens on is stale and goes; a live one is in use. */
static void unix_stale(const struct lb_addr *a, int type)
{
	struct lb_statx st;
	const char *path = a->u.un.sun_path;	/* NUL-terminated (lb_xresolve) */
	int live;

	if (!path[0] || syscall(SYS_statx, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW,
				      0x101 /* STATX_TYPE | STATX_INO */, &st))
		return;
	if (!S_ISSOCK(st.mode))
		lb_die(EX_FAIL, path, "exists and is not a socket");
	live = unix_listening(&st);
	if (live < 0) {		/* the kernel cannot say: knock */
		int fd = xsocket(a, type);
		live = !connect(fd, &a->u.sa, a->len) || errno != ECONNREFUSED;
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
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fam == AF_INET6)	/* ::1 only, never a v4 twin */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (bind(fd, &a->u.sa, a->len))
		addr_die(errno, a);
	/* A fresh namespace lets 127.0.0.1 be bound while lo is down, and
	 * nobody could reach the listener: say so now, not never. */
	int st = fam == AF_UNIX ? 0 : lb_lo_state(a, fam);
	if (st)
		lb_die(EX_NOLO, lb_addrstr(a), lo_why[st]);
	if (fam == AF_UNIX && a->u.un.sun_path[0]) {	/* not abstract */
		lb_stpcpy(unix_owned, a->u.un.sun_path);
		lb_atexit(unix_unlink);	/* a signal that kills while we wait runs it too */
	}
	/* deep: lo-serve -n keeps the waiting clients here (the kernel caps it
	 * at somaxconn; musl's SOMAXCONN says 128) */
	if (type == SOCK_STREAM && listen(fd, 4096))
		addr_die(errno, a);
	if (fam != AF_UNIX) {
		socklen_t len = a->len;
		getsockname(fd, &a->u.sa, &len);
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

/* SO_SNDTIMEO of MS ms (0: none), which also bounds connect(): TCP says
 * EINPROGRESS when it ran out, UNIX (a listener's backlog full) EAGAIN */
static void send_timeout(int fd, long ms)
{
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int lb_xconnect(const struct lb_addr *a, int type)
{
	/* refused or absent: retried for the -w window; a backlog that stays
	 * full, or a SYN nobody answers: for -t, else for -w */
	long bound = lb.idle_ms > 0 ? lb.idle_ms : lb.wait_ms;
	uint64_t now = lb_now_us(), end = now + (uint64_t)lb.wait_ms * 1000, stuck = now + (uint64_t)bound * 1000;
	const char *what = lb_addrstr(a);
	int self = 0;	/* once connected to itself, it says so at the end */

	for (;;) {
		int fd = xsocket(a, type), err = 0;
		struct lb_addr me;
		send_timeout(fd, bound);
		me.len = sizeof(me.u);
		if (connect(fd, &a->u.sa, a->len))
			err = errno;
		/* A port in the ephemeral range with nothing on it: the kernel
		 * may pick it for our own end and connect us to ourselves. */
		else if (!getsockname(fd, &me.u.sa, &me.len) && me.len == a->len && !memcmp(&me.u, &a->u, a->len))
			err = self = ELOOP;	/* (a stand-in: retried like a refusal) */
		if (!err) {
			send_timeout(fd, 0);
			if (lb.verbose)
				lb_say("connected to ", what, NULL);
			return fd;
		}
		close(fd);
		now = lb_now_us();
		if (err == EINPROGRESS || (err == EAGAIN && bound && now >= stuck))
			lb_die(EX_TIME, what, err == EAGAIN ? "no connection in time: the listener's backlog is full"
				: "no connection in time: no answer (a full accept queue, or a filter dropping it)");
		/* refused, or (UNIX) not there yet / backlog full: worth a retry */
		if (err != ECONNREFUSED && err != ENOENT && err != EAGAIN && err != EINTR && err != ELOOP)
			addr_die(err, a);
		if (now >= end && self)
			lb_die(EX_FAIL, what, "connected to itself: nothing listens there (a port in the ephemeral range)");
		if (now >= end && err != EAGAIN) {
			if (lb.wait_ms)
				lb_die(EX_TIME, what, err == ENOENT ? "no such socket (the -w window ran out)"
								    : "connection refused (the -w window ran out)");
			addr_die(err, a);
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
		if (fd >= 0) {
			lb_sigunblock();
			return fd;
		}
		if (errno == EMFILE || errno == ENFILE)
			sleep_ms(LB_PAUSE_MS);	/* wait for a descriptor; never spin */
		else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
			lb_die_errno(EX_FAIL, "accept");
	}
}

void lb_linger(int fd, int abort)
{
	struct linger l = { abort, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}
