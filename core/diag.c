/* diag.c - the loopback doctor (see diag.h and the README's table).
 *
 * lo's state comes from ioctls on the rtnetlink socket (flags, MTU) and
 * from rtnetlink itself (the addresses, the route the kernel would take,
 * the rules); who listens or lingers on a port from sock_diag. None of it
 * needs /proc or /sys, or an AF_INET socket (a sandbox may forbid those).
 * Only the size of the ephemeral range is read from /proc when it is
 * there: the kernel tells it nowhere else.
 */
#include "diag.h"
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

struct lb_found lb_found[6];
int lb_nfound;

/* Words that several texts share, each one byte in them (put() spells
 * it out): the phrases after the causes in texts[] */
#define RUN	"\001"	/* "run lo-echo --up, or " */
#define DEV	"\002"	/* " dev lo" */
#define ADD	"\003"	/* "ip addr add " */
#define LINK	"\004"	/* "ip link set lo " */
#define FILTER	"\005"	/* "a packet filter " */
#define LOOP	"\006"	/* "loopback " */
#define OTHER	"\007"	/* "use another port" */
#define LOCAL	"\010"	/* " local" */
#define LISTEN	"\011"	/* " listen" */
#define PORT	"\012"	/* " port" */
#define LO	"\013"	/* " lo" */
#define IS	"\014"	/* " is " */

/* code, detail, fix; for each cause. In a detail or a fix '$' and '^'
 * stand for the strings s1 and s2, '#' for the next of num[]. A fix starting with RUN is a repair of
 * --up's: the rest is the command that does the same. */
static const char texts[] =
	"lo-down\0" LOOP "interface" LO IS "down\0" RUN LINK "up\0"
	"no-addr\0address not assigned to" LO "\0" RUN ADD "127.0.0.1/8" DEV "\0"
	"no-ipv6\0::1" IS "not available\0" RUN ADD "::1" DEV ", or sysctl -w net.ipv6.conf.lo.disable_ipv6=0\0"
	"mtu\0lo's MTU #" IS "too small (IPv4 needs 68, IPv6 1280)\0" RUN LINK "mtu 65536\0"
	"no-route\0no" LOCAL " route for $\0" RUN "ip route add" LOCAL " $" DEV " table" LOCAL "\0"
	"no-rule\0no rule \"lookup" LOCAL "\"\0" RUN "ip^ rule add pref 0 lookup" LOCAL "\0"
	"drop\0" FILTER "drops " LOOP "$\0allow" LO " in it\0"
	"reject\0" FILTER "rejects " LOOP "$ (^)\0allow" LO " in it\0"
	"sandbox\0a sandbox ($) forbids the socket (^)\0allow it there\0"
	"no-port\0no free" LOCAL PORT " (ephemeral range$)\0widen net.ipv4.ip_local_port_range\0"
	"self\0connected to itself (nothing" LISTEN "s;" PORT " #" IS "ephemeral$)\0" OTHER "\0"
	"family\0connection refused, but $" LISTEN "s\0use ^\0"
	"time-wait\0in use only by # TIME_WAIT sockets for # s (made without SO_REUSEADDR, no" LISTEN "er can take the" PORT ")\0"
		"wait, or " OTHER "\0"
	"queue\0the" LISTEN "er's queue" IS "full (#)\0make it accept\0"
	"qdisc\0a qdisc ($) on" LO " delays or drops traffic\0tc qdisc del" DEV " root\0"
	"hosts\0/etc/hosts lacks" LOCAL "host\0add: 127.0.0.1" LOCAL "host\0"
	/* the phrases, RUN to IS */
	"run" LO "-echo --up, or \0 dev" LO "\0ip addr add \0ip link set" LO " \0a packet filter \0loopback \0"
	"use another" PORT "\0 local\0 listen\0 port\0 lo\0 is ";

static const char *s1, *s2;
static uint64_t num[3];
static int hit;			/* set by the netlink callbacks */
struct lb_found *lb_last;

/* Text W (0 code, 1 detail, 2 fix) of cause C; of C 17, the phrase W + 1 */
static const char *text(int c, int w)
{
	const char *s = texts;

	for (int i = (c - 1) * 3 + w; i--;)
		s += strlen(s) + 1;
	return s;
}

const char *lb_diag_name(int c)
{
	return text(c, 0);
}

/* T expanded into P; returns the end, past its NUL */
static char *put(char *p, const char *t)
{
	char b[24];
	int k = 0;

	for (; *t; t++) {
		const char *s = *t == '$' ? s1 : *t == '^' ? s2 : *t == '#' ? lb_utoa(b, num[k++]) : NULL;
		if ((unsigned char)*t <= *IS)	/* a phrase: the ones after cause 16 (a byte over 127 is none) */
			p = put(p, text(LB_C_HOSTS + 1, *t - 1)) - 1;
		else if (s)
			p = lb_stpcpy(p, s);
		else
			*p++ = *t;
	}
	*p = 0;
	return p + 1;
}

/* Cause C, recorded once (the same words twice are one finding) */
static int found(int c)
{
	struct lb_found *f = lb_found;

	lb_last = &lb_found[lb_nfound < 6 ? lb_nfound : 5];
	lb_last->cause = c;
	put(put(lb_last->text, text(c, 1)), text(c, 2));
	while (strcmp(f->text, lb_last->text))
		f++;
	if (f == lb_last && lb_nfound < 6)
		lb_nfound++;
	lb_last = f;
	return c;
}

int lb_diag_code(int c)
{
	return c < LB_C_NOPORT ? EX_NOLO : c < LB_C_HOSTS ? EX_FAIL : 0;
}

void lb_diag_note(int c)
{
	(void)c;
	lb_say("note: ", lb_last->text, ": ", lb_last->text + strlen(lb_last->text) + 1, NULL);
}

/* ---- lo: rtnetlink ---- */

/* The request being built: the header, the fixed part after it (zero
 * but for the family and what the caller sets), then the attributes
 * attr() adds. (hit is cleared for the answers' callback.) noinline on
 * ask and lo_addr: -Oz copied them into each caller, and the copies
 * cost more than the calls (measured); on begin and attr, to keep it so. */
static struct {
	struct lb_nlh h;
	uint8_t b[56];
} q;

__attribute__((noinline)) static void begin(int type, int flags, unsigned hdr, int fam)
{
	memset(&q, 0, sizeof(q));
	q.h.len = 16 + hdr;
	q.h.type = (uint16_t)type;
	q.h.flags = (uint16_t)(LB_NLM_REQ | flags);
	q.b[0] = (uint8_t)fam;
	hit = 0;
}

/* Attribute TYPE holding the N bytes (a multiple of 4) at V */
__attribute__((noinline)) static void attr(int type, const void *v, unsigned n)
{
	uint16_t *p = (void *)((char *)&q + q.h.len);

	p[0] = (uint16_t)(4 + n);
	p[1] = (uint16_t)type;
	memcpy(p + 2, v, n);
	q.h.len += 4 + n;
}

/* A dump of TYPE for family FAM, whose request header is HDR bytes */
__attribute__((noinline)) static int ask(int type, int fam, unsigned hdr, void (*fn)(void *, struct lb_nlh *), void *arg)
{
	begin(type, LB_NLM_DUMP, hdr, fam);
	return lb_nl(LB_NL_ROUTE, &q, fn, arg);
}

static const uint8_t *ip(const struct lb_addr *a)
{
	return a->u.sa.sa_family == AF_INET ? (const uint8_t *)&a->u.in.sin_addr : a->u.in6.sin6_addr.s6_addr;
}

/* 127.0.0.1 or (V6) ::1 in O, port 0 */
__attribute__((noinline)) static void lo_addr(struct lb_addr *o, int v6)
{
	memset(o, 0, sizeof(*o));
	if (v6) {
		o->u.in6.sin6_family = AF_INET6;
		o->u.in6.sin6_addr.s6_addr[15] = 1;
	} else {
		o->u.in.sin_family = AF_INET;
		o->u.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
}

/* an address of lo's that covers A's (ifaddrmsg: family, prefixlen,
 * flags, scope, index) */
static void on_addr(void *arg, struct lb_nlh *m)
{
	const struct lb_addr *a = arg;
	uint8_t *f = (uint8_t *)(m + 1);
	int v4 = a->u.sa.sa_family == AF_INET;
	uint32_t *l = lb_nl_attr(m, 8, v4 ? 2 /* IFA_LOCAL */ : 1 /* IFA_ADDRESS */);

	/* (the index is a u32 in the machine's order; the addresses are in the
	 * network's, compared in ours: s390x is big-endian) */
	if (*(uint32_t *)(f + 4) == 1 && l)
		hit |= v4 ? !((uint64_t)ntohl(*l ^ a->u.in.sin_addr.s_addr) >> (32 - f[1])) : !memcmp(l, ip(a), 16);
}

static void on_route(void *arg, struct lb_nlh *m)	/* rtmsg: its type */
{
	(void)arg;
	hit = ((uint8_t *)(m + 1))[7] == 2 /* RTN_LOCAL */;
}

static void on_rule(void *arg, struct lb_nlh *m)	/* fib_rule_hdr: its table */
{
	(void)arg;
	hit |= ((uint8_t *)(m + 1))[4] == 255 /* RT_TABLE_LOCAL */;
}

static void on_qdisc(void *arg, struct lb_nlh *m)	/* tcmsg: lo's root qdisc */
{
	static char kind[16];
	uint32_t *t = (uint32_t *)(m + 1);
	const char *k = lb_nl_attr(m, 20, 1 /* TCA_KIND */);

	(void)arg;
	if (t[1] == 1 && t[3] == ~0u && k && strcmp(k, "noqueue")) {
		hit = 1;
		s1 = memcpy(kind, k, 15);
	}
}

static int qdisc(void)
{
	return !ask(38 /* RTM_GETQDISC */, 0, 20, on_qdisc, NULL) && hit;
}

/* lo's flags or MTU, asked on the rtnetlink socket: any socket answers,
 * and no sandbox of inet sockets stops this one */
static int ifreq(int req, struct ifreq *r)
{
	memset(r->ifr_name, 0, sizeof(r->ifr_name));
	memcpy(r->ifr_name, "lo", 2);
	return lb_ioctl(lb_nl_fd(LB_NL_ROUTE), req, r);
}

/* What keeps A (127.0.0.0/8 or ::1) from working on lo: 0 nothing seen */
static int lo_cause(const struct lb_addr *a)
{
	struct ifreq r;
	int fam = a->u.sa.sa_family, v6 = fam == AF_INET6;
	unsigned n = v6 ? 16 : 4;

	s1 = v6 ? "::1" : "127.0.0.0/8";	/* for the route */
	s2 = v6 ? " -6" : "";
	if (ifreq(SIOCGIFFLAGS, &r))
		return 0;
	if (!(r.ifr_flags & IFF_UP))
		return LB_C_DOWN;
	int fd = lb_socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);	/* IPv6 in the kernel at all? */
	if (fd < 0 && errno == EAFNOSUPPORT)
		return LB_C_NO6;
	close(fd);
	if (!ask(22 /* RTM_GETADDR */, fam, 8, on_addr, (void *)a) && !hit) {
		ifreq(SIOCGIFMTU, &r);
		num[0] = (uint64_t)r.ifr_mtu;
		return r.ifr_mtu < (v6 ? 1280 : 68) ? LB_C_MTU : LB_C_ADDR + v6;
	}
	/* the route the kernel would take to A, rules and all */
	begin(26 /* RTM_GETROUTE */, 0, 12, fam);
	q.b[1] = (uint8_t)(n * 8);
	attr(1 /* RTA_DST */, ip(a), n);
	int e = lb_nl(LB_NL_ROUTE, &q, on_route, NULL);
	if (hit || (e && e != ENETUNREACH && e != EHOSTUNREACH))
		return 0;
	return ask(34 /* RTM_GETRULE */, fam, 12, on_rule, NULL) || hit ? LB_C_ROUTE : LB_C_RULE;
}

/* ---- sockets: sock_diag ---- */

static struct {
	const struct lb_addr *a;
	uint32_t listen, tw, rq, wq, exp;
} so;

static void on_sock(void *arg, struct lb_nlh *m)
{
	struct lb_diag_msg *d = (void *)(m + 1);
	int w = so.a->u.sa.sa_family == AF_INET6 ? 3 : 0;	/* the word that tells */
	uint32_t src = d->id.src[w];

	(void)arg;
	if (d->id.sport != so.a->u.in.sin_port || (src && src != ((const uint32_t *)ip(so.a))[w]))
		return;
	if (d->state == LB_TCP_TIME_WAIT) {
		so.tw++;
		so.exp = d->expires > so.exp ? d->expires : so.exp;
	} else if (d->state == LB_TCP_LISTEN || d->state == 7 /* CLOSE: UDP, bound */) {
		so.listen++;
		so.rq = d->rqueue;
		so.wq = d->wqueue;
	}
}

/* The sockets of protocol PROTO on A's address (or the wildcard) and
 * port: 0, or the errno that says sock_diag cannot tell */
static int socks(const struct lb_addr *a, int proto)
{
	memset(&so, 0, sizeof(so));
	so.a = a;
	/* inet_diag_req_v2: family, protocol, ext, pad, states, id */
	begin(LB_DIAG_BY_FAMILY, LB_NLM_DUMP, sizeof(struct lb_diag_req) - 16, a->u.sa.sa_family);
	q.b[1] = (uint8_t)proto;
	memset(q.b + 4, 0xff, 4);	/* every state */
	return lb_nl(LB_NL_DIAG, &q, on_sock, NULL);
}

/* " 32768-60999 (28232 ports)" in s1; "" where /proc is not mounted (the
 * kernel tells the range nowhere else) */
static void range(void)
{
	static char b[48];
	char r[32];
	int fd = lb_open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC, 0), i = 0;
	ssize_t n = read(fd, r, sizeof(r) - 1);

	s1 = "";
	close(fd);
	num[0] = num[1] = 0;
	for (char *p = r; p < r + n && i < 2; p++)
		if (*p >= '0' && *p <= '9')
			num[i] = num[i] * 10 + (uint64_t)(*p - '0');
		else if (num[i])
			i++;
	num[2] = num[1] - num[0] + 1;
	if (i)
		s1 = b, put(b, " #-#, # ports");
}

int lb_diag(const struct lb_addr *a, int op, int err)
{
	int fam = a->u.sa.sa_family, udp = op & LB_UDP, c, proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
	uint16_t port = ntohs(a->u.in.sin_port);
	struct lb_addr o;

	op &= 7;
	if (fam != AF_UNIX && (c = lo_cause(a)))
		return found(c);
	c = 0;
	s1 = udp ? "UDP" : "TCP";
	s2 = lb_strerror(err);
	if (err == EPERM || err == EACCES || err == EAFNOSUPPORT) {
		if (op == LB_OP_SEND) {
			c = LB_C_REJECT;
		} else if (op && (fam != AF_UNIX || op == LB_OP_SOCKET) &&
			   !(err == EACCES && op == LB_OP_BIND && port < 1024)) {	/* not root */
			int sc = syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0) == 2;
			s1 = sc ? "seccomp" : "LSM or cgroup";
			c = err == EAFNOSUPPORT && fam == AF_INET6 && !sc ? LB_C_NO6 : LB_C_SANDBOX;
		}
	} else if (err == EHOSTUNREACH || err == ENETUNREACH) {
		c = LB_C_REJECT;
	} else if (err == LB_ESELF || (err == EADDRNOTAVAIL && op == LB_OP_CONNECT) || (err == EADDRINUSE && !port)) {
		range();
		num[0] = port;
		c = err == LB_ESELF ? LB_C_SELF : LB_C_NOPORT;
	} else if (fam == AF_UNIX) {
	} else if (err == EADDRINUSE) {
		socks(a, proto);
		num[0] = so.tw;
		num[1] = (so.exp + 999) / 1000;
		c = !so.listen && so.tw ? LB_C_TW : 0;
	} else if (err == ECONNREFUSED && !socks(a, proto)) {
		if (so.listen) {
			s2 = "refused, though a listener is there";
			c = LB_C_REJECT;
		} else {	/* the other family's loopback, same port */
			lo_addr(&o, fam == AF_INET);
			o.u.in.sin_port = a->u.in.sin_port;
			s2 = fam == AF_INET ? "-6" : "-a 127.0.0.1";
			if (!socks(&o, proto) && so.listen)
				s1 = lb_addrstr(&o), c = LB_C_OTHER;
		}
	} else if (err == ETIMEDOUT && (udp || op == LB_OP_CONNECT)) {	/* no answer */
		int e = socks(a, proto);
		num[0] = so.rq;
		c = !udp && !e && so.rq && so.rq >= so.wq ? LB_C_QUEUE : qdisc() ? LB_C_QDISC : e && !udp ? 0 : LB_C_DROP;
	}
	return c ? found(c) : 0;
}

_Noreturn void lb_diag_exit(const struct lb_addr *a, int c, int err, int code)
{
	char *what = (char *)lb_addrstr(a);	/* (its own static buffer) */
	const char *d = lb_strerror(err), *sep = "", *fix = "";

	if (!a->u.in.sin_port)	/* "127.0.0.1", not ":0" (a UNIX path is never 0) */
		*lb_strrchr(what, ':') = 0;
	if (c) {
		d = lb_last->text;
		fix = d + strlen(d) + 1;
		sep = ": ";
	}
	lb_write(2, lb.name, ": ", what, ": ", d, sep, fix, "\n", NULL);
	/* (the code last: computed first, gcc copies the lines above into
	 * each of its branches) */
	if (!code)	/* by the cause, else by the errno */
		code = c ? lb_diag_code(c) : err == ENETUNREACH || err == EADDRNOTAVAIL || err == EAFNOSUPPORT ? EX_NOLO
			 : err == ETIMEDOUT ? EX_TIME : EX_FAIL;
	lb_exit(code);
}

_Noreturn void lb_diag_die(const struct lb_addr *a, int op, int err)
{
	lb_diag_exit(a, lb_diag(a, op, err), err, 0);
}

/* A connect that gets no answer is looked into after 2 s: a filter that
 * drops, or lo gone, ends it (ETIMEDOUT, the cause recorded); a listener
 * with a full queue (or a qdisc that delays) is waited for, with a note,
 * up to BOUND ms in all (none: 0, the kernel's own limit): a slow listener
 * is still served. A BOUND under 2 s is the first wait's. */
int lb_dial(int fd, const struct lb_addr *a, long bound)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	int err = 0, c, first = bound > 0 && bound < 2000 ? (int)bound : 2000;
	socklen_t l = sizeof(err);

	if (lb_connect(fd, &a->u.sa, a->len))
		err = errno;
	if (err == EINPROGRESS) {
		err = ETIMEDOUT;
		if (!poll(&p, 1, first)) {
			if (lb_diag_code(c = lb_diag(a, LB_OP_CONNECT, ETIMEDOUT)) == EX_NOLO || first < 2000)
				return err;
			if (c)
				lb_say(lb_addrstr(a), ": ", lb_last->text, " (still waiting)", NULL);
			if (!poll(&p, 1, bound > 0 ? (int)bound - 2000 : -1))	/* the rest */
				return err;
		}
		lb_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	}
	if (!err && a->u.sa.sa_family != AF_UNIX) {	/* the kernel's self-connect */
		struct lb_addr me;
		me.len = sizeof(me.u);
		if (!lb_getsockname(fd, &me.u.sa, &me.len) && !memcmp(&me.u, &a->u, a->len)) {
			lb_linger(fd, 1);	/* closed by a reset: no TIME_WAIT */
			err = LB_ESELF;
		}
	}
	lb_fcntl(fd, F_SETFL, 0);	/* blocking again */
	return err;
}

void lb_diag_notes(void)
{
	static char b[4096 + 16];
	int fd = lb_open("/etc/hosts", O_RDONLY | O_CLOEXEC, 0), e = errno, ok = 0;
	ssize_t n = read(fd, b, 4096);

	close(fd);
	if (qdisc())
		lb_diag_note(found(LB_C_QDISC));
	for (char *p = b; p < b + n; p++)
		ok |= !memcmp(p, "localhost", 9);
	if (fd < 0 ? e == ENOENT : !ok)
		lb_diag_note(found(LB_C_HOSTS));
}

/* ---- --up ---- */

/* The fixed parts of the requests that add 127.0.0.1/8 and ::1
 * (ifaddrmsg: IFA_F_NODAD for ::1, scope host, lo), the local routes for
 * 127.0.0.0/8 and ::1 (rtmsg: table local, proto boot, scope host, type
 * local) and the rule "lookup local" (fib_rule_hdr: table local, to the
 * table); repair() adds the attributes. */
static const uint8_t fixed[6][8] = {
	{ AF_INET, 8, 0, 254 }, { AF_INET6, 128, 2, 254 },	/* (+ the index, below) */
	{ AF_INET, 8, 0, 0, 255, 3, 254, 2 }, { AF_INET6, 128, 0, 0, 255, 3, 254, 2 },
	{ AF_INET, 0, 0, 0, 255, 0, 0, 1 }, { AF_INET6, 0, 0, 0, 255, 0, 0, 1 },
};

/* Repair cause C for A: 0, or the errno that stopped it */
static int repair(int c, const struct lb_addr *a)
{
	int v6 = a->u.sa.sa_family == AF_INET6, k = c == LB_C_ROUTE ? 1 : c == LB_C_RULE ? 2 : 0;
	unsigned n = v6 ? 16 : 4;
	uint32_t one = 1, zero = 0;
	struct ifreq r;

	if (c == LB_C_DOWN || c == LB_C_MTU) {
		ifreq(SIOCGIFFLAGS, &r);
		r.ifr_flags |= IFF_UP;
		if (c == LB_C_MTU)
			r.ifr_mtu = 65536;
		return ifreq(c == LB_C_MTU ? SIOCSIFMTU : SIOCSIFFLAGS, &r) ? errno : 0;
	}
	/* RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWRULE; NLM_F_EXCL | NLM_F_CREATE */
	begin("\x14\x18\x20"[k], LB_NLM_ACK | 0x600, k ? 12 : 8, 0);
	memcpy(q.b, fixed[k * 2 + v6], 8);
	if (!k)	/* ifaddrmsg's index: lo, a u32 in the machine's order */
		memcpy(q.b + 4, &one, 4);
	if (k == 2)	/* FRA_PRIORITY 0 */
		attr(6, &zero, 4);
	else	/* IFA_LOCAL, RTA_DST: the address */
		attr(2 - k, ip(a), n);
	if (k == 1) {
		((uint8_t *)&q)[q.h.len - n + 3] = 0;	/* 127.0.0.0 (::1 has a 0 there too) */
		attr(4 /* RTA_OIF */, &one, 4);
	}
	return lb_nl(LB_NL_ROUTE, &q, on_route, NULL);	/* (only an ack comes) */
}

/* Each repair is said as the command that does the same */
void lb_up(void)
{
	struct lb_addr a;
	char w[96];

	for (int v6 = 0; v6 < 2; v6++) {
		lo_addr(&a, v6);
		for (int c, last = 0; (c = lo_cause(&a)) && c != last; last = c) {
			int e = repair(c, &a);
			put(w, text(c, 2) + 1);
			if (!e)
				lb_say("lo: done: ", w, NULL);
			else if (!v6)	/* (IPv6 off: not --up's to turn on) */
				lb_die(EX_NOLO, w, e == EPERM || e == EACCES
				       ? "operation not permitted: this needs CAP_NET_ADMIN (run it as root)"
				       : lb_strerror(e));
		}
	}
}

/* -A over TCP: the owner of a peer socket comes from sock_diag, or from
 * /proc/net/tcp; with neither every client would be refused. */
void lb_diag_peers(const struct lb_addr *a)
{
	int fd;

	if (!socks(a, IPPROTO_TCP))
		return;
	if ((fd = lb_open("/proc/net/tcp", O_RDONLY | O_CLOEXEC, 0)) >= 0) {
		close(fd);
		return;
	}
	lb_die(EX_FAIL, "-A", "no TCP peer's owner can be known (no inet_diag, no /proc): "
	       "modprobe inet_diag tcp_diag, or mount /proc");
}
