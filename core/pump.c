/* pump.c - the one copy loop: a source into the socket, the socket into
 * an output, both at once, byte-exact.
 *
 * Both directions run in one poll loop because a peer that answers while
 * it reads (an echo server) would deadlock a sender that only writes.
 * The socket is used with MSG_DONTWAIT so a full send buffer never blocks
 * the other direction; the caller's stdin and stdout keep their blocking
 * mode (they may be shared with other processes).
 *
 * Speed: 1 MiB reads and writes measured fastest on loopback here (see
 * README); when the output is a pipe, splice(2) moves socket pages into it
 * without a copy through user space.
 */
#include "lb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFSZ (1 << 20)
static char fbuf[BUFSZ], rbuf[BUFSZ];

int lb_write_all(int fd, const void *buf, size_t n)
{
	const char *b = buf;

	while (n) {
		ssize_t w = write(fd, b, n);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { fd, POLLOUT, 0 };
			poll(&pf, 1, -1);
		} else if (w < 0 && errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

/* N bytes in binary units, into B: "0.5 KiB", "1.5 KiB" ... "3.2 TiB" */
static char *human(char *b, uint64_t n)
{
	int k = 0;

	while (k < 3 && n >> 10 * k >= 1024 * 1024)
		k++;
	lb_fixed(b, n >> 10 * k, 1024, 1);
	lb_stpcpy(b + strlen(b), &" KiB\0 MiB\0 GiB\0 TiB"[5 * k]);
	return b;
}

static uint64_t shown;	/* when the live line was last drawn */
static uint64_t total;	/* of the files to send; 0 or >= NOTOTAL: not known */
#define NOTOTAL (1ULL << 62)

/* -v on a terminal: a line redrawn at most 4 times a second, in place
 * (lb_write wipes it first, and before any other message): bytes, rate,
 * and where the total is known, how far and how long yet. */
static void progress(struct lb_pump *p)
{
	char a[24], r[24], c[64] = "";
	uint64_t now = lb_now_us(), dt = now - p->t0;

	if (now - shown < 250000)	/* (so dt >= 250 ms: never a division by 0) */
		return;
	shown = now;
	uint64_t moved = p->sent > p->rcvd ? p->sent : p->rcvd, rate = moved * 1000000 / dt;
	if (total && total < NOTOTAL && rate) {
		char *q = lb_stpcpy(lb_utoa(c, p->sent * 100 / total) + strlen(c), "%, ETA ");
		lb_stpcpy(lb_utoa(q, total > p->sent ? (total - p->sent) / rate : 0) + strlen(q), " s");
	}
	lb_write(2, lb.name, ": ", human(a, moved), ", ", human(r, rate), "/s", *c ? ", " : "", c, NULL);
	lb_live = 1;
}

/* isatty(2) without musl's wrapper */
static int tty2(void)
{
	struct winsize w;
	return !lb_ioctl(2, TIOCGWINSZ, &w);
}

void lb_report(struct lb_pump *p)
{
	char a[24], b[24], t[24], r[24];
	uint64_t dt = lb_now_us() - p->t0;
	uint64_t moved = p->sent > p->rcvd ? p->sent : p->rcvd;

	if (!lb.verbose || lb.quiet)
		return;
	lb_say("sent ", lb_utoa(a, p->sent), " bytes, received ", lb_utoa(b, p->rcvd), " bytes in ",
	       lb_fixed(t, dt, 1000000, 3), " s (", lb_fixed(r, moved, dt ? (unsigned)dt : 1, 1),
	       " MB/s)", NULL);
}

/* Move K bytes from our own pipe to the output. Where the output takes no
 * splice (EINVAL), fall back to read and write, for good. */
static int drain(int pfd, int out, size_t k, int *spl)
{
	while (k) {
		ssize_t m = *spl ? splice(pfd, NULL, out, NULL, k, SPLICE_F_MOVE) : read(pfd, rbuf, k);
		if (m < 0 && errno == EINVAL && *spl) {
			*spl = 0;
			continue;
		}
		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0 || (!*spl && lb_write_all(out, rbuf, (size_t)m)))
			return -1;
		k -= (size_t)m;
	}
	return 0;
}

int lb_pump(struct lb_pump *p, const char **where)
{
	const char *fb = p->msg;	/* bytes waiting to go into the socket */
	size_t flen = p->msg ? p->msglen : 0;
	int cur = 0, fdone = 0, rdone = 0, heard = 0, wait = 0, unread = -1, step = 0;
	uint64_t moved = 0;	/* when the peer last read, while we wait for it */
	int live = lb.verbose && !lb.quiet && tty2();
	/* Socket to output without a copy through user space: spliced into
	 * the output when it is a pipe (spl 1), else through a pipe of our own
	 * (spl 2; 3.0 against 2.4 GB/s into /dev/null); 0: recv and write. */
	static int own[2] = { -1, -1 };
	int spl = 1, ospl = 1;
	/* (only where an exit hook must run: a blocked signal cannot stop a
	 * write(2) stuck on a stalled pipe) */
	int sfd = p->sigs ? lb_sigblock(0) : -1;

	if (lb_fcntl(p->out, F_GETPIPE_SZ, 0) < 0)	/* not a pipe */
		spl = own[0] >= 0 || !lb_pipe2(own, O_CLOEXEC) ? 2 : 0;
	/* A 1 MiB pipe on either side halves the wake-ups: measured 2.5 GB/s
	 * from cat's pipe against 1.5 with 64 KiB (where splicing that pipe
	 * into the socket managed 1.8-2.0). Not ours to grow? It stays as is.
	 * The files' sizes add up to -v's total (for % and ETA) where all of
	 * them are regular; a pipe or a device puts it out of range. */
	for (int i = 0; i < p->nfiles; i++) {
		struct lb_statx st;
		lb_fcntl(p->files[i], F_SETPIPE_SZ, BUFSZ);
		lb_statx(p->files[i], "", AT_EMPTY_PATH, &st);
		if (S_ISREG(st.mode))
			total += st.size;
		else
			total |= NOTOTAL;
	}
	if (spl)
		lb_fcntl(spl == 1 ? p->out : own[1], F_SETPIPE_SZ, BUFSZ);
	shown = p->t0 = lb_now_us();
	for (;;) {
		struct pollfd pf[3] = { [0] = { sfd, POLLIN, 0 } };	/* [0]: the signals */
		int n = 1, ii = -1, is = -1;
		short sev = rdone ? 0 : POLLIN;
		int held = p->gate && !heard;	/* lo-recv: answer once spoken to */

		if (flen && !held) {
			sev |= POLLOUT;
		} else if (!fdone && !held && !flen) {
			if (cur < p->nfiles) {
				pf[n].fd = p->files[cur];
				pf[n].events = POLLIN;
				ii = n++;
			} else if (p->unread && (wait = p->unread(p->sock)) != 0 && (wait > 0 || rdone)) {
				/* no FIN before the peer has read every byte: its EOF
				 * proves nothing if it half-closed first (and once our
				 * FIN is in, such a socket leaves the table unread) */
				uint64_t now = lb_now_us();
				if (wait < 0) {
					*where = "unproven";
					return EPROTO;
				}
				if (wait != unread)
					moved = now;
				unread = wait;
				if (lb.idle_ms >= 0 && now - moved >= (uint64_t)lb.idle_ms * 1000) {
					*where = "idle";
					return ETIMEDOUT;
				}
				/* a reader takes a few us: yield the CPU a few
				 * times first, then ask every 1, 2, 4... 32 ms */
				wait = ++step < 8 ? -1 : 1 << (step < 13 ? step - 8 : 5);
			} else {
				wait = step = 0;
				fdone = 1;
				if (p->shut && lb_shutdown(p->sock, SHUT_WR)) {
					/* a reset that came first leaves "not connected" */
					*where = "socket";
					return errno == ENOTCONN ? ECONNRESET : errno;
				}
			}
		}
		if (fdone && rdone)
			return 0;
		if (sev) {
			pf[n].fd = p->sock;
			pf[n].events = sev;
			is = n++;
		}
		if (wait < 0)
			syscall(SYS_sched_yield);
		int r = poll(pf, (nfds_t)n, wait ? wait < 0 ? 0 : wait : (int)lb.idle_ms);
		if (live)	/* (also while we wait for the peer to read) */
			progress(p);
		if (r == 0 && wait)
			continue;
		if (r == 0) {
			*where = "idle";
			return ETIMEDOUT;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*where = "poll";
			return errno;
		}
		if (pf[0].revents)
			lb_sigdie(lb_signext());
		if (ii >= 0 && pf[ii].revents) {
			ssize_t k = read(p->files[cur], fbuf, BUFSZ);
			if (k > 0) {
				fb = fbuf;
				flen = (size_t)k;
			} else if (k == 0) {
				if (p->files[cur] > 2)
					close(p->files[cur]);
				cur++;
			} else if (errno != EINTR && errno != EAGAIN) {
				p->inname = p->names ? p->names[cur] : "stdin";
				*where = "input";
				return errno;
			}
		}
		if (is < 0)
			continue;
		short rev = pf[is].revents;
		if (!rdone && (rev & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k;
			if (spl) {
				k = splice(p->sock, NULL, spl == 1 ? p->out : own[1], NULL, BUFSZ,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
				if (k < 0 && errno == EAGAIN && spl == 1) {
					/* the pipe is full: wait for its reader, not the socket;
					 * a reader stalled for -t is idleness too */
					struct pollfd po = { p->out, POLLOUT, 0 };
					if (!poll(&po, 1, (int)lb.idle_ms)) {
						*where = "idle";
						return ETIMEDOUT;
					}
					continue;
				}
				if (k < 0 && errno == EINVAL)
					spl = 0;
				if ((k < 0 && errno == EPIPE) || (k > 0 && spl == 2 && drain(own[0], p->out, (size_t)k, &ospl))) {
					*where = "output";
					return errno;
				}
			}
			if (!spl) {
				k = lb_recv(p->sock, rbuf, BUFSZ, MSG_DONTWAIT);
				if (k > 0 && lb_write_all(p->out, rbuf, (size_t)k)) {
					*where = "output";
					return errno;
				}
			}
			if (k > 0) {
				p->rcvd += (uint64_t)k;
				heard = 1;
			} else if (k == 0) {
				rdone = heard = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				*where = "socket";
				return errno;
			}
		}
		if (flen && (rev & (POLLOUT | POLLHUP | POLLERR))) {
			ssize_t k = lb_send(p->sock, fb, flen, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0) {
				fb += k;
				flen -= (size_t)k;
				p->sent += (uint64_t)k;
			} else if (errno != EAGAIN && errno != EINTR) {
				*where = "socket";
				return errno;
			}
		}
	}
}

/* The one way a transfer fails: name the side, the cause, the counts. */
_Noreturn void lb_pump_die(struct lb_pump *p, int err, const char *where)
{
	char why[200], t[24], *e;
	int code = EX_FAIL;
	const char *what = lb_addrstr(p->ep);

	if (!strcmp(where, "idle")) {
		code = EX_TIME;
		what = "idle timeout";
		e = lb_stpcpy(lb_stpcpy(lb_stpcpy(why, "nothing moved for "),
			lb_fixed(t, (uint64_t)lb.idle_ms, 1000, 3)), " s");
	} else {
		if (!strcmp(where, "output"))
			what = p->outname;
		else if (!strcmp(where, "input"))
			what = p->inname;
		e = lb_stpcpy(why, err == EPROTO ? "delivery unproven: the peer closed its side first, and "
			"the kernel's socket table cannot say if it read (load the inet_diag module)" : lb_strerror(err));
	}
	e = lb_stpcpy(lb_stpcpy(lb_stpcpy(e, " ("), lb_utoa(t, p->sent)), " bytes sent, ");
	lb_stpcpy(lb_stpcpy(e, lb_utoa(t, p->rcvd)), " received)");
	lb_die(code, what, why);
}
