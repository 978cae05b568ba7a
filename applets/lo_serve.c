/* lo-serve - a concurrent loopback server: a fixed reply, a file or a
 * program for every client, all at once.
 *
 * One epoll loop (core/loop.c) carries every connection. -m and -f need
 * no process and no buffer per client: REPLY goes out from argv, FILE by
 * sendfile(2) from a descriptor opened for each connection (so an edited
 * file is served fresh, and a large one is never held in memory), and
 * what clients send is read into one shared buffer and dropped. A
 * connection costs one small struct and its socket.
 *
 * A connection ends cleanly: the reply, shutdown(SHUT_WR), then reading
 * until the client closes, and only then close(). Closing with unread
 * bytes would make the kernel send a reset, and a reset can destroy a
 * reply the client has not read yet (busybox docs/tcp.txt).
 *
 * Out of descriptors, accepting pauses (100 ms, or until a connection
 * ends) and new clients wait in the backlog; with -f a spare descriptor
 * guarantees that a connection just accepted can still open FILE.
 *
 * -e runs PROG through vfork (measured here: 60 us of server CPU per
 * connection against 104 with fork) and a PATH search of its own. The
 * server keeps the connection too: when PROG exits it half-closes and
 * drains like the others, so a PROG that answers without reading the
 * whole request does not reset its client.
 */
#include "lb.h"
#include "diag.h"
#include "loop.h"
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* wait4, dup3 and execve are made with syscall(): musl's wrappers of them
 * serve no other applet, as core/lb.h does for open, socket and the
 * like. sendfile and
 * pread keep libc's: their 64-bit offset is split across registers, or
 * needs the *64 call, on 32-bit machines. */

#define OPTIONS(X) \
	X(0, LB_FLAG, help, 0, \
		"usage: lo-serve [OPTIONS] -p PORT (-m REPLY | -f FILE | -e PROG [ARGS...])\n\n" \
		"Serve all clients at once. SIGTERM or SIGINT: exit 0.\n") \
	X('m', LB_STR, msg, 0, " -m REPLY send REPLY once a client speaks or half-closes (-u: per datagram)") \
	X('f', LB_STR, file, 0, " -f FILE  the same with FILE, read afresh each time") \
	X('g', LB_FLAG, greet, 0, " -g       send REPLY or FILE at once, as a greeting (SMTP, FTP...)") \
	X('o', LB_STR, out, 0, " -o DIR   record each client's request in DIR/1, DIR/2... (once served)") \
	X('e', LB_REST, exec, 0, " -e PROG  run PROG [ARGS...] (no shell; last) per client, UCSPI variables set") \
	X('c', LB_COUNT, count, 0, " -c COUNT exit after COUNT connections") \
	X('n', LB_COUNT, max, 0, " -n MAX   at most MAX at once (the rest wait)") \
	X('A', LB_STR, uids, 0, " -A UIDS  admit only peers of these users (UID[,UID...]); reset others")
LB_SPEC(spec, OPTIONS, .common = "pa6uUPtvqh",
	.excl = "eu\0Au\0geu\0oeu\0");

enum { WAIT, SEND, DRAIN, PIPE };	/* PIPE: SEND, from a FIFO found empty */

/* as lb_addrstr takes it: TCP and UDP print with no copying */
union peer {
	struct lb_addr addr;
	struct ucred cred;	/* UNIX: who connected */
};

struct conn {
	struct lb_conn c;	/* first: the loop hands it back */
	uint64_t t0;		/* µs, for -v */
	uint64_t in, out;	/* bytes; out is also the place in the reply */
	int file;		/* -f: FILE, opened for this connection */
	int rec;		/* -o: the request's file, while it is written */
	char tmp[40];		/* -o: its name in DIR, ".N.<hex>" until it is N */
	unsigned char st, eof, ev;
	pid_t pid;		/* -e: PROG, while it runs */
	int status;		/* -e: how it ended */
	struct conn *next, **pprev;	/* all: every connection open */
	union peer peer;	/* last: short offsets for the rest */
};

static int room(void);
static int admit(int fd, struct lb_addr *a);
static struct lb_listener lst = {	/* -u: fn on_dgram */
	.c = { .fd = -1, .fn = lb_loop_accept }, .room = room, .take = admit
};
static size_t msglen;
static int spare = -1;		/* a descriptor kept for the day they run out */
static struct lb_addr here;	/* where it listens */
static int is_unix;
static unsigned live;		/* connections or children now */
static unsigned uids[16];
static int nuids;
static char prog[4096];	/* -e: PROG as found in PATH */
static uint64_t fsize;		/* -f: FILE's size at startup */
static char **envp;		/* -e: our 5 (set by spawn), then environ less its UCSPI names */
static const char *path = "/usr/local/bin:/bin:/usr/bin";	/* PATH's default */
static struct conn *all;	/* every connection, newest first */
static int piping;		/* a FIFO was found empty: try again soon */
static volatile int exec_err;	/* -e: set by a vfork child whose exec failed */
static const char cut[] = "unfinished: reset";
static char buf[65536];		/* every client's request lands here, and is dropped */
static struct { uint64_t cur, max; } nofile;	/* RLIMIT_NOFILE as given: PROG's */
static int outdir = -1;	/* -o DIR */

/* W, then N in decimal, at S; returns the end */
static char *putu(char *s, const char *w, unsigned n)
{
	s = lb_stpcpy(s, w);
	return s + strlen(lb_utoa(s, n));
}

/* "127.0.0.1:80", "[::1]:80"; UNIX: "pid 12 uid 0" */
static const char *peername(const union peer *p)
{
	static char s[48];

	if (!is_unix)
		return lb_addrstr(&p->addr);
	putu(putu(s, "pid ", (unsigned)p->cred.pid), " uid ", p->cred.uid);
	return s;
}

/* A connection or a child is over: room for the next one (below -n MAX
 * now, as room() lets no more than MAX in; room() takes the spare back
 * first, if it was used). A listener gone is no longer paused. */
static void ended(void)
{
	live--;
	lb_loop_resume();
}

/* -v: "PEER: 4 bytes in, 4 out, 0.001 s, ok" (-e: "PEER: sh: exit 0, ...");
 * VERDICT NULL: what errno says */
static void tell(const struct conn *c, const char *verdict)
{
	char a[24], b[24], t[24];
	const char *p1 = a, *p2 = " bytes in, ", *p4 = " out, ";
	uint64_t n = c->out;

	if (!lb.verbose)
		return;
	if (!verdict)
		verdict = lb_strerror(errno);
	lb_utoa(a, c->in);
	if (lb.exec) {
		/* waited for without WUNTRACED: an exit or a signal */
		int sig = WTERMSIG(c->status);
		p1 = lb.exec[0];
		p2 = c->pid > 0 ? ": pid " : sig ? ": killed by signal " : ": exit ";
		n = c->pid > 0 ? (unsigned)c->pid : sig ? (unsigned)sig : WEXITSTATUS(c->status);
		p4 = ", ";
	}
	lb_say(peername(&c->peer), ": ", p1, p2, lb_utoa(b, n), p4,
	       lb_fixed(t, lb_now_us() - c->t0, 1000000, 3), " s, ", verdict, NULL);
}

/* -o: C's request to DIR/N, whole (OK: its reply went out and it ended
 * without a reset), or dropped. */
static void keep(struct conn *c, int ok)
{
	char *n = c->tmp + 1;

	if (c->rec < 0)
		return;
	close(c->rec);
	c->rec = -1;
	if (ok) {
		char to[24];
		memcpy(to, n, 21);
		*lb_strchr(to, '.') = 0;
		if (!syscall(SYS_renameat2, outdir, c->tmp, outdir, to, 0))	/* riscv64 has no renameat */
			return;
	}
	syscall(SYS_unlinkat, outdir, c->tmp, 0);
}

/* -o: on the way out, no request half-written is left behind */
static void drop_all(void)
{
	for (struct conn *c = all; c; c = c->next)
		keep(c, 0);
}

/* The socket resets on close (SO_LINGER 0, from the listener) until its
 * reply has gone out whole; CLEAN: close it cleanly all the same. */
static void finish(struct conn *c, const char *verdict, int clean)
{
	tell(c, verdict);
	keep(c, c->st == DRAIN && verdict);
	if (clean)
		lb_linger(c->c.fd, 0);
	if ((*c->pprev = c->next))
		c->next->pprev = c->pprev;
	if (c->file >= 0)
		close(c->file);
	if (lb.exec) {
		/* a child between vfork and exec holds a copy of every
		 * descriptor for a moment: close() alone could leave epoll
		 * reporting this one after it is freed */
		lb_loop_del(&c->c);
		close(c->c.fd);
	} else {
		lb_loop_close(&c->c);
	}
	lb_loop_free(c);
	ended();
}

/* Send what the socket takes: 1 the reply is all out, 0 later, -1 error. */
static int reply(struct conn *c)
{
	for (;;) {
		const char *p = buf;	/* what send() is to take, NULL: nothing */
		ssize_t n;

		if (lb.msg) {
			p = lb.msg + c->out;
			n = (ssize_t)(msglen - c->out);
		} else {
			off_t off = (off_t)c->out;
			n = sendfile(c->c.fd, c->file, &off, 1 << 20);
			/* a file sendfile cannot read: through the buffer */
			if (n < 0 && (errno == EINVAL || errno == ENOSYS))
				n = pread(c->file, buf, sizeof(buf), off);
			else
				p = NULL;
			/* a FIFO (no pread): what its writer sends, as it comes,
			 * spliced (nothing is lost to a full socket). Empty, or
			 * the socket full: polled every 10 ms (lo_serve_main). */
			if (n < 0 && errno == ESPIPE) {
				p = NULL;
				n = splice(c->file, NULL, c->c.fd, NULL, 1 << 20, SPLICE_F_NONBLOCK);
				if (n < 0 && errno == EAGAIN) {
					c->st = PIPE;
					piping = 1;
					lb_loop_wake(10);
				}
			}
		}
		if (n > 0 && p)
			n = lb_send(c->c.fd, p, (size_t)n, MSG_NOSIGNAL);
		if (!n)
			return 1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->out += (uint64_t)n;
	}
}

static void on_conn(struct lb_conn *lc, unsigned ev)
{
	struct conn *c = (struct conn *)lc;

	if (!ev) {	/* -t ran out; or, served, the linger */
		/* what it sent since: read, so that close() sends no reset */
		for (int i = 0; c->st == DRAIN && i < 16; i++) {
			ssize_t n = lb_recv(lc->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n <= 0)
				break;
			c->in += (uint64_t)n;
			if (c->rec >= 0 && lb_write_all(c->rec, buf, (size_t)n))
				keep(c, 0);
		}
		finish(c, c->st == DRAIN ? "ok, linger over" : "idle timeout", c->st == WAIT);	/* nothing sent: no reset */
		return;
	}
	if (!c->eof && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		/* one read a wake: a short one leaves nothing behind, and
		 * epoll (level-triggered) calls again for a long one */
		ssize_t n = lb_recv(lc->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 && c->rec >= 0 && lb_write_all(c->rec, buf, (size_t)n)) {
			lb_linger(lc->fd, 1);	/* not recorded: the client must know */
			finish(c, NULL, 0);
			return;
		}
		if (n > 0)
			c->in += (uint64_t)n;
		else if (!n)
			c->eof = 1;
		else if (errno != EAGAIN && errno != EINTR) {
			finish(c, NULL, 0);
			return;
		}
		if (n >= 0 && c->st == WAIT)
			c->st = SEND;	/* the client spoke, or half-closed */
	}
	if (c->st == SEND) {
		int r = reply(c);
		if (r < 0) {
			finish(c, NULL, 0);
			return;
		}
		if (r) {	/* all out: from now on a close is clean */
			lb_linger(lc->fd, 0);
			lb_shutdown(lc->fd, SHUT_WR);
			if (c->file >= 0)
				close(c->file);
			c->file = -1;
			c->st = DRAIN;
		}
	}
	if (c->st == DRAIN && c->eof) {	/* nothing unread: close() is clean */
		finish(c, "ok", 0);
		return;
	}
	/* a client that keeps a served connection open holds a descriptor:
	 * not for longer than LB_LINGER_MS, so that finished clients can
	 * never starve new ones */
	if (c->st == DRAIN)
		lb_loop_linger(lc);
	unsigned want = (c->eof ? 0 : EPOLLIN) | (c->st == SEND ? EPOLLOUT : 0);
	if (want != c->ev) {
		lb_loop_mod(lc, want);
		c->ev = (unsigned char)want;
	}
}

/* Into the loop, reading: what C's client sent may be there already. */
static void watch(struct conn *c)
{
	if (lb.greet && c->st == WAIT)	/* -g: the server speaks first */
		c->st = SEND;
	c->ev = EPOLLIN;
	lb_loop_add(&c->c, EPOLLIN, 1);
	on_conn(&c->c, EPOLLIN);
}

/* O_NONBLOCK: a FIFO must not stop the server in open */
static int open_ro(const char *path)
{
	return lb_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
}

/* FILE for a new client, or -1 said. Out of descriptors, the spare
 * makes room (and accepting pauses until one is free again): a
 * connection once accepted never waits for a descriptor it cannot get. */
static int open_file(void)
{
	int f;

	while ((f = open_ro(lb.file)) < 0 &&
	       (errno == EMFILE || errno == ENFILE) && spare >= 0) {
		close(spare);
		spare = -1;
		lb_loop_pause(&lst.c, LB_PAUSE_MS);
	}
	if (f < 0)
		lb_say(lb.file, ": ", lb_strerror(errno), NULL);
	return f;
}

/* TCP: the address into S, and its port returned: "[::1]:80" -> "::1",
 * "80" (from lb_addrstr: inet_ntop would pull printf into the binary). */
static char *ipport(const struct lb_addr *sa, char *s)
{
	const char *a = lb_addrstr(sa);
	int v6 = *a == '[';
	lb_stpcpy(s, a + v6);
	char *e = lb_strrchr(s, ':');

	e[-v6] = 0;	/* ':', or the ']' before it */
	return e + 1;
}

static int env_count(void)
{
	extern char **environ;
	int n = 0;
	while (environ[n])
		n++;
	return n;
}

/* ENV has room for our 5 (set by spawn), environ and the NULL */
static void env_init(char **env)
{
	extern char **environ;
	int n = 5;

	envp = env;
	for (char **e = environ; *e; e++) {
		const char *drop = "PROTO=\0TCPLOCAL\0TCPREMOTE\0UNIXLOCAL\0UNIXREMOTE\0";
		size_t k;
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
		while ((k = strlen(drop)) && strncmp(*e, drop, k))
			drop += k + 1;
		if (!k)	/* none of ours */
			envp[n++] = *e;
	}
	envp[n] = NULL;
}

/* Our 5 for connection P's PROG: NAME=VALUE for the names in NAMES, one
 * after another. Rebuilt whole each time, local ones too: a few copies,
 * beside a vfork and an exec. */
static void set_ucspi(const union peer *p)
{
	static char vars[256];	/* 210 at most, with a UNIX path of 107 */
	char l[48], r[48], n[3][24];
	const char *names, *val[5];
	char *v = vars;

	if (is_unix) {
		/* the ids in struct ucred's order: pid, uid, gid */
		const unsigned *id = (const unsigned *)&p->cred;
		names = "PROTO=\0UNIXLOCALPATH=\0UNIXREMOTEPID=\0UNIXREMOTEEUID=\0UNIXREMOTEEGID=";
		val[0] = "UNIX";
		val[1] = lb.path;
		for (int i = 0; i < 3; i++)
			val[2 + i] = lb_utoa(n[i], id[i]);
	} else {
		names = "PROTO=\0TCPLOCALIP=\0TCPLOCALPORT=\0TCPREMOTEIP=\0TCPREMOTEPORT=";
		val[0] = "TCP";
		val[1] = l;
		val[2] = ipport(&here, l);
		val[3] = r;
		val[4] = ipport(&p->addr, r);
	}
	for (int i = 0; i < 5; i++) {
		char *e = lb_stpcpy(v, names);
		envp[i] = v;
		names += e - v + 1;
		v = lb_stpcpy(e, val[i]) + 1;
	}
}

/* What statx(2) tells, as far as lo-serve asks (musl's stat costs
 * 800 B; see core/net.c): the kernel's layout, 256 bytes. */
struct sx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad;
	uint64_t ino, size, rest[26];
};

/* 0, or the errno; with STATX_TYPE and STATX_SIZE, following links */
static int sx(const char *p, struct sx *s)
{
	return syscall(SYS_statx, AT_FDCWD, p, 0, 0x201, s) ? errno : 0;
}

/* What lo-serve can use, found once, at startup, into prog: AMODE X_OK,
 * PROG to run, as execvp(3) searches (NAME with a '/' as it is, else the
 * first regular file we may execute in a PATH entry, "" meaning the
 * current directory); R_OK, FILE to read, a regular file or a FIFO (its
 * type from statx: opening a FIFO could block, or wake its writer).
 * 0, or the errno to name: a directory is EISDIR, another type EACCES. */
static int find(const char *name, int amode)
{
	size_t m = strlen(name);
	int err = ENOENT, r;
	struct sx s;

	for (const char *p = amode == R_OK || lb_strchr(name, '/') ? "" : path;; p++) {
		const char *e = p;
		while (*e && *e != ':')
			e++;
		size_t n = (size_t)(e - p);
		if (n + m + 2 < sizeof(prog)) {
			memcpy(prog, p, n);
			prog[n] = '/';
			memcpy(prog + n + !!n, name, m + 1);
			if (!(r = sx(prog, &s))) {
				fsize = s.size;
				r = S_ISDIR(s.mode) ? EISDIR :
				    (S_ISREG(s.mode) || (S_ISFIFO(s.mode) && amode == R_OK)) &&
				    !syscall(SYS_faccessat, AT_FDCWD, prog, amode) ? 0 : EACCES;
			}
			if (!r)
				return 0;
			if (r != ENOENT && r != ENOTDIR)
				err = r;
		}
		if (!*(p = e))
			return err;
	}
}

/* In the vfork child: memory is the parent's until exec, so no malloc,
 * no stdio, no exit handlers; only syscalls on our own descriptors. */
_Noreturn static void child(int fd)
{
	/* dup3 is dup2 for fd > 2, which it is: core/main.c fills 0 to 2 */
	syscall(SYS_dup3, fd, 0, 0);
	syscall(SYS_dup3, fd, 1, 0);
	lb_sigmask(SIG_SETMASK, 0);	/* PROG gets no blocked signal of ours */
	syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &nofile, NULL);	/* nor our limit */
	syscall(SYS_execve, prog, lb.exec, envp);
	int e = exec_err = errno;	/* vfork: the parent sees it */
	lb_write(2, lb.name, ": ", lb.exec[0], ": ", lb_strerror(e), "\n", NULL);
	_exit(e == ENOENT ? 127 : 126);
}

/* vfork in a function of its own: nothing of the caller's frame is live
 * across it */
__attribute__((noinline)) static pid_t start(int fd)
{
	pid_t pid = vfork();
	if (!pid)
		child(fd);
	return pid;
}

/* -e: PROG for connection C; the connection stays ours as well, so that
 * once PROG exits it ends like the others (see reap). */
static void spawn(struct conn *c)
{
	set_ucspi(&c->peer);
	/* (no signal has a handler: none can run in the child while it
	 * shares our memory) */
	exec_err = 0;
	c->pid = start(c->c.fd);
	int e = c->pid < 0 ? errno : exec_err;
	if (e) {	/* PROG cannot run (now): this one is reset */
		const char *why = lb_strerror(e);
		if (c->pid < 0) {	/* out of processes: the next waits */
			lb_say("fork: ", why, NULL);
			lb_loop_pause(&lst.c, LB_PAUSE_MS);
		}
		c->pid = 0;	/* reap finds it in no connection */
		c->status = (e == ENOENT ? 127 : 126) << 8;
		finish(c, why, 0);
	}
}

/* PROG exited: half-close, and read what the client still sends until it
 * closes. Its socket closing under unread bytes (a PROG that answers
 * without reading the whole request) would reset the connection, and a
 * reset can destroy the answer before the client has read it. */
static void reap(void)
{
	int st;
	pid_t pid;

	while ((pid = (pid_t)syscall(SYS_wait4, -1, &st, WNOHANG, NULL)) > 0) {
		struct conn *c = all;
		while (c && c->pid != pid)
			c = c->next;
		if (!c)
			continue;
		c->status = st;
		c->pid = 0;
		if (WIFSIGNALED(st)) {	/* killed: its reply may be cut */
			finish(c, cut, 0);
			continue;
		}
		lb_linger(c->c.fd, 0);
		c->st = DRAIN;
		lb_shutdown(c->c.fd, SHUT_WR);
		watch(c);
	}
}

static int allowed(int fd, const union peer *p)
{
	unsigned uid;
	char a[24];

	if (lb_peer_uid(fd, &uid))
		uid = ~0U;	/* in no list: parse_uids stops at 2^32-2 */
	for (int i = 0; i < nuids; i++)
		if (uids[i] == uid)
			return 1;
	if (lb.verbose) {
		putu(a, "uid ", uid);
		lb_say(peername(p), ": refused (", uid == ~0U ? "owner unknown" : a, ")", NULL);
	}
	return 0;
}

/* The listener's take (core/loop.c): FD, accepted from A, served or reset */
static int admit(int fd, struct lb_addr *a)
{
	union peer *p = (union peer *)a;	/* as big: UNIX, the credentials over it */
	struct conn *c;

	if (is_unix) {
		socklen_t l = sizeof(p->cred);
		if (lb_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &l))
			memset(&p->cred, 0, sizeof(p->cred));
	}
	if (nuids && !allowed(fd, p))
		goto reset;
	uint64_t nth = lb_loop_served(&lst.c);	/* -c: no PROG inherits lst (SOCK_CLOEXEC) */
	live++;
	if (!(c = lb_loop_new(sizeof(*c)))) {
		ended();
		goto reset;
	}
	c->c.fd = fd;
	c->c.fn = on_conn;
	c->t0 = lb_now_us();
	c->peer = *p;
	c->file = c->rec = -1;
	if ((c->next = all))
		all->pprev = &c->next;
	c->pprev = &all;
	all = c;
	if (lb.out) {	/* ".N": hidden until whole */
		char n[24] = ".";
		lb_utoa(n + 1, nth);
		if ((c->rec = lb_tmpfileat(outdir, n, c->tmp, sizeof(c->tmp))) < 0) {
			finish(c, NULL, 0);
			return 0;
		}
	}
	if (lb.exec) {
		spawn(c);
	} else if (lb.file && (c->file = open_file()) < 0) {
		finish(c, NULL, 0);
	} else {
		watch(c);
	}
	return 0;
reset:
	close(fd);	/* a reset (SO_LINGER 0), before any byte of reply */
	return 0;
}

/* Before each accept: -n MAX open, or no spare descriptor for -f (see
 * open_file), and the next waits in the backlog. */
static int room(void)
{
	if (lb.max && live >= lb.max)
		return -1;	/* until one ends */
	if (lb.file && spare < 0 && (spare = open_ro("/dev/null")) < 0)
		return LB_PAUSE_MS;
	return 0;
}

static void on_dgram(struct lb_conn *l, unsigned ev)
{
	(void)ev;
	for (int i = 0; i < 64 && lst.c.fd >= 0; i++) {
		struct conn d = { .peer.addr.len = sizeof(d.peer.addr.u) };
		struct lb_addr *a = &d.peer.addr;
		const char *r = lb.msg;
		ssize_t n = lb_recvfrom(l->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC, &a->u.sa, &a->len), w = (ssize_t)msglen;

		if (n < 0)
			return;
		d.t0 = lb_now_us();
		d.in = (uint64_t)n;
		if (lb.file) {	/* afresh for each datagram; what fits in one */
			int f = open_file();	/* no spare here: a plain open */
			if (f < 0)
				continue;
			w = read(f, buf, sizeof(buf));	/* too long: sendto says so */
			close(f);
			r = buf;
		}
		if (w >= 0)
			w = lb_sendto(l->fd, r, (size_t)w, MSG_DONTWAIT, &a->u.sa, a->len);
		if (w > 0)
			d.out = (uint64_t)w;
		tell(&d, w < 0 ? NULL : "ok");
		lb_loop_served(&lst.c);
	}
}

static void parse_uids(void)
{
	const char *s = lb.uids;
	char tmp[16];
	uint64_t v;

	for (;;) {
		size_t n = 0;
		while (s[n] && s[n] != ',')
			n++;
		if (n >= sizeof(tmp) || nuids == (int)(sizeof(uids) / sizeof(uids[0])))
			goto bad;
		memcpy(tmp, s, n);
		tmp[n] = 0;
		if (lb_num(tmp, &v, UINT32_MAX - 1, 0))
			goto bad;
		uids[nuids++] = (unsigned)v;
		if (!s[n])
			return;
		s += n + 1;
	}
bad:
	lb_die(EX_USAGE, "-A", "not a list of uids (UID[,UID...], at most 16)");
}

/* Every connection. END: what the grace left unfinished is reset now
 * (connect to AF_UNSPEC: TCP's abort, though a running PROG holds the
 * socket too). Else: a FIFO found empty is tried again. */
static void walk(int end)
{
	static struct sockaddr unspec;	/* AF_UNSPEC: 0 */

	piping = 0;
	for (struct conn *c = all, *n; c; c = n) {
		n = c->next;
		if (end) {	/* served: recorded; else cut */
			keep(c, c->st == DRAIN);
			if (c->st != DRAIN) {
				tell(c, cut);
				lb_connect(c->c.fd, &unspec, sizeof(unspec));
			}
		} else if (!end && c->st == PIPE) {
			c->st = SEND;
			on_conn(&c->c, EPOLLOUT);
		}
	}
}

int lo_serve_main(char **argv)
{
	uint64_t deadline = UINT64_MAX;	/* none yet */
	int udp;

	lb_parse(argv, &spec);
	int modes = !!lb.msg + !!lb.file + !!lb.exec;
	if (modes != 1)
		lb_die(EX_USAGE, "-m REPLY, -f FILE or -e PROG", modes ? "only one" : "needed (see --help)");
	udp = lb.udp;
	if (lb.uids) {
		parse_uids();
		lb_peer_init();
	}
	if (lb.msg && (msglen = strlen(lb.msg)) > LB_UDP_MAX && udp)
		lb_die(EX_USAGE, "-m", lb_strerror(EMSGSIZE));
	lb_xendpoint(&here, 1);
	is_unix = here.u.sa.sa_family == AF_UNIX;
	/* as servers do: every descriptor we may have (the soft limit is
	 * often 1,024 under a hard one of many thousands). prlimit64, not
	 * musl's setrlimit, which brings its every-thread machinery. */
	if (!syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &nofile)) {
		uint64_t up[2] = { nofile.max, nofile.max };
		syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, up, NULL);
	}
	/* for -e (cheaper done always than tested for); PATH for run */
	char *env[env_count() + 6];	/* lives as long as the server */
	env_init(env);
	/* say now, not per client, what cannot be served */
	if (lb.exec && (errno = find(lb.exec[0], X_OK)))
		lb_die_errno(EX_FAIL, lb.exec[0]);
	if (lb.file && (errno = find(lb.file, R_OK)))
		lb_die_errno(EX_FAIL, lb.file);
	if (lb.out) {	/* -o DIR: a directory we can write in */
		outdir = lb_open(lb.out, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (outdir < 0 || syscall(SYS_faccessat, outdir, ".", W_OK | X_OK, 0))
			lb_die_errno(EX_FAIL, lb.out);
		lb_atexit(drop_all);
	}
	if (udp && fsize > LB_UDP_MAX)	/* -f: FILE's size */
		lb_die(EX_FAIL, lb.file, lb_strerror(EMSGSIZE));
	if (udp)
		lst.c.fn = on_dgram;
	else	/* -e: PROG's socket blocks, as any program expects */
		lst.flags = SOCK_CLOEXEC | (lb.exec ? 0 : SOCK_NONBLOCK);
	lst.c.fd = lb_xlisten(&here, udp ? SOCK_DGRAM : SOCK_STREAM);
	if (lb.uids && !is_unix)
		lb_diag_peers(&here);	/* exit 1 if no owner can be known */
	lb_fcntl(lst.c.fd, F_SETFL, O_NONBLOCK);	/* the loop accepts until EAGAIN */
	/* every connection inherits it: a reset, should the server die,
	 * until its reply has gone out whole */
	lb_linger(lst.c.fd, 1);
	lb_loop_init();
	lb_loop_add(&lst.c, EPOLLIN, 0);
	for (;;) {
		int sig = lb_loop_once();
		uint64_t now = lb_now_us();
		if (piping)
			walk(0);
		if (sig == SIGCHLD) {
			reap();
		} else if (sig) {
			if (deadline != UINT64_MAX)	/* asked twice: now */
				break;
			/* stop accepting; what is in flight gets a second. The
			 * wake stands until it is due; on a clock of whole ms, it
			 * may come up to 1 ms before this one's second is over. */
			if (lst.c.fd >= 0)
				lb_loop_close(&lst.c);
			lb_loop_wake(1000);
			deadline = now + 999000;
		}
		if ((lst.c.fd < 0 && !live) || now >= deadline)
			break;
	}
	walk(1);
	return EX_OK;
}
